"""Channel codes (活码): define, route a scan to a staff member, record arrivals, statistics.

Routing never reads-then-writes a counter. Each scan moves counters by conditional UPDATEs on
`channel_code_counters` (one row per code, shop-local day and staff link; `staff_link_id` 0 is
the code itself): a staff link takes a scan only if `assigned < daily_cap` in the same
statement, and round robin takes its turn from `UPDATE channel_codes SET rr_cursor =
rr_cursor + 1 ... RETURNING rr_cursor`. Under concurrency every scan gets a distinct turn, so
n scans over k staff give each staff n/k (± 1).

An arrival (the customer really added the staff or joined the group, confirmed by the WeCom
`add_external_contact` callback with State = the code, or by the signed join callback) is
recorded once per code and customer: the customer's source_channel becomes the code when it
had none (or the customer was created by this arrival), the code's tags are applied, a
`channel_code_arrival` event and, when the code has a welcome message, a `welcome_due` event
are written (the outreach domain sends welcomes), and the code's community is joined.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers import service as customers_service
from liveloop.customers import tags as tags_service
from liveloop.customers.channel_codes.models import (
    ChannelCode,
    ChannelCodeArrival,
    ChannelCodeCounter,
    ChannelCodeStaff,
    WecomCallbackSettings,
)
from liveloop.customers.channel_codes.schemas import (
    ChannelCodeIn,
    ChannelCodeUpdate,
    StaffLinkIn,
    WecomSettingsIn,
    check_staff,
)
from liveloop.customers.channel_codes.wecom_callback import WecomCrypto
from liveloop.customers.models import Customer, Tag

_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: typed from a poster
CODE_LENGTH = 8
SOURCE_PREFIX = "code:"  # customers.source_channel of a customer who came through a code
ARRIVAL_EVENT = "channel_code_arrival"
SCAN_EVENT = "channel_code_scan"
WELCOME_EVENT = "welcome_due"


def new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


def landing_path(code: ChannelCode) -> str:
    return f"/c/{code.code}"


# ------------------------------------------------------------------------------ define


async def get_code(*, session: AsyncSession, shop_id: int, code_id: int) -> ChannelCode:
    return await get_scoped(
        session, ChannelCode, shop_id=shop_id, record_id=code_id, label="channel code"
    )


async def get_code_by_code(*, session: AsyncSession, code: str) -> ChannelCode:
    """The code behind a public landing link (any shop: the code carries the shop)."""
    found = (
        await session.execute(select(ChannelCode).where(ChannelCode.code == code.strip().lower()))
    ).scalar_one_or_none()
    if found is None or found.archived_at is not None:
        raise NotFound(f"channel code {code} was not found", code="channel_code_not_found")
    return found


async def list_codes(
    *, session: AsyncSession, shop_id: int, include_archived: bool = False
) -> list[ChannelCode]:
    statement = scoped(ChannelCode, shop_id).order_by(ChannelCode.id.desc())
    if not include_archived:
        statement = statement.where(ChannelCode.archived_at.is_(None))
    return list((await session.execute(statement)).scalars())


async def staff_links(
    *, session: AsyncSession, shop_id: int, code_ids: Sequence[int]
) -> dict[int, list[ChannelCodeStaff]]:
    found: dict[int, list[ChannelCodeStaff]] = {code_id: [] for code_id in code_ids}
    if not code_ids:
        return found
    rows = await session.execute(
        scoped(ChannelCodeStaff, shop_id)
        .where(ChannelCodeStaff.channel_code_id.in_(code_ids))
        .order_by(ChannelCodeStaff.position, ChannelCodeStaff.id)
    )
    for link in rows.scalars():
        found[link.channel_code_id].append(link)
    return found


async def _check_references(
    session: AsyncSession,
    shop_id: int,
    *,
    staff: Sequence[StaffLinkIn] = (),
    tag_ids: Sequence[int] = (),
    community_id: int | None = None,
) -> None:
    from liveloop.customers.communities import service as communities_service
    from liveloop.shops.models import Staff

    for link in staff:
        await get_scoped(session, Staff, shop_id=shop_id, record_id=link.staff_id, label="staff")
    for tag_id in tag_ids:
        await tags_service.get_tag(session=session, shop_id=shop_id, tag_id=tag_id)
    if community_id is not None:
        await communities_service.get_community(
            session=session, shop_id=shop_id, community_id=community_id
        )


async def _replace_staff(
    session: AsyncSession, shop_id: int, code_id: int, staff: Sequence[StaffLinkIn]
) -> None:
    await session.execute(
        delete(ChannelCodeStaff).where(
            ChannelCodeStaff.shop_id == shop_id, ChannelCodeStaff.channel_code_id == code_id
        )
    )
    for position, link in enumerate(staff):
        session.add(
            ChannelCodeStaff(
                shop_id=shop_id,
                channel_code_id=code_id,
                staff_id=link.staff_id,
                contact_url=link.contact_url,
                daily_cap=link.daily_cap,
                windows=[list(window) for window in link.windows],
                position=position,
                is_backup=link.is_backup,
            )
        )
    await session.flush()


async def create_code(*, session: AsyncSession, shop_id: int, data: ChannelCodeIn) -> ChannelCode:
    await _check_references(
        session, shop_id, staff=data.staff, tag_ids=data.tag_ids, community_id=data.community_id
    )
    code = ChannelCode(
        shop_id=shop_id,
        code=new_code(),
        **data.model_dump(exclude={"staff"}),
    )
    session.add(code)
    await session.flush()
    await _replace_staff(session, shop_id, code.id, data.staff)
    return code


async def update_code(
    *, session: AsyncSession, shop_id: int, code_id: int, data: ChannelCodeUpdate
) -> ChannelCode:
    code = await get_code(session=session, shop_id=shop_id, code_id=code_id)
    changes = data.model_dump(exclude_unset=True, exclude={"staff"})
    await _check_references(
        session,
        shop_id,
        staff=data.staff or (),
        tag_ids=changes.get("tag_ids") or (),
        community_id=changes.get("community_id"),
    )
    current = (await staff_links(session=session, shop_id=shop_id, code_ids=[code.id]))[code.id]
    staff = (
        data.staff
        if data.staff is not None
        else [
            StaffLinkIn(
                staff_id=link.staff_id,
                contact_url=link.contact_url,
                daily_cap=link.daily_cap,
                windows=[(w[0], w[1]) for w in link.windows],
                is_backup=link.is_backup,
            )
            for link in current
        ]
    )
    try:
        check_staff(
            changes.get("routing") or code.routing,
            staff,
            changes.get("community_id", code.community_id),
        )
    except ValueError as error:
        raise InvalidInput(str(error), code="invalid_routing", field="staff") from None
    for name, value in changes.items():
        if name in ("name", "kind", "routing", "tag_ids") and value is None:
            continue
        setattr(code, name, value)
    if data.staff is not None:
        await _replace_staff(session, shop_id, code.id, data.staff)
    await session.flush()
    return code


async def archive_code(
    *, session: AsyncSession, shop_id: int, code_id: int, archived: bool = True
) -> ChannelCode:
    """An archived code's landing page is gone; its statistics and arrivals stay."""
    code = await get_code(session=session, shop_id=shop_id, code_id=code_id)
    code.archived_at = utcnow() if archived else None
    await session.flush()
    return code


