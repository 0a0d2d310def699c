"""Membership tiers (会员等级): define, qualify, upgrade with benefits, downgrade after grace.

A customer qualifies for the highest tier whose threshold the shop's measure reaches: points
earned in their lifetime, points earned in the window, or fen paid in the window (settings).
Upgrades happen at once (on a grant, on a paid order, and in the nightly `recompute_tiers`);
a customer who no longer qualifies keeps the tier `downgrade_grace_days` before
`recompute_tiers` moves them down. Every move is a `tier_changes` row. The upgrade benefits
(coupon pack) of a tier are given once per customer and tier, whatever moves happen later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    cast,
    delete,
    func,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, LiveLoopError
from liveloop.customers.points import service as ledger
from liveloop.customers.points.models import (
    CustomerPoints,
    MemberTier,
    PointsEntry,
    PointsSettings,
    TierBenefitGrant,
    TierChange,
)
from liveloop.shops.service import Actor, record_audit

log = structlog.get_logger(__name__)

BENEFIT_KEYS = ("coupon_ids", "member_discount_percent", "priority_service", "vip_sessions")


# ------------------------------------------------------------------------------ define


async def list_tiers(*, session: AsyncSession, shop_id: int) -> list[MemberTier]:
    statement = scoped(MemberTier, shop_id).order_by(MemberTier.level)
    return list((await session.execute(statement)).scalars().all())


async def get_tier(*, session: AsyncSession, shop_id: int, tier_id: int) -> MemberTier:
    return await get_scoped(session, MemberTier, shop_id=shop_id, record_id=tier_id, label="tier")


async def _check_benefits(session: AsyncSession, shop_id: int, benefits: dict[str, Any]) -> None:
    from liveloop.commerce.coupons import service as coupons_service

    unknown = sorted(set(benefits) - set(BENEFIT_KEYS))
    if unknown:
        raise InvalidInput(
            f"unknown benefit {unknown[0]!r}; one of {', '.join(BENEFIT_KEYS)}",
            code="unknown_benefit",
            field=f"benefits.{unknown[0]}",
        )
    for coupon_id in benefits.get("coupon_ids") or []:
        await coupons_service.get_coupon(session=session, shop_id=shop_id, coupon_id=coupon_id)


async def create_tier(*, session: AsyncSession, actor: Actor, values: dict[str, Any]) -> MemberTier:
    await _check_benefits(session, actor.shop_id, values.get("benefits") or {})
    tier = MemberTier(shop_id=actor.shop_id)
    await _save_tier(session, tier, values)
    await record_audit(
        session=session,
        actor=actor,
        action="points.tier.create",
        target_type="member_tier",
        target_id=tier.id,
        details={"name": tier.name, "level": tier.level},
    )
    return tier


async def update_tier(
    *, session: AsyncSession, actor: Actor, tier_id: int, changes: dict[str, Any]
) -> MemberTier:
    tier = await get_tier(session=session, shop_id=actor.shop_id, tier_id=tier_id)
    if "benefits" in changes:
        await _check_benefits(session, actor.shop_id, changes["benefits"] or {})
    await _save_tier(session, tier, changes)
    await record_audit(
        session=session,
        actor=actor,
        action="points.tier.update",
        target_type="member_tier",
        target_id=tier.id,
        details={k: v for k, v in changes.items() if k != "benefits"},
    )
    return tier


async def _save_tier(session: AsyncSession, tier: MemberTier, values: dict[str, Any]) -> None:
    """Write the tier inside a savepoint: a level another tier holds is a Conflict."""
    savepoint = await session.begin_nested()
    for name, value in values.items():
        setattr(tier, name, value)
    session.add(tier)
    try:
        await session.flush()
    except IntegrityError:
        await savepoint.rollback()
        raise Conflict(
            f"another tier already has level {tier.level}; levels are unique",
            code="tier_level_taken",
            field="level",
        ) from None
    await savepoint.commit()


async def delete_tier(*, session: AsyncSession, actor: Actor, tier_id: int) -> None:
    """Members of a deleted tier have no tier until the next recompute places them."""
    tier = await get_tier(session=session, shop_id=actor.shop_id, tier_id=tier_id)
    await session.execute(
        update(CustomerPoints)
        .where(CustomerPoints.shop_id == actor.shop_id, CustomerPoints.tier_id == tier.id)
        .values(tier_id=None, tier_since=None, below_tier_since=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(MemberTier).where(MemberTier.id == tier.id))
    await record_audit(
        session=session,
        actor=actor,
        action="points.tier.delete",
        target_type="member_tier",
        target_id=tier_id,
        details={"name": tier.name, "level": tier.level},
    )


async def members_per_tier(*, session: AsyncSession, shop_id: int) -> dict[int, int]:
    rows = await session.execute(
        scoped(CustomerPoints, shop_id, CustomerPoints.tier_id, func.count())
        .where(CustomerPoints.tier_id.is_not(None))
        .group_by(CustomerPoints.tier_id)
    )
    return {int(tier_id): int(count) for tier_id, count in rows.all()}


async def tier_members(
    *, session: AsyncSession, shop_id: int, tier_id: int, limit: int = 50
) -> list[tuple[int, str, int]]:
    """(customer id, display name, balance) of a tier's members, highest balance first."""
    from liveloop.customers.models import Customer

    rows = await session.execute(
        select(CustomerPoints.customer_id, Customer.display_name, CustomerPoints.balance)
        .join(Customer, Customer.id == CustomerPoints.customer_id)
        .where(CustomerPoints.shop_id == shop_id, CustomerPoints.tier_id == tier_id)
        .order_by(CustomerPoints.balance.desc())
        .limit(limit)
    )
    return [(int(c), name or f"#{c}", int(b)) for c, name, b in rows.all()]


