"""Who comes to a live session and through what: reservations, entry links, share links and
the viewer tokens that carry it all into the room. Re-exported by `live.service`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Page, get_scoped, paginate, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from liveloop.core.settings import Settings
from liveloop.customers import service as customers_service
from liveloop.live.models import (
    LiveEntryLink,
    LiveReservation,
    LiveSession,
    LiveShare,
    LiveStatus,
    LiveViewer,
)
from liveloop.live.schemas import EntryLinkCreate
from liveloop.live.viewers import (
    ROLE_STAFF,
    ViewerClaims,
    sign_viewer_token,
)
from liveloop.shops import service as shops_service
from liveloop.shops.service import Actor, record_audit

LINK_CODE_LENGTH = 8
_DIGIT_RUN = re.compile(r"\d{5,}")
MAX_NAME = 12


def _new_link_code() -> str:
    return secrets.token_urlsafe(6)[:LINK_CODE_LENGTH]


# ------------------------------------------------------------------------------- names


def _four_digits(seed: str) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % 10_000).zfill(4)


def guest_name(device_id: str) -> str:
    """'观众1234': the same device keeps the same name from one visit to the next."""
    return f"观众{_four_digits('d:' + device_id)}"


def viewer_display_name(display_name: str | None, *, seed: str) -> str:
    """A name safe to show to the whole room: digit runs (a phone number typed as a nickname)
    are masked, long names cut; no name at all becomes '观众1234'."""
    name = " ".join((display_name or "").split())
    if not name:
        return f"观众{_four_digits(seed)}"
    name = _DIGIT_RUN.sub(lambda m: m.group()[:2] + "*" * (len(m.group()) - 2), name)
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


# ------------------------------------------------------------------------------ tokens


def _check_joinable(live_session: LiveSession) -> None:
    if live_session.status == LiveStatus.CANCELLED.value:
        raise Conflict(
            f"live session {live_session.id} ({live_session.title}) was cancelled; "
            "there is no room to join",
            code="live_session_cancelled",
            field="live_session_id",
        )


async def _attribution(
    session: AsyncSession, live_session: LiveSession, *, source_code: str, share_code: str
) -> tuple[str, str]:
    """Keep only codes that belong to this session: a stale or foreign link still lets the
    viewer in, it just does not attribute them."""
    source = ""
    if source_code:
        link = await get_entry_link(session=session, live_session=live_session, code=source_code)
        source = link.code if link is not None else ""
    share = ""
    if share_code:
        found = await resolve_share(session=session, code=share_code)
        share = found.code if found is not None and found.live_session_id == live_session.id else ""
    return source, share


async def _check_not_banned(
    session: AsyncSession, live_session: LiveSession, *, customer_id: int | None, device_id: str
) -> None:
    """A banned (or just kicked) viewer learns why before the page even opens the socket."""
    from liveloop.live import moderation  # (moderation does not import this module)

    ban = await moderation.find_active_restriction(
        session=session,
        shop_id=live_session.shop_id,
        live_session_id=live_session.id,
        customer_id=customer_id,
        device_id=device_id,
        kind="ban",
    )
    if ban is not None:
        raise PermissionDenied(moderation.restriction_text(ban), code="banned", field="device_id")


async def issue_viewer_token(
    *,
    session: AsyncSession,
    settings: Settings,
    live_session: LiveSession,
    customer_id: int | None = None,
    identity: tuple[str, str] | None = None,
    device_id: str | None = None,
    nickname: str | None = None,
    source_code: str = "",
    share_code: str = "",
) -> tuple[str, ViewerClaims]:
    """A signed token for one viewer: a known customer, an identity (resolved, a new customer
    when unknown) or a guest device. Returns (token, claims)."""
    _check_joinable(live_session)
    shop_id = live_session.shop_id
    if identity is not None:
        channel, value = identity
        resolved = await customers_service.resolve_identities(
            session=session, shop_id=shop_id, identities=[(channel, value)]
        )
        customer_id = resolved[(channel, value)]
    name: str
    if customer_id is not None:
        customer = await customers_service.get_customer(
            session=session, shop_id=shop_id, customer_id=customer_id
        )
        if customer.status != "active":
            merged = f" into customer {customer.merged_into_id}" if customer.merged_into_id else ""
            raise Conflict(
                f"customer {customer_id} is {customer.status}{merged}; a token is issued only "
                "for an active customer",
                code=f"customer_{customer.status}",
                field="customer_id",
            )
        name = viewer_display_name(nickname or customer.display_name, seed=f"c:{customer.id}")
    elif device_id:
        name = viewer_display_name(nickname, seed=f"d:{device_id}")
    else:
        raise InvalidInput(
            "give exactly one of customer_id, identity or device_id",
            code="viewer_required",
            field="customer_id",
        )
    await _check_not_banned(
        session, live_session, customer_id=customer_id, device_id=device_id or ""
    )
    source, share = await _attribution(
        session, live_session, source_code=source_code, share_code=share_code
    )
    claims = ViewerClaims(
        shop_id=shop_id,
        live_session_id=live_session.id,
        customer_id=customer_id,
        device_id=device_id or "",
        name=name,
        source_code=source,
        share_code=share,
    )
    return sign_viewer_token(settings, claims), claims


def issue_staff_token(*, settings: Settings, live_session: LiveSession, actor: Actor) -> str:
    """The anchor console's token: role staff (may moderate; shown with a badge)."""
    if actor.shop_id != live_session.shop_id or actor.staff_id is None:
        raise NotFound(
            f"live session {live_session.id} was not found",
            code="live_session_not_found",
            field="id",
        )
    _check_joinable(live_session)
    claims = ViewerClaims(
        shop_id=live_session.shop_id,
        live_session_id=live_session.id,
        customer_id=None,
        device_id=f"staff-{actor.staff_id}",
        name=actor.label.split(" <", 1)[0][:20],
        role=ROLE_STAFF,
        staff_id=actor.staff_id,
    )
    return sign_viewer_token(settings, claims)


