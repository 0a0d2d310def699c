"""Live sessions: schedule, edit, line-up, start/end/cancel, and the room state a viewer sees.

Every change a room must see (start, end, and in `live.controls` announcement, pinned, product
push, comments switch) updates the session row and sends its room message after commit
(live.outbox); the row is what `room_snapshot` gives a viewer who joins later. The line-up's
cards live in `live.lineups`, audience (reservations, entry and share links, viewer tokens) in
`live.audience`, moderation in `live.moderation`; the line-up and audience functions are
re-exported here so callers write `live_service.issue_viewer_token(...)`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog.media import MAX_IMAGE_BYTES, sniff_image_type, store_image_file
from liveloop.core.database import Page, after_commit, get_scoped, paginate, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from liveloop.live.audience import (
    bulk_reserve,
    cancel_reservation,
    count_reservations,
    create_entry_link,
    create_share,
    delete_entry_link,
    entry_url,
    get_entry_link,
    issue_staff_token,
    issue_viewer_token,
    list_entry_links,
    list_reservations,
    mark_reminded,
    reservation_counts,
    reservation_customer_ids,
    reserve,
    resolve_share,
    sharer_ranking,
    viewer_display_name,
)
from liveloop.live.lineups import (
    check_products,
    get_lineup,
    lineup_ids,
    lineup_ids_of,
    product_card,
    pushed_card,
    replace_lineup,
)
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.live.outbox import send_after_commit
from liveloop.live.schemas import LiveSessionCreate, LiveSessionUpdate
from liveloop.shops import service as shops_service
from liveloop.shops.permissions import Permission
from liveloop.shops.service import Actor, record_audit

__all__ = [
    "bulk_reserve",
    "cancel_live_session",
    "cancel_reservation",
    "check_may_run",
    "check_open",
    "count_reservations",
    "create_entry_link",
    "create_live_session",
    "create_share",
    "delete_entry_link",
    "end_live_session",
    "entry_url",
    "get_by_code",
    "get_entry_link",
    "get_lineup",
    "get_live_session",
    "issue_staff_token",
    "issue_viewer_token",
    "lineup_ids",
    "lineup_ids_of",
    "list_entry_links",
    "list_live_sessions",
    "list_reservations",
    "mark_reminded",
    "product_card",
    "reservation_counts",
    "reservation_customer_ids",
    "reserve",
    "resolve_share",
    "room_snapshot",
    "set_cover",
    "set_lineup",
    "sharer_ranking",
    "start_live_session",
    "update_live_session",
    "viewer_display_name",
]

CODE_LENGTH = 10
# Which transitions are allowed, and the verb that names each target state.
TRANSITIONS: dict[str, frozenset[str]] = {
    LiveStatus.SCHEDULED.value: frozenset({LiveStatus.LIVE.value, LiveStatus.CANCELLED.value}),
    LiveStatus.LIVE.value: frozenset({LiveStatus.ENDED.value}),
    LiveStatus.ENDED.value: frozenset(),
    LiveStatus.CANCELLED.value: frozenset(),
}
VERBS = {"live": "started", "ended": "ended", "cancelled": "cancelled"}
OPEN_STATES = frozenset({LiveStatus.SCHEDULED.value, LiveStatus.LIVE.value})


def new_room_code() -> str:
    """10 URL-safe characters (60 random bits): unguessable, short enough to type or share."""
    return secrets.token_urlsafe(8)[:CODE_LENGTH]


def cover_url(live_session: LiveSession) -> str | None:
    return f"/media/{live_session.cover_path}" if live_session.cover_path else None


# ---------------------------------------------------------------------------------- reads


async def get_live_session(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> LiveSession:
    return await get_scoped(
        session, LiveSession, shop_id=shop_id, record_id=live_session_id, label="live session"
    )


async def get_by_code(*, session: AsyncSession, code: str) -> LiveSession:
    """The session behind a public room code (any shop: the code is the capability)."""
    found = None
    if code and len(code) <= 16:
        found = (
            await session.execute(select(LiveSession).where(LiveSession.code == code))
        ).scalar_one_or_none()
    if found is None:
        raise NotFound(
            f"no live room has the code {code[:16]!r}; check the link",
            code="live_session_not_found",
            field="code",
        )
    return found


async def list_live_sessions(
    *,
    session: AsyncSession,
    shop_id: int,
    status: LiveStatus | str | None = None,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[LiveSession]:
    """Live ones first, then by planned start, the latest first."""
    statement = scoped(LiveSession, shop_id).order_by(
        (LiveSession.status == LiveStatus.LIVE.value).desc(),
        LiveSession.planned_start.desc(),
        LiveSession.id.desc(),
    )
    if status:
        statement = statement.where(LiveSession.status == LiveStatus(status).value)
    if starts_from is not None:
        statement = statement.where(LiveSession.planned_start >= starts_from)
    if starts_before is not None:
        statement = statement.where(LiveSession.planned_start < starts_before)
    return await paginate(session, statement, page=page, per_page=per_page)


async def room_snapshot(
    *, session: AsyncSession, live_session: LiveSession, with_lineup: bool = True
) -> dict[str, Any]:
    """The "state" of a snapshot message: what a viewer joining now needs to draw the room.
    `online` is the hub's figure (0 here: the database does not know who is connected)."""
    state: dict[str, Any] = {
        "status": live_session.status,
        "comments_enabled": live_session.comments_enabled,
        "announcement": live_session.announcement,
        "pinned": live_session.pinned,
        "product": await pushed_card(session, live_session),
        "like_total": live_session.like_total,
        "online": 0,
        "peak": live_session.peak_viewers,
        "total": live_session.total_viewers,
    }
    if with_lineup:
        lineup = await get_lineup(session=session, live_session=live_session)
        state["lineup"] = [product_card(p) for p in lineup]
    return state


