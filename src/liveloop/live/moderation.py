"""Moderation of the live room: mutes, bans, kicks, deleted comments and (from `live.words`,
re-exported here) the sensitive-word list.

The room hub (live.hub) asks `find_active_restriction` when a viewer joins or comments and runs
every comment through the shop's `WordFilter` (`load_word_filter`, cached per process). Each
action here also tells the hubs at once through the outbox (`_moderation` messages, never
forwarded to viewers), so a muted viewer is muted on every process without a reload.

A kick is a ban from this session for `KICK_MINUTES`: the socket is closed and reconnecting in
the next minutes is refused with a reason, instead of the viewer simply coming straight back.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.events import service as events_service
from liveloop.live.models import (
    LiveRestriction,
    LiveSession,
    LiveStatus,
    RestrictionKind,
)
from liveloop.live.outbox import send_after_commit
from liveloop.live.words import (
    MASK_CHAR,
    FilterResult,
    WordFilter,
    add_words,
    delete_word,
    fold_text,
    get_word,
    list_words,
    load_word_filter,
    update_word,
)
from liveloop.shops.service import Actor, record_audit

KICK_MINUTES = 10
MAX_RESTRICTION_MINUTES = 366 * 24 * 60


# ----------------------------------------------------------------------------- restrictions


async def find_active_restriction(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int | None,
    customer_id: int | None,
    device_id: str | None,
    kind: RestrictionKind | str,
) -> LiveRestriction | None:
    """The restriction of `kind` in force now on this customer or device, for this session
    or shop-wide; the one lasting longest when several apply (None: not restricted)."""
    who = []
    if customer_id is not None:
        who.append(LiveRestriction.customer_id == customer_id)
    if device_id:
        who.append(LiveRestriction.device_id == device_id)
    if not who:
        return None
    where_session: ColumnElement[bool] = LiveRestriction.live_session_id.is_(None)
    if live_session_id is not None:
        where_session = or_(where_session, LiveRestriction.live_session_id == live_session_id)
    statement = scoped(LiveRestriction, shop_id).where(
        LiveRestriction.kind == RestrictionKind(kind).value,
        where_session,
        or_(*who),
        or_(LiveRestriction.until.is_(None), LiveRestriction.until > utcnow()),
    )
    found = list((await session.execute(statement)).scalars())
    if not found:
        return None
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return max(found, key=lambda r: r.until or far)


def restriction_text(restriction: LiveRestriction, *, shop_timezone: str = "") -> str:
    """What the restricted viewer is told (English; the hub sends codes the page translates)."""
    what = "muted" if restriction.kind == RestrictionKind.MUTE.value else "banned"
    where = "in this room" if restriction.live_session_id else "in this shop's rooms"
    until = (
        f" until {restriction.until.strftime('%Y-%m-%d %H:%M')} UTC"
        if restriction.until
        else " for good"
    )
    reason = f" ({restriction.reason})" if restriction.reason else ""
    return f"You are {what} {where}{until}{reason}."


async def _rooms_to_tell(
    session: AsyncSession, *, shop_id: int, live_session_id: int | None
) -> list[int]:
    """The live rooms a restriction applies to right now (its session, or all live ones)."""
    if live_session_id is not None:
        return [live_session_id]
    rows = await session.execute(
        scoped(LiveSession, shop_id, LiveSession.id).where(
            LiveSession.status == LiveStatus.LIVE.value
        )
    )
    return [row.id for row in rows]


async def _tell_hubs(session: AsyncSession, restriction: LiveRestriction, *, action: str) -> None:
    message = {
        "type": "_moderation",
        "action": action,
        "customer_id": restriction.customer_id,
        "device_id": restriction.device_id,
        "until": restriction.until.isoformat() if restriction.until else None,
        "reason": restriction.reason,
    }
    for room_id in await _rooms_to_tell(
        session, shop_id=restriction.shop_id, live_session_id=restriction.live_session_id
    ):
        send_after_commit(session, live_session_id=room_id, message=message)


async def restrict(
    *,
    session: AsyncSession,
    actor: Actor,
    kind: RestrictionKind | str,
    live_session_id: int | None,
    customer_id: int | None = None,
    device_id: str = "",
    minutes: int | None = None,
    reason: str = "",
    hub_action: str | None = None,
) -> LiveRestriction:
    """Mute or ban a customer and/or device, in one session or (live_session_id None) shop-wide,
    for `minutes` or (None) until lifted. `hub_action` overrides what the hubs are told
    (kick)."""
    kind = RestrictionKind(kind)
    device_id = (device_id or "").strip()
    if customer_id is None and not device_id:
        raise InvalidInput(
            "say whom to restrict: a customer_id, a device_id or both",
            code="restriction_target",
            field="customer_id",
        )
    if minutes is not None and not 1 <= minutes <= MAX_RESTRICTION_MINUTES:
        raise InvalidInput(
            f"minutes must lie between 1 and {MAX_RESTRICTION_MINUTES} (got {minutes}); "
            "leave it out for a restriction until lifted",
            code="restriction_minutes",
            field="minutes",
        )
    if live_session_id is not None:
        await get_scoped(
            session,
            LiveSession,
            shop_id=actor.shop_id,
            record_id=live_session_id,
            label="live session",
        )
    if customer_id is not None:
        from liveloop.customers import service as customers_service

        await customers_service.get_customer(
            session=session, shop_id=actor.shop_id, customer_id=customer_id
        )
    restriction = LiveRestriction(
        shop_id=actor.shop_id,
        live_session_id=live_session_id,
        kind=kind.value,
        customer_id=customer_id,
        device_id=device_id,
        until=utcnow() + dt.timedelta(minutes=minutes) if minutes else None,
        reason=reason.strip()[:200],
        created_by_id=actor.staff_id,
    )
    session.add(restriction)
    await session.flush()
    action = hub_action or kind.value
    await record_audit(
        session=session,
        actor=actor,
        action=f"live.{action}",
        target_type="live_restriction",
        target_id=restriction.id,
        details={
            "live_session_id": live_session_id,
            "customer_id": customer_id,
            "device_id": device_id,
            "minutes": minutes,
            "reason": restriction.reason,
        },
    )
    await _tell_hubs(session, restriction, action=action)
    if kind is RestrictionKind.BAN:
        from liveloop.live.mic import service as mic_service  # the mic reads moderation, too

        await mic_service.remove_banned(
            session=session,
            shop_id=actor.shop_id,
            live_session_id=live_session_id,
            customer_id=customer_id,
            device_id=device_id,
        )
    return restriction


async def mute(
    *,
    session: AsyncSession,
    actor: Actor,
    live_session_id: int | None,
    customer_id: int | None = None,
    device_id: str = "",
    minutes: int | None = 10,
    reason: str = "",
) -> LiveRestriction:
    return await restrict(
        session=session,
        actor=actor,
        kind=RestrictionKind.MUTE,
        live_session_id=live_session_id,
        customer_id=customer_id,
        device_id=device_id,
        minutes=minutes,
        reason=reason,
    )


async def ban(
    *,
    session: AsyncSession,
    actor: Actor,
    live_session_id: int | None,
    customer_id: int | None = None,
    device_id: str = "",
    minutes: int | None = None,
    reason: str = "",
) -> LiveRestriction:
    return await restrict(
        session=session,
        actor=actor,
        kind=RestrictionKind.BAN,
        live_session_id=live_session_id,
        customer_id=customer_id,
        device_id=device_id,
        minutes=minutes,
        reason=reason,
    )


async def kick(
    *,
    session: AsyncSession,
    actor: Actor,
    live_session_id: int,
    customer_id: int | None = None,
    device_id: str = "",
    reason: str = "",
) -> LiveRestriction:
    """Out of this room now, and refused for KICK_MINUTES if they come straight back."""
    return await restrict(
        session=session,
        actor=actor,
        kind=RestrictionKind.BAN,
        live_session_id=live_session_id,
        customer_id=customer_id,
        device_id=device_id,
        minutes=KICK_MINUTES,
        reason=reason,
        hub_action="kick",
    )


async def lift_restriction(
    *, session: AsyncSession, actor: Actor, restriction_id: int
) -> LiveRestriction:
    """End a mute or ban now (the row stays, ended, for the record)."""
    restriction = await get_scoped(
        session,
        LiveRestriction,
        shop_id=actor.shop_id,
        record_id=restriction_id,
        label="restriction",
    )
    now = utcnow()
    if restriction.until is not None and restriction.until <= now:
        raise Conflict(
            f"restriction {restriction_id} already ended at {restriction.until:%Y-%m-%d %H:%M} UTC",
            code="restriction_ended",
            field="id",
        )
    restriction.until = now
    await session.flush()
    action = "unmute" if restriction.kind == RestrictionKind.MUTE.value else "unban"
    await record_audit(
        session=session,
        actor=actor,
        action=f"live.{action}",
        target_type="live_restriction",
        target_id=restriction.id,
        details={"customer_id": restriction.customer_id, "device_id": restriction.device_id},
    )
    await _tell_hubs(session, restriction, action=action)
    return restriction


async def list_restrictions(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int | None = None,
    active_only: bool = True,
    limit: int = 200,
) -> list[LiveRestriction]:
    """Newest first; with a session id, that session's and the shop-wide ones."""
    statement = scoped(LiveRestriction, shop_id).order_by(LiveRestriction.id.desc()).limit(limit)
    if live_session_id is not None:
        statement = statement.where(
            or_(
                LiveRestriction.live_session_id.is_(None),
                LiveRestriction.live_session_id == live_session_id,
            )
        )
    if active_only:
        statement = statement.where(
            or_(LiveRestriction.until.is_(None), LiveRestriction.until > utcnow())
        )
    return list((await session.execute(statement)).scalars())