# ----------------------------------------------------------------------------- routing


async def _bump(
    session: AsyncSession,
    *,
    code: ChannelCode,
    day: dt.date,
    link_id: int,
    column: str,
    limit: int | None = None,
) -> bool:
    """counter[column] += 1 for (code, day, link) if it is below `limit`; True when it moved."""
    table = ChannelCodeCounter.__table__
    await session.execute(
        customers_service.insert_ignoring_duplicates(session, table).values(
            shop_id=code.shop_id,
            channel_code_id=code.id,
            day=day,
            staff_link_id=link_id,
            scans=0,
            assigned=0,
            arrivals=0,
        )
    )
    target = getattr(ChannelCodeCounter, column)
    statement = (
        update(ChannelCodeCounter)
        .where(
            ChannelCodeCounter.channel_code_id == code.id,
            ChannelCodeCounter.day == day,
            ChannelCodeCounter.staff_link_id == link_id,
        )
        .values({column: target + 1})
        .execution_options(synchronize_session=False)
    )
    if limit is not None:
        statement = statement.where(target < limit)
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _next_turn(session: AsyncSession, code: ChannelCode) -> int:
    turn = await session.execute(
        update(ChannelCode)
        .where(ChannelCode.id == code.id)
        .values(rr_cursor=ChannelCode.rr_cursor + 1)
        .returning(ChannelCode.rr_cursor)
        .execution_options(synchronize_session=False)
    )
    return int(turn.scalar_one())


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def in_window(windows: Sequence[Sequence[str]], local: dt.datetime) -> bool:
    """Whether the local time falls in one of the [start, end) windows (end < start: overnight)."""
    now = local.hour * 60 + local.minute
    for start_text, end_text in windows:
        start, end = _minutes(start_text), _minutes(end_text)
        if (start <= now < end) if start < end else (now >= start or now < end):
            return True
    return False


