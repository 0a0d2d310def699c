"""Earning points: the shop's earn rules, daily caps, check-in, purchases and behaviour events.

- Purchases: the commerce hooks `order_paid` (points per ¥1 paid) and `order_refunded` (the
  same share of those points taken back), inside the order's transaction.
- Behaviour (comment, share, watch minutes, review): the periodic job `earn_from_events`
  reads the events table by id after a cursor. It does not slow the ingest hot path, sees
  events from every writer (the room's buffer, the API, other domains) and catches up after
  downtime. Each event grants under the key `event:{id}`, so a re-read never pays twice.
  Events are read only once they are `SETTLE` old: an insert that commits later than a
  higher id would otherwise be skipped by the cursor.
- Daily caps: a counter row per customer, rule and shop day moved by compare-and-set, so
  concurrent grants never exceed the cap; a grant that would cross it gets the remainder.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.customers.points import service as ledger
from liveloop.customers.points.models import DailyEarnCount, EarnRule, EventCursor, PointsEntry
from liveloop.shops.service import Actor, record_audit

log = structlog.get_logger(__name__)

RULE_TYPES = ("check_in", "comment", "share", "watch_minutes", "purchase", "review")
# Event type in the events table → the rule it earns by.
EVENT_RULES = {
    "comment": "comment",
    "share": "share",
    "live_leave": "watch_minutes",
    "review": "review",
}
CURSOR = "points_earn"
SETTLE = dt.timedelta(seconds=60)
BATCH = 5000
CAS_ATTEMPTS = 8


# ------------------------------------------------------------------------------- rules


async def list_rules(*, session: AsyncSession, shop_id: int) -> list[EarnRule]:
    statement = scoped(EarnRule, shop_id).order_by(EarnRule.id)
    return list((await session.execute(statement)).scalars().all())


async def get_rule(*, session: AsyncSession, shop_id: int, rule_id: int) -> EarnRule:
    return await get_scoped(
        session, EarnRule, shop_id=shop_id, record_id=rule_id, label="earn_rule"
    )


async def active_rule(session: AsyncSession, shop_id: int, event_type: str) -> EarnRule | None:
    return (
        await session.execute(
            scoped(EarnRule, shop_id).where(EarnRule.event_type == event_type, EarnRule.is_active)
        )
    ).scalar_one_or_none()


async def create_rule(*, session: AsyncSession, actor: Actor, values: dict[str, Any]) -> EarnRule:
    if values["event_type"] not in RULE_TYPES:
        raise InvalidInput(f"event_type must be one of {', '.join(RULE_TYPES)}", field="event_type")
    taken = await session.execute(
        scoped(EarnRule, actor.shop_id, EarnRule.id).where(
            EarnRule.event_type == values["event_type"]
        )
    )
    if taken.scalar_one_or_none() is not None:
        raise Conflict(
            f"a rule for {values['event_type']} exists already; change that one",
            code="rule_exists",
            field="event_type",
        )
    rule = EarnRule(shop_id=actor.shop_id, **values)
    session.add(rule)
    await session.flush()
    await _audit(session, actor, "points.rule.create", rule, values)
    return rule


async def update_rule(
    *, session: AsyncSession, actor: Actor, rule_id: int, changes: dict[str, Any]
) -> EarnRule:
    rule = await get_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)
    for name, value in changes.items():
        setattr(rule, name, value)
    await session.flush()
    await _audit(session, actor, "points.rule.update", rule, changes)
    return rule


async def delete_rule(*, session: AsyncSession, actor: Actor, rule_id: int) -> None:
    rule = await get_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)
    await session.execute(delete(EarnRule).where(EarnRule.id == rule.id))
    await _audit(session, actor, "points.rule.delete", rule, {"event_type": rule.event_type})


async def _audit(
    session: AsyncSession, actor: Actor, action: str, rule: EarnRule, details: dict[str, Any]
) -> None:
    await record_audit(
        session=session,
        actor=actor,
        action=action,
        target_type="points_earn_rule",
        target_id=rule.id,
        details=details,
    )


# -------------------------------------------------------------------------------- caps


async def take_daily_allowance(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_id: int,
    event_type: str,
    day: dt.date,
    points: int,
    cap: int | None,
) -> int:
    """Reserve up to `points` under the customer's daily cap of this rule; what was granted
    (0 when the cap is reached). Compare-and-set: never more than the cap in total."""
    if cap is None:
        return points
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(DailyEarnCount)
        .values(shop_id=shop_id, customer_id=customer_id, event_type=event_type, day=day, points=0)
        .on_conflict_do_nothing(index_elements=["customer_id", "event_type", "day"])
    )
    key = (
        DailyEarnCount.customer_id == customer_id,
        DailyEarnCount.event_type == event_type,
        DailyEarnCount.day == day,
    )
    for _attempt in range(CAS_ATTEMPTS):
        seen = (await session.execute(select(DailyEarnCount.points).where(*key))).scalar_one()
        allowed = min(points, cap - int(seen))
        if allowed <= 0:
            return 0
        moved = (
            await session.execute(
                update(DailyEarnCount)
                .where(*key, DailyEarnCount.points == seen)
                .values(points=DailyEarnCount.points + allowed)
                .returning(DailyEarnCount.points)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
        if moved is not None:
            return allowed
    return 0  # much contention on one customer's counter: this grant is skipped


async def earn(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    event_type: str,
    units: int = 1,
    idempotency_key: str,
    ref_type: str | None = None,
    ref_id: int | None = None,
    now: dt.datetime | None = None,
) -> PointsEntry | None:
    """Points by the shop's rule for `units` of a behaviour (e.g. 12 watch minutes), within
    its daily cap; None when there is no active rule, nothing to grant, or the cap is
    reached. Once per key."""
    rule = await active_rule(session, shop_id, event_type)
    if rule is None or units <= 0 or rule.points <= 0:
        return None
    if await ledger.entry_by_key(session, shop_id=shop_id, idempotency_key=idempotency_key):
        return None
    now = now or utcnow()
    day = ledger.shop_day(now, await ledger.shop_zone(session, shop_id))
    savepoint = await session.begin_nested()
    points = await take_daily_allowance(
        session,
        shop_id=shop_id,
        customer_id=customer_id,
        event_type=event_type,
        day=day,
        points=min(rule.points * units, ledger.MAX_POINTS),
        cap=rule.daily_cap,
    )
    if points <= 0:
        await savepoint.rollback()
        return None
    entry, created = await ledger.grant_points_once(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        points=points,
        reason=event_type[:24],
        ref_type=ref_type,
        ref_id=ref_id,
        idempotency_key=idempotency_key,
    )
    if not created:  # a twin run granted it first: give the allowance back
        await savepoint.rollback()
        return None
    await savepoint.commit()
    return entry


async def check_in(
    *, session: AsyncSession, shop_id: int, customer_id: int, now: dt.datetime | None = None
) -> PointsEntry:
    """The viewer's daily check-in (签到): once per shop day. Conflict when done today or
    when the shop has no check-in rule."""
    now = now or utcnow()
    rule = await active_rule(session, shop_id, "check_in")
    if rule is None:
        raise Conflict("this shop does not give points for checking in", code="check_in_disabled")
    day = ledger.shop_day(now, await ledger.shop_zone(session, shop_id))
    key = f"check_in:{customer_id}:{day.isoformat()}"
    entry = await earn(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        event_type="check_in",
        idempotency_key=key,
        now=now,
    )
    if entry is None:
        raise Conflict(
            "you have checked in today already; come back tomorrow",
            code="already_checked_in",
        )
    return entry


async def checked_in_today(
    *, session: AsyncSession, shop_id: int, customer_id: int, now: dt.datetime | None = None
) -> bool:
    day = ledger.shop_day(now or utcnow(), await ledger.shop_zone(session, shop_id))
    key = f"check_in:{customer_id}:{day.isoformat()}"
    return await ledger.entry_by_key(session, shop_id=shop_id, idempotency_key=key) is not None


# --------------------------------------------------------------------------- purchases


@hooks.on("order_paid")
async def earn_for_paid_order(*, session: AsyncSession, order: Any, **_: Any) -> None:
    """Points per ¥1 paid (rounded down), once per order; then the tier (spend may count)."""
    customer_id = getattr(order, "customer_id", None)
    if customer_id is None:
        return
    shop_id = order.shop_id
    rule = await active_rule(session, shop_id, "purchase")
    paid = int(getattr(order, "paid_fen", 0) or 0)
    if rule is not None and paid > 0:
        await earn(
            session=session,
            shop_id=shop_id,
            customer_id=customer_id,
            event_type="purchase",
            units=paid // 100,
            idempotency_key=f"order:{order.id}:earn",
            ref_type="order",
            ref_id=order.id,
        )
    from liveloop.customers.points import tiers

    await tiers.refresh_customer_tier(session=session, shop_id=shop_id, customer_id=customer_id)


@hooks.on("order_refunded")
async def reverse_for_refund(*, session: AsyncSession, order: Any, **extra: Any) -> None:
    """Take back the share of the order's points that the refunds returned: after refunds of
    R of P paid the customer keeps floor(points × (P − R) / P). Once per refund; never more
    than the balance holds (points already spent stay spent)."""
    customer_id = getattr(order, "customer_id", None)
    refund = extra.get("refund")
    if customer_id is None:
        return
    earned = await ledger.entry_by_key(
        session, shop_id=order.shop_id, idempotency_key=f"order:{order.id}:earn"
    )
    paid = int(getattr(order, "paid_fen", 0) or 0)
    if earned is None or paid <= 0:
        return
    refunded = min(paid, int(getattr(order, "refunded_fen", 0) or 0))
    keep = earned.delta * (paid - refunded) // paid
    taken = (
        await session.execute(
            scoped(
                PointsEntry, order.shop_id, func.coalesce(func.sum(-PointsEntry.delta), 0)
            ).where(
                PointsEntry.ref_type == "order",
                PointsEntry.ref_id == order.id,
                PointsEntry.reason == "refund",
            )
        )
    ).scalar_one()
    due = earned.delta - keep - int(taken)
    if due <= 0:
        return
    refund_key = getattr(refund, "id", None) or f"{refunded}"
    await ledger.take_back_points(
        session=session,
        shop_id=order.shop_id,
        customer_id=customer_id,
        points=due,
        reason="refund",
        ref_type="order",
        ref_id=order.id,
        idempotency_key=f"order:{order.id}:refund:{refund_key}",
    )


# ------------------------------------------------------------------------------ events


async def _cursor(session: AsyncSession) -> EventCursor:
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(EventCursor)
        .values(name=CURSOR, last_event_id=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return (
        await session.execute(
            select(EventCursor)
            .where(EventCursor.name == CURSOR)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def skip_to_latest_event(*, session: AsyncSession) -> int:
    """Move the cursor past every event stored (an import or a seed that granted the points
    of its history itself); the event id it now stands at."""
    from liveloop.events.models import Event

    cursor = await _cursor(session)
    latest = (await session.execute(select(func.max(Event.id)))).scalar()
    cursor.last_event_id = max(cursor.last_event_id, int(latest or 0))
    await session.flush()
    return cursor.last_event_id


async def earn_from_events(
    *, session: AsyncSession, settle: dt.timedelta = SETTLE, batch: int = BATCH
) -> int:
    """Grant points for behaviour events after the cursor (all shops); the number of events
    read. Run it again until it returns less than `batch`."""
    from liveloop.events.models import Event

    cursor = await _cursor(session)
    earning_shops = select(EarnRule.shop_id).where(
        EarnRule.is_active, EarnRule.event_type.in_(set(EVENT_RULES.values()))
    )
    rows = (
        await session.execute(
            select(
                Event.id,
                Event.shop_id,
                Event.type,
                Event.customer_id,
                Event.properties,
                Event.occurred_at,
            )
            .where(
                Event.id > cursor.last_event_id,
                Event.received_at <= utcnow() - settle,
                Event.type.in_(tuple(EVENT_RULES)),
                Event.customer_id.is_not(None),
                Event.shop_id.in_(earning_shops),
            )
            .order_by(Event.id)
            .limit(batch)
        )
    ).all()
    for event_id, shop_id, kind, customer_id, properties, occurred_at in rows:
        units = 1
        if kind == "live_leave":
            units = int((properties or {}).get("watch_seconds") or 0) // 60
        await earn(
            session=session,
            shop_id=shop_id,
            customer_id=customer_id,
            event_type=EVENT_RULES[kind],
            units=units,
            idempotency_key=f"event:{event_id}",
            ref_type="event",
            ref_id=event_id,
            now=occurred_at,
        )
    if rows:
        cursor.last_event_id = rows[-1][0]
        cursor.updated_at = utcnow()
    else:  # nothing to earn: skip past events that never will (other types, other shops)
        settled = (
            await session.execute(
                select(func.max(Event.id)).where(
                    Event.id > cursor.last_event_id, Event.received_at <= utcnow() - settle
                )
            )
        ).scalar()
        if settled is not None:
            cursor.last_event_id = int(settled)
    await session.flush()
    return len(rows)