# --------------------------------------------------------------------------------- writes


async def _check_anchor(session: AsyncSession, *, shop_id: int, anchor_id: int | None) -> None:
    if anchor_id is None:
        return
    staff = await shops_service.get_active_staff(session=session, staff_id=anchor_id)
    if staff is None or staff.shop_id != shop_id:
        raise InvalidInput(
            f"anchor {anchor_id} is not an active staff member of this shop",
            code="anchor_not_found",
            field="anchor_id",
        )


async def create_live_session(
    *, session: AsyncSession, actor: Actor, data: LiveSessionCreate
) -> LiveSession:
    await _check_anchor(session, shop_id=actor.shop_id, anchor_id=data.anchor_id)
    product_ids = await check_products(
        session, shop_id=actor.shop_id, product_ids=data.product_ids, field="product_ids"
    )
    live_session = LiveSession(
        shop_id=actor.shop_id,
        code=new_room_code(),
        title=data.title,
        anchor_id=data.anchor_id,
        hls_url=data.hls_url,
        notice=data.notice,
        planned_start=data.planned_start,
        planned_end=data.planned_end,
    )
    session.add(live_session)
    await session.flush()
    await replace_lineup(session, live_session, product_ids)
    await record_audit(
        session=session,
        actor=actor,
        action="live.create",
        target_type="live_session",
        target_id=live_session.id,
        details={"title": live_session.title, "planned_start": data.planned_start.isoformat()},
    )
    return live_session


def check_open(live_session: LiveSession, doing: str) -> None:
    if live_session.status not in OPEN_STATES:
        raise Conflict(
            f"live session {live_session.id} has {VERBS.get(live_session.status, 'ended')}; "
            f"it cannot {doing} any more",
            code=f"live_session_{live_session.status}",
            field="status",
        )


