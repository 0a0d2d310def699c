"""The points ledger: grant, spend, adjust, expire, and the check that balances add up.

Every change writes one `points_ledger` row and moves the customer's `customer_points` row by
a conditional UPDATE in the same transaction (`balance = balance - :n WHERE balance >= :n`), so
a balance never goes negative, is never spent twice under concurrency, and always equals the
sum of the ledger (`check_balances`).

Expiry is first-in first-out by expiry date: points spent (or taken back) use the points that
expire first. No per-grant "remaining" column is kept; the job derives what is left of the due
grants from sums (see `expire_due_points`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Page, paginate, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers.models import Customer
from liveloop.customers.points.models import CustomerPoints, PointsEntry, PointsSettings
from liveloop.shops.models import Shop
from liveloop.shops.service import Actor, record_audit

MAX_POINTS = 10**9  # one change; far above any real grant, far below a BIGINT
DEBIT_ATTEMPTS = 5
EXPIRY_MODES = ("end_of_following_year", "days", "never")
TIER_BASES = ("points_lifetime", "points_window", "spend_window")
# Ledger reasons that are not earning: they do not count as points earned in a tier window.
SPENDING_REASONS = ("redeem", "expire")


@dataclass(frozen=True)
class Balance:
    customer_id: int
    balance: int
    lifetime_earned: int
    tier_id: int | None


# ------------------------------------------------------------------------------ settings


async def get_settings(*, session: AsyncSession, shop_id: int) -> PointsSettings:
    """The shop's points policy; the defaults (not stored) when it never changed them."""
    found = (await session.execute(scoped(PointsSettings, shop_id))).scalar_one_or_none()
    if found is not None:
        return found
    return PointsSettings(
        shop_id=shop_id,
        expiry_mode="end_of_following_year",
        expiry_days=365,
        tier_basis="points_lifetime",
        tier_window_days=365,
        downgrade_grace_days=30,
    )


async def update_settings(
    *, session: AsyncSession, shop_id: int, changes: dict[str, Any], actor: Actor
) -> PointsSettings:
    if changes.get("expiry_mode", EXPIRY_MODES[0]) not in EXPIRY_MODES:
        raise InvalidInput(
            f"expiry_mode must be one of {', '.join(EXPIRY_MODES)}", field="expiry_mode"
        )
    if changes.get("tier_basis", TIER_BASES[0]) not in TIER_BASES:
        raise InvalidInput(f"tier_basis must be one of {', '.join(TIER_BASES)}", field="tier_basis")
    current = await get_settings(session=session, shop_id=shop_id)
    if current.id is None:
        session.add(current)
    for name, value in changes.items():
        setattr(current, name, value)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="points.settings",
        target_type="points_settings",
        target_id=shop_id,
        details=changes,
    )
    return current


async def shop_zone(session: AsyncSession, shop_id: int) -> ZoneInfo:
    name = (await session.execute(select(Shop.timezone).where(Shop.id == shop_id))).scalar()
    return ZoneInfo(name or "Asia/Shanghai")


def expiry_for(
    settings: PointsSettings, *, earned_at: dt.datetime, zone: ZoneInfo
) -> dt.datetime | None:
    """When points earned at `earned_at` expire: the first instant after their validity.

    "end_of_following_year": points earned in 2026 (shop time) are good until 2027-12-31
    23:59:59 shop time, so they expire at 2028-01-01 00:00 shop time."""
    if settings.expiry_mode == "never":
        return None
    if settings.expiry_mode == "days":
        return earned_at + dt.timedelta(days=settings.expiry_days)
    local_year = earned_at.astimezone(zone).year
    return dt.datetime(local_year + 2, 1, 1, tzinfo=zone).astimezone(dt.UTC)


def shop_day(now: dt.datetime, zone: ZoneInfo) -> dt.date:
    return now.astimezone(zone).date()


# -------------------------------------------------------------------------------- reads