async def list_tier_changes(
    *, session: AsyncSession, shop_id: int, customer_id: int | None = None, limit: int = 100
) -> list[TierChange]:
    statement = scoped(TierChange, shop_id).order_by(TierChange.id.desc()).limit(limit)
    if customer_id is not None:
        statement = statement.where(TierChange.customer_id == customer_id)
    return list((await session.execute(statement)).scalars().all())


# ------------------------------------------------------------------------------- reads


async def customer_tier(
    *, session: AsyncSession, shop_id: int, customer_id: int
) -> MemberTier | None:
    return (
        await session.execute(
            select(MemberTier)
            .join(CustomerPoints, CustomerPoints.tier_id == MemberTier.id)
            .where(CustomerPoints.shop_id == shop_id, CustomerPoints.customer_id == customer_id)
        )
    ).scalar_one_or_none()


async def customer_tier_level(session: AsyncSession, shop_id: int, customer_id: int) -> int:
    """The level of the customer's tier, 0 without one: what the live room checks for a
    VIP-only session (e.g. `>= 2`)."""
    tier = await customer_tier(session=session, shop_id=shop_id, customer_id=customer_id)
    return tier.level if tier else 0


async def customer_benefits(
    *, session: AsyncSession, shop_id: int, customer_id: int
) -> dict[str, Any]:
    """The benefits the customer's tier carries now (priority service, VIP sessions,
    member discount); empty without a tier."""
    tier = await customer_tier(session=session, shop_id=shop_id, customer_id=customer_id)
    return dict(tier.benefits or {}) if tier else {}


# --------------------------------------------------------------------------- qualifying


def _measure(settings: PointsSettings, shop_id: int, now: dt.datetime) -> Any:
    """A subquery (customer_id, value) of the shop's tier measure."""
    since = now - dt.timedelta(days=settings.tier_window_days)
    if settings.tier_basis == "points_window":
        return (
            scoped(
                PointsEntry,
                shop_id,
                PointsEntry.customer_id,
                func.sum(PointsEntry.delta).label("value"),
            )
            .where(PointsEntry.created_at >= since)
            .where(PointsEntry.reason.not_in(ledger.SPENDING_REASONS))
            .group_by(PointsEntry.customer_id)
            .subquery()
        )
    if settings.tier_basis == "spend_window":
        from liveloop.commerce.models import Order

        # Read-only: what the customer paid (less refunds) for orders paid in the window.
        return (
            select(
                Order.customer_id.label("customer_id"),
                func.sum(Order.paid_fen - Order.refunded_fen).label("value"),
            )
            .where(Order.shop_id == shop_id, Order.paid_at >= since, Order.customer_id.is_not(None))
            .group_by(Order.customer_id)
            .subquery()
        )
    return scoped(
        CustomerPoints,
        shop_id,
        CustomerPoints.customer_id.label("customer_id"),
        CustomerPoints.lifetime_earned.label("value"),
    ).subquery()