@dataclass
class Routed:
    """Where a scan goes: a staff link, or the code's community, or nowhere (with why)."""

    link: ChannelCodeStaff | None = None
    community_join_url: str | None = None
    reason: str = "routed"  # routed | backup | community | daily_limit | nobody_available


async def _candidates(
    session: AsyncSession,
    code: ChannelCode,
    regular: list[ChannelCodeStaff],
    day: dt.date,
    local: dt.datetime,
) -> list[ChannelCodeStaff]:
    if not regular:
        return []
    if code.routing == "single":
        return regular[:1]
    if code.routing == "capacity":
        rows = await session.execute(
            select(ChannelCodeCounter.staff_link_id, ChannelCodeCounter.assigned).where(
                ChannelCodeCounter.channel_code_id == code.id, ChannelCodeCounter.day == day
            )
        )
        load = {row[0]: row[1] for row in rows}
        return sorted(regular, key=lambda link: (load.get(link.id, 0), link.position))
    pool = regular
    if code.routing == "time_of_day":
        pool = [link for link in regular if in_window(link.windows, local)]
        if not pool:
            return []
    start = (await _next_turn(session, code) - 1) % len(pool)
    return pool[start:] + pool[:start]


async def route_scan(
    *,
    session: AsyncSession,
    code: ChannelCode,
    zone: str = "Asia/Shanghai",
    now: dt.datetime | None = None,
) -> Routed:
    """Count a scan and pick who it goes to, by the code's routing rule (see module doc)."""
    now = now or utcnow()
    local = now.astimezone(ZoneInfo(zone))
    day = local.date()
    await _bump(session, code=code, day=day, link_id=0, column="scans")
    links = (await staff_links(session=session, shop_id=code.shop_id, code_ids=[code.id]))[code.id]
    regular = [link for link in links if not link.is_backup]
    backup = next((link for link in links if link.is_backup), None)
    if not links and code.community_id is not None:
        return Routed(community_join_url=await _community_url(session, code), reason="community")
    if not await _bump(
        session, code=code, day=day, link_id=0, column="assigned", limit=code.daily_limit
    ):
        return Routed(reason="daily_limit")
    for link in await _candidates(session, code, regular, day, local):
        if await _bump(
            session, code=code, day=day, link_id=link.id, column="assigned", limit=link.daily_cap
        ):
            return Routed(link=link)
    if backup is not None:
        await _bump(session, code=code, day=day, link_id=backup.id, column="assigned")
        return Routed(link=backup, reason="backup")
    return Routed(reason="nobody_available")


async def _community_url(session: AsyncSession, code: ChannelCode) -> str | None:
    from liveloop.customers.communities import service as communities_service

    if code.community_id is None:
        return None
    community = await communities_service.get_community(
        session=session, shop_id=code.shop_id, community_id=code.community_id
    )
    return community.join_url