async def purge_ended_restrictions(
    *, session: AsyncSession, shop_id: int, before: dt.datetime
) -> int:
    """Drop restrictions that ended before `before` (housekeeping; the audit log keeps them)."""
    result = await session.execute(
        delete(LiveRestriction).where(
            LiveRestriction.shop_id == shop_id,
            LiveRestriction.until.is_not(None),
            LiveRestriction.until < before,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------- comments


async def delete_comment(
    *, session: AsyncSession, actor: Actor, live_session_id: int, comment_id: str, text: str = ""
) -> None:
    """Take a comment off every screen in the room and record who did it."""
    comment_id = str(comment_id).strip()
    if not comment_id or len(comment_id) > 64:
        raise InvalidInput(
            "comment_id must be the id of a comment in the room (1 to 64 characters)",
            code="comment_id",
            field="comment_id",
        )
    await get_scoped(
        session, LiveSession, shop_id=actor.shop_id, record_id=live_session_id, label="live session"
    )
    await events_service.ingest_events(
        session=session,
        shop_id=actor.shop_id,
        items=[
            {
                "type": "live_comment_deleted",
                "anonymous_id": f"staff:{actor.staff_id}" if actor.staff_id else "api",
                "live_session_id": live_session_id,
                "properties": {"comment_id": comment_id, "by": actor.label, "text": text[:500]},
            }
        ],
        mark_customers_active=False,
    )
    await record_audit(
        session=session,
        actor=actor,
        action="live.comment_delete",
        target_type="live_session",
        target_id=live_session_id,
        details={"comment_id": comment_id},
    )
    send_after_commit(
        session,
        live_session_id=live_session_id,
        message={"type": "comment_deleted", "id": comment_id},
    )


__all__ = [
    "KICK_MINUTES",
    "MASK_CHAR",
    "FilterResult",
    "WordFilter",
    "add_words",
    "ban",
    "delete_comment",
    "delete_word",
    "find_active_restriction",
    "fold_text",
    "get_word",
    "kick",
    "lift_restriction",
    "list_restrictions",
    "list_words",
    "load_word_filter",
    "mute",
    "restrict",
    "restriction_text",
    "update_word",
]