def _threshold(settings: PointsSettings, tier: MemberTier) -> int | None:
    return tier.min_spend_fen if settings.tier_basis == "spend_window" else tier.min_points


def _qualifying(settings: PointsSettings, tiers: Sequence[MemberTier], value: Any) -> Any:
    """CASE picking the highest tier whose threshold `value` reaches (NULL: none)."""
    whens: list[tuple[Any, Any]] = [
        (value >= threshold, literal_column(str(int(tier.id))))
        for tier in sorted(tiers, key=lambda t: -t.level)
        if (threshold := _threshold(settings, tier)) is not None
    ]
    if not whens:
        return cast(null(), BigInteger)
    return case(*whens, else_=cast(null(), BigInteger))


async def _ensure_spenders_have_rows(
    session: AsyncSession, shop_id: int, measure: Any, customer_id: int | None
) -> None:
    """Spend-based tiers also place customers who never had points: give them a row."""
    statement = select(measure.c.customer_id).where(
        ~measure.c.customer_id.in_(
            scoped(CustomerPoints, shop_id, CustomerPoints.customer_id).scalar_subquery()
        )
    )
    if customer_id is not None:
        statement = statement.where(measure.c.customer_id == customer_id)
    for (missing,) in (await session.execute(statement)).all():
        await ledger._ensure_balance_row(session, shop_id, int(missing))


async def _candidates(
    session: AsyncSession,
    *,
    shop_id: int,
    settings: PointsSettings,
    tiers: Sequence[MemberTier],
    now: dt.datetime,
    customer_id: int | None = None,
) -> list[tuple[int, int | None, dt.datetime | None, int | None]]:
    """(customer, tier now, below since, qualifying tier) of customers whose tier may move:
    one query for the whole shop."""
    measure = _measure(settings, shop_id, now)
    if settings.tier_basis == "spend_window":
        await _ensure_spenders_have_rows(session, shop_id, measure, customer_id)
    value = func.coalesce(measure.c.value, 0)
    qualifying = _qualifying(settings, tiers, value).label("qualifying")
    inner = (
        select(
            CustomerPoints.customer_id,
            CustomerPoints.tier_id,
            CustomerPoints.below_tier_since,
            qualifying,
        )
        .outerjoin(measure, measure.c.customer_id == CustomerPoints.customer_id)
        .where(CustomerPoints.shop_id == shop_id)
    )
    if customer_id is not None:
        inner = inner.where(CustomerPoints.customer_id == customer_id)
    sub = inner.subquery()
    differs: ColumnElement[bool] = or_(
        and_(sub.c.tier_id.is_(None), sub.c.qualifying.is_not(None)),
        and_(sub.c.tier_id.is_not(None), sub.c.qualifying.is_(None)),
        sub.c.tier_id != sub.c.qualifying,
        sub.c.below_tier_since.is_not(None),
    )
    rows = await session.execute(select(sub).where(differs).order_by(sub.c.customer_id))
    return [(int(c), t, b, q) for c, t, b, q in rows.all()]


async def recompute_tiers(
    *, session: AsyncSession, shop_id: int, now: dt.datetime | None = None
) -> dict[str, int]:
    """Place every customer of the shop: upgrades now (with benefits), downgrades once the
    grace has passed. Set-based: one query finds the customers whose tier may move; only
    they are written. Idempotent."""
    now = now or utcnow()
    settings = await ledger.get_settings(session=session, shop_id=shop_id)
    tiers = await list_tiers(session=session, shop_id=shop_id)
    return await _place(session, shop_id=shop_id, settings=settings, tiers=tiers, now=now)


async def refresh_customer_tier(
    *, session: AsyncSession, shop_id: int, customer_id: int, now: dt.datetime | None = None
) -> None:
    """Upgrade one customer at once when they qualify (after a grant or a paid order);
    downgrades wait for `recompute_tiers`."""
    now = now or utcnow()
    tiers = await list_tiers(session=session, shop_id=shop_id)
    if not tiers:
        return
    settings = await ledger.get_settings(session=session, shop_id=shop_id)
    await _place(
        session,
        shop_id=shop_id,
        settings=settings,
        tiers=tiers,
        now=now,
        customer_id=customer_id,
        downgrade=False,
    )