async def record_scan_event(
    *, session: AsyncSession, code: ChannelCode, routed: Routed, visitor_id: str
) -> None:
    from liveloop.events import service as events_service

    await events_service.ingest_events(
        session=session,
        shop_id=code.shop_id,
        items=[
            {
                "type": SCAN_EVENT,
                "anonymous_id": visitor_id[:64],
                "properties": {
                    "channel_code_id": code.id,
                    "code": code.code,
                    "staff_id": routed.link.staff_id if routed.link else None,
                    "outcome": routed.reason,
                },
            }
        ],
        mark_customers_active=False,
    )


# ----------------------------------------------------------------------------- arrivals


def parse_state(state: str) -> tuple[str, int | None]:
    """A WeCom contact way's State: "code" or "code.link_id" (which staff link it belongs to)."""
    code, _, link = state.strip().partition(".")
    return code.lower(), int(link) if link.isdigit() else None


async def find_code_for_state(
    *, session: AsyncSession, shop_id: int, state: str | None
) -> tuple[ChannelCode, int | None] | None:
    if not state:
        return None
    text, link_id = parse_state(state)
    found = (
        await session.execute(scoped(ChannelCode, shop_id).where(ChannelCode.code == text))
    ).scalar_one_or_none()
    return (found, link_id) if found is not None else None


@dataclass
class Arrival:
    record: ChannelCodeArrival
    created: bool


async def record_arrival(
    *,
    session: AsyncSession,
    shop_id: int,
    code_id: int,
    customer_id: int,
    via: str,
    staff_link_id: int | None = None,
    new_customer: bool = False,
    now: dt.datetime | None = None,
) -> Arrival:
    """Record that a customer arrived through a code (once per code and customer)."""
    from liveloop.events import service as events_service
    from liveloop.shops import service as shops_service

    now = now or utcnow()
    code = await get_code(session=session, shop_id=shop_id, code_id=code_id)
    customer = await customers_service.get_active_customer(
        session=session, shop_id=shop_id, customer_id=customer_id
    )
    links = (await staff_links(session=session, shop_id=shop_id, code_ids=[code.id]))[code.id]
    link = next((item for item in links if item.id == staff_link_id), None)
    if link is None and len([item for item in links if not item.is_backup]) == 1:
        link = next(item for item in links if not item.is_backup)
    inserted = await session.execute(
        customers_service.insert_ignoring_duplicates(session, ChannelCodeArrival.__table__)
        .values(
            shop_id=shop_id,
            channel_code_id=code.id,
            customer_id=customer_id,
            staff_id=link.staff_id if link else None,
            via=via,
            arrived_at=now,
        )
        .returning(ChannelCodeArrival.__table__.c.id)
    )
    new_id = inserted.scalar_one_or_none()
    if new_id is None:
        existing = (
            await session.execute(
                scoped(ChannelCodeArrival, shop_id).where(
                    ChannelCodeArrival.channel_code_id == code.id,
                    ChannelCodeArrival.customer_id == customer_id,
                )
            )
        ).scalar_one()
        return Arrival(record=existing, created=False)
    record = await session.get(ChannelCodeArrival, new_id)
    assert record is not None
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    day = now.astimezone(ZoneInfo(shop.timezone)).date()
    await _bump(session, code=code, day=day, link_id=0, column="arrivals")
    if link is not None:
        await _bump(session, code=code, day=day, link_id=link.id, column="arrivals")
    if new_customer or not customer.source_channel:
        customer.source_channel = f"{SOURCE_PREFIX}{code.code}"
    if code.tag_ids:
        # A tag deleted since the code was saved is skipped, not an error for the customer.
        known = set(
            (
                await session.execute(scoped(Tag, shop_id, Tag.id).where(Tag.id.in_(code.tag_ids)))
            ).scalars()
        )
        await tags_service.add_tag_links(
            session=session,
            shop_id=shop_id,
            pairs=[(customer_id, tag_id) for tag_id in code.tag_ids if tag_id in known],
            source="manual",
            tagged_by=f"channel code {code.code}",
        )
    items: list[dict[str, Any]] = [
        {
            "type": ARRIVAL_EVENT,
            "customer_id": customer_id,
            "properties": {
                "channel_code_id": code.id,
                "code": code.code,
                "staff_id": record.staff_id,
                "via": via,
            },
            "client_event_id": f"cca:{code.id}:{customer_id}",
        }
    ]
    if code.welcome_message:
        items.append(
            {
                "type": WELCOME_EVENT,
                "customer_id": customer_id,
                "properties": {
                    "channel_code_id": code.id,
                    "staff_id": record.staff_id,
                    "text": code.welcome_message,
                },
                "client_event_id": f"ccw:{code.id}:{customer_id}",
            }
        )
    await events_service.ingest_events(session=session, shop_id=shop_id, items=items)
    if code.community_id is not None:
        await _join_code_community(session, code, customer_id, now)
    await session.flush()
    return Arrival(record=record, created=True)