# ------------------------------------------------------------------------ reservations


async def reserve(
    *,
    session: AsyncSession,
    live_session: LiveSession,
    customer_id: int,
    source_code: str = "",
) -> LiveReservation:
    """预约 a scheduled session; reserving twice returns the first reservation."""
    if live_session.status != LiveStatus.SCHEDULED.value:
        hint = "join it now" if live_session.status == LiveStatus.LIVE.value else "it is over"
        raise Conflict(
            f"live session {live_session.id} is {live_session.status}; only a scheduled session "
            f"takes reservations ({hint})",
            code="not_reservable",
            field="live_session_id",
        )
    await customers_service.get_active_customer(
        session=session, shop_id=live_session.shop_id, customer_id=customer_id
    )
    existing = await _reservation_of(session, live_session, customer_id)
    if existing is not None:
        return existing
    reservation = LiveReservation(
        shop_id=live_session.shop_id,
        live_session_id=live_session.id,
        customer_id=customer_id,
        source_code=source_code[:32],
    )
    try:
        async with session.begin_nested():
            session.add(reservation)
            await session.flush()
    except IntegrityError:
        # The same customer reserved at the same moment in another request: that one counts.
        found = await _reservation_of(session, live_session, customer_id)
        assert found is not None
        return found
    return reservation


async def bulk_reserve(
    *,
    session: AsyncSession,
    live_session: LiveSession,
    customer_ids: Sequence[int],
    source_code: str = "",
) -> int:
    """Reserve for many customers at once (an imported list, the demo); customers of other
    shops and repeated reservations are left out. Returns how many were added."""
    if live_session.status != LiveStatus.SCHEDULED.value:
        raise Conflict(
            f"live session {live_session.id} is {live_session.status}; only a scheduled session "
            "takes reservations",
            code="not_reservable",
            field="live_session_id",
        )
    known = await customers_service.get_customers(
        session=session, shop_id=live_session.shop_id, customer_ids=customer_ids
    )
    rows = [
        {
            "shop_id": live_session.shop_id,
            "live_session_id": live_session.id,
            "customer_id": customer.id,
            "source_code": source_code[:32],
            "created_at": utcnow(),
        }
        for customer in known
        if customer.status == "active"
    ]
    if not rows:
        return 0
    ids = {"shop_id": live_session.shop_id, "live_session_id": live_session.id}
    before = await count_reservations(session=session, **ids)
    statement = customers_service.insert_ignoring_duplicates(session, LiveReservation.__table__)
    await session.execute(statement, rows)
    # (rowcount of a many-row insert is not reliable across drivers: count instead)
    return await count_reservations(session=session, **ids) - before