async def update_live_session(
    *, session: AsyncSession, actor: Actor, live_session_id: int, data: LiveSessionUpdate
) -> LiveSession:
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_open(live_session, "be edited")
    changes = data.model_dump(exclude_unset=True)
    for name in ("title", "planned_start"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be empty", code="required", field=name)
    if "anchor_id" in changes:
        await _check_anchor(session, shop_id=actor.shop_id, anchor_id=changes["anchor_id"])
    for name in ("hls_url", "notice"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    start = changes.get("planned_start", live_session.planned_start)
    end = changes.get("planned_end", live_session.planned_end)
    if end is not None and end <= start:
        raise InvalidInput(
            f"planned_end ({end:%Y-%m-%d %H:%M} UTC) must come after planned_start "
            f"({start:%Y-%m-%d %H:%M} UTC)",
            code="planned_end_before_start",
            field="planned_end",
        )
    for name, value in changes.items():
        setattr(live_session, name, value)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="live.update",
        target_type="live_session",
        target_id=live_session.id,
        details={name: str(value) for name, value in changes.items()},
    )
    if {"hls_url", "notice", "title"} & set(changes) and live_session.status == "live":
        send_after_commit(
            session, live_session_id=live_session.id, message={"type": "_room_state_changed"}
        )
    return live_session


async def set_lineup(
    *, session: AsyncSession, actor: Actor, live_session_id: int, product_ids: Sequence[int]
) -> list[int]:
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_open(live_session, "change its line-up")
    ordered = await check_products(
        session, shop_id=actor.shop_id, product_ids=product_ids, field="product_ids"
    )
    await replace_lineup(session, live_session, ordered)
    await record_audit(
        session=session,
        actor=actor,
        action="live.lineup",
        target_type="live_session",
        target_id=live_session.id,
        details={"product_ids": ordered},
    )
    send_after_commit(
        session, live_session_id=live_session.id, message={"type": "_room_state_changed"}
    )
    return ordered


async def set_cover(
    *, session: AsyncSession, actor: Actor, live_session_id: int, content: bytes, media_dir: Path
) -> LiveSession:
    """Store an uploaded poster (png/jpeg/webp/gif, ≤ 5 MB) the way product images are stored."""
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    if len(content) > MAX_IMAGE_BYTES:
        raise InvalidInput(
            f"the image is {len(content) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_IMAGE_BYTES // 1024 // 1024} MB",
            code="image_too_large",
            field="cover",
        )
    kind = sniff_image_type(content)
    if kind is None:
        raise InvalidInput(
            "the cover is not a PNG, JPEG, WebP or GIF image", code="image_type", field="cover"
        )
    path = await asyncio.to_thread(
        store_image_file, media_dir, shop_id=actor.shop_id, content=content, extension=kind[1]
    )
    old = live_session.cover_path
    live_session.cover_path = path
    await session.flush()
    if old:
        from liveloop.catalog.media import remove_image_files

        after_commit(session, lambda: remove_image_files(media_dir, [old]))
    await record_audit(
        session=session,
        actor=actor,
        action="live.cover",
        target_type="live_session",
        target_id=live_session.id,
    )
    return live_session


# ---------------------------------------------------------------------------- transitions


def check_may_run(actor: Actor, live_session: LiveSession) -> None:
    """The session's anchor, or staff who manage live sessions."""
    if actor.can(Permission.LIVE_MANAGE):
        return
    if actor.staff_id is not None and actor.staff_id == live_session.anchor_id:
        return
    raise PermissionDenied(
        f"{actor.label} is neither the anchor of live session {live_session.id} nor allowed "
        f"to manage live sessions",
        code="permission_denied",
    )


async def _transition(
    session: AsyncSession, *, actor: Actor, live_session_id: int, target: LiveStatus
) -> LiveSession:
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_may_run(actor, live_session)
    current = live_session.status
    if target.value not in TRANSITIONS[current]:
        allowed = sorted(TRANSITIONS[current])
        hint = (
            f"from {current} it can only be {' or '.join(VERBS[a] for a in allowed)}"
            if (allowed)
            else f"it is {current} for good"
        )
        raise Conflict(
            f"live session {live_session.id} is {current}; it cannot be {VERBS[target.value]} "
            f"({hint})",
            code="invalid_transition",
            field="status",
        )
    now = utcnow()
    live_session.status = target.value
    if target is LiveStatus.LIVE:
        live_session.started_at = now
    elif target is LiveStatus.ENDED:
        live_session.ended_at = now
        live_session.pushed_product_id = None
        from liveloop.analytics.tasks import report_when_ended  # analytics reads live, not back

        report_when_ended(session, shop_id=live_session.shop_id, live_session_id=live_session.id)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action=f"live.{target.value}",
        target_type="live_session",
        target_id=live_session.id,
        details={"from": current, "to": target.value},
    )
    send_after_commit(
        session,
        live_session_id=live_session.id,
        message={
            "type": "room_state",
            "status": live_session.status,
            "comments_enabled": live_session.comments_enabled,
        },
    )
    return live_session


async def start_live_session(
    *, session: AsyncSession, actor: Actor, live_session_id: int
) -> LiveSession:
    return await _transition(
        session, actor=actor, live_session_id=live_session_id, target=LiveStatus.LIVE
    )


async def end_live_session(
    *, session: AsyncSession, actor: Actor, live_session_id: int
) -> LiveSession:
    return await _transition(
        session, actor=actor, live_session_id=live_session_id, target=LiveStatus.ENDED
    )


async def cancel_live_session(
    *, session: AsyncSession, actor: Actor, live_session_id: int
) -> LiveSession:
    return await _transition(
        session, actor=actor, live_session_id=live_session_id, target=LiveStatus.CANCELLED
    )