async def _join_code_community(
    session: AsyncSession, code: ChannelCode, customer_id: int, now: dt.datetime
) -> None:
    from liveloop.customers.communities import service as communities_service

    try:
        async with session.begin_nested():
            await communities_service.join_community(
                session=session,
                shop_id=code.shop_id,
                community_id=code.community_id,  # type: ignore[arg-type]
                customer_id=customer_id,
                source="channel_code",
                trigger=code.code,
                joined_at=now,
            )
    except Conflict:
        # A full or archived group does not undo the arrival itself.
        return


async def resolve_customer(
    *, session: AsyncSession, shop_id: int, channel: str, value: str
) -> tuple[int, bool]:
    """The customer holding this identity, created when unknown; (id, created now)."""
    pair = (channel, value)
    found = await customers_service.resolve_identities(
        session=session, shop_id=shop_id, identities=[pair], create_missing=False
    )
    if pair in found:
        return found[pair], False
    created = await customers_service.resolve_identities(
        session=session, shop_id=shop_id, identities=[pair]
    )
    return created[pair], True


# --------------------------------------------------------------------------- statistics


@dataclass
class Stats:
    scans: int = 0
    routed: int = 0
    arrivals: int = 0
    conversions: int = 0


def _converted(shop_id: int) -> Any:
    from liveloop.commerce.models import Order

    return (
        select(Order.id)
        .where(
            Order.shop_id == shop_id,
            Order.customer_id == ChannelCodeArrival.customer_id,
            Order.paid_at.is_not(None),
            Order.paid_at >= ChannelCodeArrival.arrived_at,
        )
        .exists()
    )


async def code_stats(
    *, session: AsyncSession, shop_id: int, code_ids: Sequence[int]
) -> dict[int, Stats]:
    """Totals per code: scans, routed scans, arrivals, conversions (arrived customers with a
    paid order after arriving). Two grouped queries."""
    stats = {code_id: Stats() for code_id in code_ids}
    if not code_ids:
        return stats
    counters = await session.execute(
        scoped(
            ChannelCodeCounter,
            shop_id,
            ChannelCodeCounter.channel_code_id,
            func.sum(ChannelCodeCounter.scans),
            func.sum(ChannelCodeCounter.assigned),
        )
        .where(
            ChannelCodeCounter.channel_code_id.in_(code_ids), ChannelCodeCounter.staff_link_id == 0
        )
        .group_by(ChannelCodeCounter.channel_code_id)
    )
    for code_id, scans, routed in counters:
        stats[code_id].scans, stats[code_id].routed = int(scans or 0), int(routed or 0)
    arrivals = await session.execute(
        scoped(
            ChannelCodeArrival,
            shop_id,
            ChannelCodeArrival.channel_code_id,
            func.count(),
            func.count().filter(_converted(shop_id)),
        )
        .where(ChannelCodeArrival.channel_code_id.in_(code_ids))
        .group_by(ChannelCodeArrival.channel_code_id)
    )
    for code_id, arrived, converted in arrivals:
        stats[code_id].arrivals, stats[code_id].conversions = int(arrived), int(converted)
    return stats


@dataclass
class DayStats:
    day: dt.date
    scans: int = 0
    routed: int = 0
    arrivals: int = 0
    conversions: int = 0