async def _reservation_of(
    session: AsyncSession, live_session: LiveSession, customer_id: int
) -> LiveReservation | None:
    return (
        await session.execute(
            scoped(LiveReservation, live_session.shop_id).where(
                LiveReservation.live_session_id == live_session.id,
                LiveReservation.customer_id == customer_id,
            )
        )
    ).scalar_one_or_none()


async def cancel_reservation(
    *, session: AsyncSession, live_session: LiveSession, customer_id: int
) -> bool:
    """True when there was a reservation to cancel."""
    existing = await _reservation_of(session, live_session, customer_id)
    if existing is None:
        return False
    await session.delete(existing)
    await session.flush()
    return True


async def list_reservations(
    *, session: AsyncSession, shop_id: int, live_session_id: int, page: int = 1, per_page: int = 50
) -> Page[LiveReservation]:
    statement = (
        scoped(LiveReservation, shop_id)
        .where(LiveReservation.live_session_id == live_session_id)
        .order_by(LiveReservation.id.desc())
    )
    return await paginate(session, statement, page=page, per_page=per_page)


async def count_reservations(*, session: AsyncSession, shop_id: int, live_session_id: int) -> int:
    statement = scoped(LiveReservation, shop_id, func.count()).where(
        LiveReservation.live_session_id == live_session_id
    )
    return int((await session.execute(statement)).scalar_one())


async def reservation_counts(
    *, session: AsyncSession, shop_id: int, live_session_ids: Sequence[int]
) -> dict[int, int]:
    """Reservations per session for a list of sessions, in one query."""
    if not live_session_ids:
        return {}
    statement = (
        scoped(LiveReservation, shop_id, LiveReservation.live_session_id, func.count())
        .where(LiveReservation.live_session_id.in_(list(live_session_ids)))
        .group_by(LiveReservation.live_session_id)
    )
    counts = {session_id: 0 for session_id in live_session_ids}
    counts.update({row[0]: int(row[1]) for row in await session.execute(statement)})
    return counts


async def reservation_customer_ids(
    *, session: AsyncSession, shop_id: int, live_session_id: int, not_reminded_only: bool = False
) -> list[int]:
    """The reminder audience (for outreach), in reservation order."""
    statement = (
        scoped(LiveReservation, shop_id, LiveReservation.customer_id)
        .where(LiveReservation.live_session_id == live_session_id)
        .order_by(LiveReservation.id)
    )
    if not_reminded_only:
        statement = statement.where(LiveReservation.reminded_at.is_(None))
    return [row.customer_id for row in await session.execute(statement)]