async def _place(
    session: AsyncSession,
    *,
    shop_id: int,
    settings: PointsSettings,
    tiers: Sequence[MemberTier],
    now: dt.datetime,
    customer_id: int | None = None,
    downgrade: bool = True,
) -> dict[str, int]:
    counts = {"upgraded": 0, "downgraded": 0, "in_grace": 0}
    by_id = {tier.id: tier for tier in tiers}
    grace = dt.timedelta(days=settings.downgrade_grace_days)
    rows = await _candidates(
        session, shop_id=shop_id, settings=settings, tiers=tiers, now=now, customer_id=customer_id
    )
    for customer, current_id, below_since, qualifying_id in rows:
        current = by_id.get(current_id) if current_id else None
        target = by_id.get(qualifying_id) if qualifying_id else None
        current_level, target_level = (
            (current.level if current else 0),
            (target.level if target else 0),
        )
        if target_level > current_level:
            await _move(session, shop_id, customer, current, target, now, "upgrade")
            counts["upgraded"] += 1
        elif target_level == current_level:
            await _set_below_since(session, shop_id, customer, None)
        elif not downgrade:
            continue
        elif below_since is None:
            await _set_below_since(session, shop_id, customer, now)
            counts["in_grace"] += 1
        elif now - below_since >= grace:
            await _move(session, shop_id, customer, current, target, now, "downgrade")
            counts["downgraded"] += 1
        else:
            counts["in_grace"] += 1
    return counts


async def _set_below_since(
    session: AsyncSession, shop_id: int, customer_id: int, since: dt.datetime | None
) -> None:
    await session.execute(
        update(CustomerPoints)
        .where(CustomerPoints.shop_id == shop_id, CustomerPoints.customer_id == customer_id)
        .values(below_tier_since=since)
        .execution_options(synchronize_session=False)
    )


async def _move(
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    current: MemberTier | None,
    target: MemberTier | None,
    now: dt.datetime,
    reason: str,
) -> None:
    moved = (
        await session.execute(
            update(CustomerPoints)
            .where(
                CustomerPoints.shop_id == shop_id,
                CustomerPoints.customer_id == customer_id,
                # Only from the tier we read: a concurrent move wins, this one does nothing.
                CustomerPoints.tier_id.is_(None)
                if current is None
                else CustomerPoints.tier_id == current.id,
            )
            .values(tier_id=target.id if target else None, tier_since=now, below_tier_since=None)
            .returning(CustomerPoints.customer_id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if moved is None:
        return
    session.add(
        TierChange(
            shop_id=shop_id,
            customer_id=customer_id,
            from_tier_id=current.id if current else None,
            to_tier_id=target.id if target else None,
            from_level=current.level if current else 0,
            to_level=target.level if target else 0,
            reason=reason,
            changed_at=now,
        )
    )
    await session.flush()
    await ledger._refresh_loaded_balance(session, customer_id)
    if reason == "upgrade" and target is not None:
        await grant_upgrade_benefits(
            session=session, shop_id=shop_id, customer_id=customer_id, tier=target
        )


async def grant_upgrade_benefits(
    *, session: AsyncSession, shop_id: int, customer_id: int, tier: MemberTier
) -> bool:
    """Give the tier's coupon pack, once per customer and tier (False: given before). A
    coupon that cannot be granted (used up, stopped) is skipped and noted, not fatal."""
    from liveloop.commerce.coupons import service as coupons_service

    savepoint = await session.begin_nested()
    record = TierBenefitGrant(
        shop_id=shop_id, customer_id=customer_id, tier_id=tier.id, granted_at=utcnow(), details={}
    )
    session.add(record)
    try:
        await session.flush()
    except IntegrityError:
        await savepoint.rollback()
        return False
    await savepoint.commit()
    granted: list[int] = []
    failed: list[dict[str, Any]] = []
    for coupon_id in (tier.benefits or {}).get("coupon_ids") or []:
        try:
            async with session.begin_nested():
                issued = await coupons_service.grant_coupon(
                    session=session,
                    shop_id=shop_id,
                    coupon_id=coupon_id,
                    customer_id=customer_id,
                    reason=f"tier upgrade: {tier.name}",
                )
            granted.append(issued.id)
        except LiveLoopError as error:
            log.warning("tier_benefit_not_granted", coupon_id=coupon_id, reason=error.code)
            failed.append({"coupon_id": coupon_id, "reason": error.code})
    record.details = {"coupons": granted, "failed": failed}
    await session.flush()
    return True