async def daily_stats(
    *,
    session: AsyncSession,
    shop_id: int,
    code_id: int,
    days: int = 30,
    now: dt.datetime | None = None,
) -> list[DayStats]:
    """Per shop-local day, newest first, over the last `days` days (days with nothing left out).
    Conversions are counted on the day the converted customer arrived."""
    from liveloop.shops import service as shops_service

    code = await get_code(session=session, shop_id=shop_id, code_id=code_id)
    zone = ZoneInfo((await shops_service.get_shop(session=session, shop_id=shop_id)).timezone)
    now = now or utcnow()
    first = (now.astimezone(zone) - dt.timedelta(days=days - 1)).date()
    found: dict[dt.date, DayStats] = {}
    rows = await session.execute(
        scoped(ChannelCodeCounter, shop_id).where(
            ChannelCodeCounter.channel_code_id == code.id,
            ChannelCodeCounter.staff_link_id == 0,
            ChannelCodeCounter.day >= first,
        )
    )
    for counter in rows.scalars():
        found[counter.day] = DayStats(
            counter.day, counter.scans, counter.assigned, counter.arrivals
        )
    since = dt.datetime.combine(first, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    converted = await session.execute(
        scoped(ChannelCodeArrival, shop_id, ChannelCodeArrival.arrived_at).where(
            ChannelCodeArrival.channel_code_id == code.id,
            ChannelCodeArrival.arrived_at >= since,
            _converted(shop_id),
        )
    )
    for (arrived_at,) in converted:
        day = arrived_at.astimezone(zone).date()
        found.setdefault(day, DayStats(day)).conversions += 1
    return sorted(found.values(), key=lambda item: item.day, reverse=True)


async def arrivals_of(
    *, session: AsyncSession, shop_id: int, code_id: int, limit: int = 50
) -> list[tuple[ChannelCodeArrival, str | None]]:
    rows = await session.execute(
        select(ChannelCodeArrival, Customer.display_name)
        .join(
            Customer,
            and_(
                Customer.id == ChannelCodeArrival.customer_id,
                Customer.shop_id == ChannelCodeArrival.shop_id,
            ),
        )
        .where(ChannelCodeArrival.shop_id == shop_id, ChannelCodeArrival.channel_code_id == code_id)
        .order_by(ChannelCodeArrival.arrived_at.desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


# ------------------------------------------------------------------- WeCom settings


async def save_wecom_settings(
    *, session: AsyncSession, shop_id: int, data: WecomSettingsIn
) -> WecomCallbackSettings:
    from liveloop.customers.crypto import get_cipher

    try:
        WecomCrypto(token=data.token, encoding_aes_key=data.encoding_aes_key, receive_id="x")
    except ValueError as error:
        raise InvalidInput(str(error), field="encoding_aes_key") from None
    found = (await session.execute(scoped(WecomCallbackSettings, shop_id))).scalar_one_or_none()
    secret = get_cipher().encrypt(data.encoding_aes_key)
    if found is None:
        found = WecomCallbackSettings(
            shop_id=shop_id, corp_id=data.corp_id, token=data.token, aes_key_secret=secret
        )
        session.add(found)
    else:
        found.corp_id, found.token, found.aes_key_secret = data.corp_id, data.token, secret
    await session.flush()
    return found


async def get_wecom_settings(
    *, session: AsyncSession, shop_id: int
) -> WecomCallbackSettings | None:
    return (await session.execute(scoped(WecomCallbackSettings, shop_id))).scalar_one_or_none()


async def wecom_crypto(*, session: AsyncSession, shop_id: int) -> WecomCrypto:
    from liveloop.customers.crypto import get_cipher

    found = await get_wecom_settings(session=session, shop_id=shop_id)
    if found is None:
        raise NotFound(
            "this shop has no WeCom callback settings; save them first",
            code="wecom_not_configured",
        )
    return WecomCrypto(
        token=found.token,
        encoding_aes_key=get_cipher().decrypt(found.aes_key_secret),
        receive_id=found.corp_id,
    )