async def get_balance(*, session: AsyncSession, shop_id: int, customer_id: int) -> Balance:
    row = (
        await session.execute(
            scoped(CustomerPoints, shop_id)
            .where(CustomerPoints.customer_id == customer_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        await _check_customer(session, shop_id, customer_id)
        return Balance(customer_id, 0, 0, None)
    return Balance(customer_id, row.balance, row.lifetime_earned, row.tier_id)


async def list_entries(
    *, session: AsyncSession, shop_id: int, customer_id: int, page: int = 1, per_page: int = 50
) -> Page[PointsEntry]:
    statement = (
        scoped(PointsEntry, shop_id)
        .where(PointsEntry.customer_id == customer_id)
        .order_by(PointsEntry.id.desc())
    )
    return await paginate(session, statement, page=page, per_page=per_page)


async def entry_by_key(
    session: AsyncSession, *, shop_id: int, idempotency_key: str
) -> PointsEntry | None:
    return (
        await session.execute(
            scoped(PointsEntry, shop_id).where(PointsEntry.idempotency_key == idempotency_key)
        )
    ).scalar_one_or_none()


async def _check_customer(session: AsyncSession, shop_id: int, customer_id: int) -> None:
    found = (
        await session.execute(
            scoped(Customer, shop_id, Customer.id).where(Customer.id == customer_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(
            f"customer {customer_id} was not found", code="customer_not_found", field="customer_id"
        )


async def _ensure_balance_row(session: AsyncSession, shop_id: int, customer_id: int) -> None:
    values: dict[str, Any] = {"shop_id": shop_id, "customer_id": customer_id, "balance": 0}
    values.update(lifetime_earned=0, updated_at=utcnow())
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(CustomerPoints)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )


def _check_amount(points: int) -> None:
    if not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
        raise InvalidInput(
            f"points must be a whole number from 1 to {MAX_POINTS} (got {points})",
            code="invalid_points",
            field="points",
        )


# ------------------------------------------------------------------------------ writes


async def grant_points(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    points: int,
    reason: str,
    ref_type: str | None = None,
    ref_id: int | None = None,
    idempotency_key: str | None = None,
    expires_at: dt.datetime | None = None,
    actor: Actor | None = None,
    refresh_tier: bool = True,
    at: dt.datetime | None = None,
) -> PointsEntry:
    """Give a customer points (earned, won in a lottery, granted by hand ...).

    A repeat with the same `idempotency_key` returns the first entry and changes nothing.
    `expires_at` None means the shop's expiry policy. The customer's tier is re-evaluated
    (upgrades only) unless `refresh_tier` is False."""
    entry, _created = await grant_points_once(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        points=points,
        reason=reason,
        ref_type=ref_type,
        ref_id=ref_id,
        idempotency_key=idempotency_key,
        expires_at=expires_at,
        actor=actor,
        refresh_tier=refresh_tier,
        at=at,
    )
    return entry


async def grant_points_once(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    points: int,
    reason: str,
    ref_type: str | None = None,
    ref_id: int | None = None,
    idempotency_key: str | None = None,
    expires_at: dt.datetime | None = None,
    actor: Actor | None = None,
    refresh_tier: bool = True,
    at: dt.datetime | None = None,
) -> tuple[PointsEntry, bool]:
    """`grant_points`, also saying whether this call wrote the entry (False: a repeat).
    `at` backdates the entry (imports, the demo's history); expiry counts from it."""
    _check_amount(points)
    if idempotency_key is not None:
        first = await entry_by_key(session, shop_id=shop_id, idempotency_key=idempotency_key)
        if first is not None:
            return first, False
    await _check_customer(session, shop_id, customer_id)
    now = at or utcnow()
    if expires_at is None:
        settings = await get_settings(session=session, shop_id=shop_id)
        expires_at = expiry_for(settings, earned_at=now, zone=await shop_zone(session, shop_id))
    await _ensure_balance_row(session, shop_id, customer_id)
    savepoint = await session.begin_nested()
    try:
        balance = (
            await session.execute(
                update(CustomerPoints)
                .where(CustomerPoints.shop_id == shop_id, CustomerPoints.customer_id == customer_id)
                .values(
                    balance=CustomerPoints.balance + points,
                    lifetime_earned=CustomerPoints.lifetime_earned + points,
                    updated_at=utcnow(),
                )
                .returning(CustomerPoints.balance)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one()
        entry = _entry(
            shop_id, customer_id, points, balance, reason, ref_type, ref_id, idempotency_key, actor
        )
        entry.expires_at = expires_at
        entry.created_at = now
        session.add(entry)
        await session.flush()
    except IntegrityError:
        await savepoint.rollback()
        if idempotency_key is None:
            raise
        first = await entry_by_key(session, shop_id=shop_id, idempotency_key=idempotency_key)
        if first is None:
            raise
        return first, False
    await savepoint.commit()
    await _refresh_loaded_balance(session, customer_id)
    if refresh_tier:
        from liveloop.customers.points import tiers

        await tiers.refresh_customer_tier(session=session, shop_id=shop_id, customer_id=customer_id)
    return entry, True


def _entry(
    shop_id: int,
    customer_id: int,
    delta: int,
    balance_after: int,
    reason: str,
    ref_type: str | None,
    ref_id: int | None,
    idempotency_key: str | None,
    actor: Actor | None,
) -> PointsEntry:
    return PointsEntry(
        shop_id=shop_id,
        customer_id=customer_id,
        delta=delta,
        balance_after=balance_after,
        reason=reason[:24],
        ref_type=ref_type,
        ref_id=ref_id,
        idempotency_key=idempotency_key,
        created_by=actor.label[:200] if actor else None,
    )


async def _refresh_loaded_balance(session: AsyncSession, customer_id: int) -> None:
    from sqlalchemy.orm.util import identity_key

    loaded = session.sync_session.identity_map.get(identity_key(CustomerPoints, customer_id))
    if loaded is not None:
        await session.refresh(loaded)


async def spend_points(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    points: int,
    reason: str = "redeem",
    ref_type: str | None = None,
    ref_id: int | None = None,
    idempotency_key: str | None = None,
    actor: Actor | None = None,
) -> PointsEntry:
    """Take points for a redemption: all of them or none (Conflict insufficient_points).

    A repeat with the same key returns the first entry."""
    entry = await _debit(
        session,
        shop_id=shop_id,
        customer_id=customer_id,
        points=points,
        reason=reason,
        ref_type=ref_type,
        ref_id=ref_id,
        idempotency_key=idempotency_key,
        actor=actor,
        partial=False,
    )
    assert entry is not None
    return entry


async def take_back_points(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    points: int,
    reason: str,
    ref_type: str | None = None,
    ref_id: int | None = None,
    idempotency_key: str | None = None,
    actor: Actor | None = None,
) -> PointsEntry | None:
    """Take back up to `points` (a refund, expiry): what the balance holds when it holds less
    (a balance never goes negative); None when it is zero."""
    return await _debit(
        session,
        shop_id=shop_id,
        customer_id=customer_id,
        points=points,
        reason=reason,
        ref_type=ref_type,
        ref_id=ref_id,
        idempotency_key=idempotency_key,
        actor=actor,
        partial=True,
    )


async def _debit(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_id: int,
    points: int,
    reason: str,
    ref_type: str | None,
    ref_id: int | None,
    idempotency_key: str | None,
    actor: Actor | None,
    partial: bool,
) -> PointsEntry | None:
    _check_amount(points)
    if idempotency_key is not None:
        first = await entry_by_key(session, shop_id=shop_id, idempotency_key=idempotency_key)
        if first is not None:
            return first
    for _attempt in range(DEBIT_ATTEMPTS):
        held = await get_balance(session=session, shop_id=shop_id, customer_id=customer_id)
        take = min(points, held.balance) if partial else points
        if take <= 0:
            return None
        lifetime_change = take if reason == "refund" else 0
        savepoint = await session.begin_nested()
        try:
            balance = (
                await session.execute(
                    update(CustomerPoints)
                    .where(
                        CustomerPoints.shop_id == shop_id,
                        CustomerPoints.customer_id == customer_id,
                        CustomerPoints.balance >= take,
                    )
                    .values(
                        balance=CustomerPoints.balance - take,
                        lifetime_earned=case(
                            (
                                CustomerPoints.lifetime_earned >= lifetime_change,
                                CustomerPoints.lifetime_earned - lifetime_change,
                            ),
                            else_=0,
                        ),
                        updated_at=utcnow(),
                    )
                    .returning(CustomerPoints.balance)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one_or_none()
            if balance is None:
                await savepoint.rollback()
                if not partial:
                    raise Conflict(
                        f"this needs {points} points and the balance holds "
                        f"{await _current_balance(session, shop_id, customer_id)}",
                        code="insufficient_points",
                        field="points",
                    )
                continue  # spent elsewhere meanwhile: read the balance again
            entry = _entry(
                shop_id,
                customer_id,
                -take,
                balance,
                reason,
                ref_type,
                ref_id,
                idempotency_key,
                actor,
            )
            session.add(entry)
            await session.flush()
        except IntegrityError:
            await savepoint.rollback()
            if idempotency_key is None:
                raise
            first = await entry_by_key(session, shop_id=shop_id, idempotency_key=idempotency_key)
            if first is None:
                raise
            return first
        await savepoint.commit()
        await _refresh_loaded_balance(session, customer_id)
        return entry
    raise Conflict(
        "the points balance is changing elsewhere; try again", code="points_busy", field="points"
    )


async def _current_balance(session: AsyncSession, shop_id: int, customer_id: int) -> int:
    held = await get_balance(session=session, shop_id=shop_id, customer_id=customer_id)
    return held.balance


async def adjust_points(
    *,
    session: AsyncSession,
    actor: Actor,
    customer_id: int,
    delta: int,
    note: str,
    idempotency_key: str | None = None,
) -> PointsEntry:
    """A person adds or removes points by hand, with a reason; audited. Removing more than
    the balance is refused (Conflict insufficient_points)."""
    if delta == 0:
        raise InvalidInput("delta must not be 0", code="invalid_points", field="delta")
    if not note.strip():
        raise InvalidInput("say why the points change", code="reason_required", field="reason")
    key = f"manual:{idempotency_key}" if idempotency_key else None
    if delta > 0:
        entry = await grant_points(
            session=session,
            shop_id=actor.shop_id,
            customer_id=customer_id,
            points=delta,
            reason="manual",
            idempotency_key=key,
            actor=actor,
        )
    else:
        entry = await spend_points(
            session=session,
            shop_id=actor.shop_id,
            customer_id=customer_id,
            points=-delta,
            reason="manual",
            idempotency_key=key,
            actor=actor,
        )
    await record_audit(
        session=session,
        actor=actor,
        action="points.adjust",
        target_type="customer",
        target_id=customer_id,
        details={"delta": delta, "reason": note[:200], "entry_id": entry.id},
    )
    return entry


# ------------------------------------------------------------------------------- expiry


@dataclass(frozen=True)
class DueExpiry:
    shop_id: int
    customer_id: int
    points: int
    latest_due: dt.datetime


async def due_expiries(
    *, session: AsyncSession, now: dt.datetime, shop_id: int | None = None
) -> list[DueExpiry]:
    """What each customer has left of grants whose expiry has come, first-in first-out.

    Points spent use the grants that expire first (never-expiring grants last). So of the
    grants due by `now` (total G), the debits so far (D: redeemed, refunded, removed by hand;
    not expiries) used min(G, D), and what is left and not yet expired is
    max(0, G - D) - X, X being what expired before. Exact while a shop keeps one expiry
    policy (expiry then follows earning order); after a change of policy it can only expire
    less than a per-grant account would."""
    due = case((PointsEntry.expires_at <= now, PointsEntry.delta), else_=0)
    due_positive = case((PointsEntry.delta > 0, due), else_=0)
    debits = case(
        ((PointsEntry.delta < 0) & (PointsEntry.reason != "expire"), -PointsEntry.delta), else_=0
    )
    expired = case((PointsEntry.reason == "expire", -PointsEntry.delta), else_=0)
    latest = func.max(
        case(((PointsEntry.delta > 0) & (PointsEntry.expires_at <= now), PointsEntry.expires_at))
    )
    statement = (
        select(
            PointsEntry.shop_id,
            PointsEntry.customer_id,
            func.sum(due_positive),
            func.sum(debits),
            func.sum(expired),
            latest,
        )
        .group_by(PointsEntry.shop_id, PointsEntry.customer_id)
        .having(func.sum(due_positive) > 0)
    )
    if shop_id is not None:
        statement = statement.where(PointsEntry.shop_id == shop_id)
    result: list[DueExpiry] = []
    for shop, customer, granted, spent, gone, latest_due in (
        await session.execute(statement)
    ).all():
        left = max(0, int(granted) - int(spent)) - int(gone)
        if left > 0:
            result.append(DueExpiry(shop, customer, left, latest_due))
    return result


async def expire_due_points(
    *, session: AsyncSession, now: dt.datetime | None = None, shop_id: int | None = None
) -> int:
    """Write an "expire" entry for every customer holding points past their expiry; the
    points expired. Idempotent: a second run finds nothing left to expire, and two runs at
    once write one entry (its key names the customer and the latest expiry it covers)."""
    now = now or utcnow()
    total = 0
    for due in await due_expiries(session=session, now=now, shop_id=shop_id):
        stamp = int(due.latest_due.timestamp()) if due.latest_due else 0
        entry = await take_back_points(
            session=session,
            shop_id=due.shop_id,
            customer_id=due.customer_id,
            points=due.points,
            reason="expire",
            idempotency_key=f"expire:{due.customer_id}:{stamp}",
        )
        if entry is not None and entry.reason == "expire":
            total += -entry.delta
    return total


# ------------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class BalanceMismatch:
    customer_id: int
    balance: int
    ledger_sum: int


async def check_balances(*, session: AsyncSession, shop_id: int) -> list[BalanceMismatch]:
    """Customers whose balance differs from the sum of their ledger (empty: all is well)."""
    sums = (
        scoped(
            PointsEntry, shop_id, PointsEntry.customer_id, func.sum(PointsEntry.delta).label("s")
        )
        .group_by(PointsEntry.customer_id)
        .subquery()
    )
    rows = await session.execute(
        select(CustomerPoints.customer_id, CustomerPoints.balance, func.coalesce(sums.c.s, 0))
        .outerjoin(sums, sums.c.customer_id == CustomerPoints.customer_id)
        .where(CustomerPoints.shop_id == shop_id)
        .where(CustomerPoints.balance != func.coalesce(sums.c.s, 0))
    )
    mismatches = [BalanceMismatch(c, int(b), int(s)) for c, b, s in rows.all()]
    orphans = await session.execute(
        select(sums.c.customer_id, sums.c.s).where(
            ~sums.c.customer_id.in_(
                scoped(CustomerPoints, shop_id, CustomerPoints.customer_id).scalar_subquery()
            )
        )
    )
    mismatches += [BalanceMismatch(c, 0, int(s)) for c, s in orphans.all() if int(s) != 0]
    return mismatches