async def mark_reminded(
    *, session: AsyncSession, shop_id: int, live_session_id: int, customer_ids: Sequence[int]
) -> int:
    """Record that these customers were reminded (outreach calls this after sending), so a
    second reminder run skips them. Returns how many reservations were marked."""
    if not customer_ids:
        return 0
    result = await session.execute(
        update(LiveReservation)
        .where(
            LiveReservation.shop_id == shop_id,
            LiveReservation.live_session_id == live_session_id,
            LiveReservation.customer_id.in_(set(customer_ids)),
            LiveReservation.reminded_at.is_(None),
        )
        .values(reminded_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def customer_names(
    *, session: AsyncSession, shop_id: int, customer_ids: list[int]
) -> dict[int, str]:
    customers = await customers_service.get_customers(
        session=session, shop_id=shop_id, customer_ids=customer_ids
    )
    return {c.id: viewer_display_name(c.display_name, seed=f"c:{c.id}") for c in customers}


# ------------------------------------------------------------------------- entry links


def entry_url(live_session: LiveSession, link: LiveEntryLink) -> str:
    return f"/live/{live_session.code}?src={link.code}"


async def create_entry_link(
    *, session: AsyncSession, actor: Actor, live_session: LiveSession, data: EntryLinkCreate
) -> LiveEntryLink:
    if data.staff_id is not None:
        staff = await shops_service.get_active_staff(session=session, staff_id=data.staff_id)
        if staff is None or staff.shop_id != actor.shop_id:
            raise InvalidInput(
                f"staff {data.staff_id} is not an active staff member of this shop",
                code="staff_not_found",
                field="staff_id",
            )
    if data.customer_id is not None:
        await customers_service.get_active_customer(
            session=session, shop_id=actor.shop_id, customer_id=data.customer_id
        )
    link = LiveEntryLink(
        shop_id=actor.shop_id,
        live_session_id=live_session.id,
        code=_new_link_code(),
        channel=data.channel.value,
        label=data.label,
        staff_id=data.staff_id,
        customer_id=data.customer_id,
    )
    session.add(link)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="live.link_create",
        target_type="live_entry_link",
        target_id=link.id,
        details={"live_session_id": live_session.id, "channel": link.channel, "code": link.code},
    )
    return link


async def list_entry_links(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> list[LiveEntryLink]:
    statement = (
        scoped(LiveEntryLink, shop_id)
        .where(LiveEntryLink.live_session_id == live_session_id)
        .order_by(LiveEntryLink.id)
    )
    return list((await session.execute(statement)).scalars())


async def get_entry_link(
    *, session: AsyncSession, live_session: LiveSession, code: str
) -> LiveEntryLink | None:
    if not code or len(code) > 32:
        return None
    return (
        await session.execute(
            scoped(LiveEntryLink, live_session.shop_id).where(
                LiveEntryLink.live_session_id == live_session.id, LiveEntryLink.code == code
            )
        )
    ).scalar_one_or_none()


async def delete_entry_link(
    *, session: AsyncSession, actor: Actor, live_session_id: int, link_id: int
) -> None:
    link = await get_scoped(
        session, LiveEntryLink, shop_id=actor.shop_id, record_id=link_id, label="entry link"
    )
    if link.live_session_id != live_session_id:
        raise NotFound(f"entry link {link_id} was not found", code="entry_link_not_found")
    await session.delete(link)
    await record_audit(
        session=session,
        actor=actor,
        action="live.link_delete",
        target_type="live_entry_link",
        target_id=link_id,
        details={"code": link.code},
    )


# ------------------------------------------------------------------------------ shares


async def create_share(
    *, session: AsyncSession, live_session: LiveSession, claims: ViewerClaims
) -> str:
    """The viewer's share code for this session (the same one each time they share)."""
    if claims.shop_id != live_session.shop_id or claims.live_session_id != live_session.id:
        raise InvalidInput(
            "the viewer token is for another live room; reload the page",
            code="token_wrong_room",
            field="token",
        )
    statement = scoped(LiveShare, live_session.shop_id).where(
        LiveShare.live_session_id == live_session.id
    )
    if claims.customer_id is not None:
        statement = statement.where(LiveShare.sharer_customer_id == claims.customer_id)
    else:
        statement = statement.where(
            LiveShare.sharer_customer_id.is_(None), LiveShare.sharer_device_id == claims.device_id
        )
    existing = (await session.execute(statement.limit(1))).scalar_one_or_none()
    if existing is not None:
        return existing.code
    share = LiveShare(
        shop_id=live_session.shop_id,
        live_session_id=live_session.id,
        code=_new_link_code(),
        sharer_customer_id=claims.customer_id,
        sharer_device_id=claims.device_id[:64],
    )
    session.add(share)
    await session.flush()
    return share.code


async def resolve_share(*, session: AsyncSession, code: str) -> LiveShare | None:
    if not code or len(code) > 32:
        return None
    return (
        await session.execute(select(LiveShare).where(LiveShare.code == code))
    ).scalar_one_or_none()


async def sharer_ranking(
    *, session: AsyncSession, shop_id: int, live_session_id: int, limit: int = 20
) -> list[dict[str, Any]]:
    """Customers who brought the most viewers into the session (from live_viewers)."""
    count = func.count().label("viewers")
    statement = (
        scoped(LiveViewer, shop_id, LiveViewer.referrer_customer_id, count)
        .where(
            LiveViewer.live_session_id == live_session_id,
            LiveViewer.referrer_customer_id.is_not(None),
        )
        .group_by(LiveViewer.referrer_customer_id)
        .order_by(count.desc(), LiveViewer.referrer_customer_id)
        .limit(limit)
    )
    rows = list(await session.execute(statement))
    names = await customer_names(
        session=session, shop_id=shop_id, customer_ids=[r.referrer_customer_id for r in rows]
    )
    return [
        {
            "customer_id": r.referrer_customer_id,
            "name": names.get(r.referrer_customer_id, ""),
            "viewers": r.viewers,
        }
        for r in rows
    ]
