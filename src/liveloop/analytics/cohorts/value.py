"""Value figures from entered costs and commerce rows: ROI, ROAS, CAC, AARRR, K-factor, KOL report.

Revenue is always net: paid − refunded of orders that were paid (docs/value-figures.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.cohorts.models import CostKind, ValueCost
from liveloop.analytics.cohorts.service import PAID_STATUSES, check_range, shop_zone, utc_bounds
from liveloop.analytics.expressions import half_up, ratio
from liveloop.commerce.affiliates.models import Affiliate, AffiliateOrder, Commission
from liveloop.commerce.models import Order
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.customers.fission.models import FissionCampaign, FissionInvite, FissionParticipant
from liveloop.customers.models import Customer
from liveloop.live.models import LiveSession, LiveShare

NET = Order.paid_fen - Order.refunded_fen


class CostIn(BaseModel):
    kind: str
    amount_fen: int = Field(ge=0, le=10**12)
    spent_on: dt.date
    live_session_id: int | None = None
    broadcast_id: int | None = Field(default=None, ge=1)
    affiliate_id: int | None = None
    channel: str | None = Field(default=None, min_length=1, max_length=32)
    note: str = Field(default="", max_length=200)


def cost_out(cost: ValueCost) -> dict[str, Any]:
    return {
        "id": cost.id,
        "kind": cost.kind,
        "amount_fen": cost.amount_fen,
        "spent_on": cost.spent_on.isoformat(),
        "live_session_id": cost.live_session_id,
        "broadcast_id": cost.broadcast_id,
        "affiliate_id": cost.affiliate_id,
        "channel": cost.channel,
        "note": cost.note,
    }


# ---------------------------------------------------------------- costs CRUD


async def check_cost(*, session: AsyncSession, shop_id: int, data: CostIn) -> None:
    if data.kind not in {k.value for k in CostKind}:
        allowed = ", ".join(k.value for k in CostKind)
        raise InvalidInput(
            f"unknown cost kind {data.kind!r}: use one of {allowed}",
            code="unknown_kind",
            field="kind",
        )
    if not (data.live_session_id or data.broadcast_id or data.affiliate_id or data.channel):
        raise InvalidInput(
            "charge the cost to a live session, a broadcast, a KOL or a channel",
            code="cost_unassigned",
            field="live_session_id",
        )
    if data.live_session_id is not None:
        await _live_or_404(session, shop_id, data.live_session_id)
    if data.affiliate_id is not None:
        await _affiliate_or_404(session, shop_id, data.affiliate_id)


async def _live_or_404(session: AsyncSession, shop_id: int, live_session_id: int) -> None:
    found = await session.scalar(
        select(LiveSession.id).where(
            LiveSession.shop_id == shop_id, LiveSession.id == live_session_id
        )
    )
    if found is None:
        raise NotFound(f"live session {live_session_id} not found", field="live_session_id")


async def _affiliate_or_404(session: AsyncSession, shop_id: int, affiliate_id: int) -> None:
    found = await session.scalar(
        select(Affiliate.id).where(Affiliate.shop_id == shop_id, Affiliate.id == affiliate_id)
    )
    if found is None:
        raise NotFound(f"KOL {affiliate_id} not found", field="affiliate_id")


async def do_create_cost(*, session: AsyncSession, shop_id: int, data: CostIn) -> ValueCost:
    await check_cost(session=session, shop_id=shop_id, data=data)
    cost = ValueCost(shop_id=shop_id, **data.model_dump())
    session.add(cost)
    await session.flush()
    return cost


async def access_cost(*, session: AsyncSession, shop_id: int, cost_id: int) -> ValueCost:
    cost = await session.scalar(
        select(ValueCost).where(ValueCost.shop_id == shop_id, ValueCost.id == cost_id)
    )
    if cost is None:
        raise NotFound(f"cost {cost_id} not found", field="cost_id")
    return cost


async def do_update_cost(
    *, session: AsyncSession, shop_id: int, cost_id: int, data: CostIn
) -> ValueCost:
    cost = await access_cost(session=session, shop_id=shop_id, cost_id=cost_id)
    await check_cost(session=session, shop_id=shop_id, data=data)
    for name, value in data.model_dump().items():
        setattr(cost, name, value)
    await session.flush()
    return cost


async def do_delete_cost(*, session: AsyncSession, shop_id: int, cost_id: int) -> None:
    cost = await access_cost(session=session, shop_id=shop_id, cost_id=cost_id)
    await session.delete(cost)
    await session.flush()


async def list_costs(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int | None = None,
    broadcast_id: int | None = None,
    affiliate_id: int | None = None,
) -> list[ValueCost]:
    query = select(ValueCost).where(ValueCost.shop_id == shop_id)
    if live_session_id is not None:
        query = query.where(ValueCost.live_session_id == live_session_id)
    if broadcast_id is not None:
        query = query.where(ValueCost.broadcast_id == broadcast_id)
    if affiliate_id is not None:
        query = query.where(ValueCost.affiliate_id == affiliate_id)
    return list((await session.scalars(query.order_by(ValueCost.id))).all())


# ---------------------------------------------------------------- ROI / ROAS


def _paid(shop_id: int) -> Any:
    return (Order.shop_id == shop_id, Order.status.in_(PAID_STATUSES), Order.paid_at.is_not(None))


async def _entered(session: AsyncSession, shop_id: int, where: Any) -> dict[str, int]:
    query = (
        select(ValueCost.kind, func.sum(ValueCost.amount_fen))
        .where(ValueCost.shop_id == shop_id, where)
        .group_by(ValueCost.kind)
    )
    return {k: int(v) for k, v in (await session.execute(query)).all()}


async def _return_on(
    session: AsyncSession, shop_id: int, order_where: Any, cost_where: Any, affiliate_id: int | None
) -> dict[str, Any]:
    """Revenue of the matching paid orders against the costs charged; coupon cost and commission
    come from the orders when no such cost was entered by hand."""
    orders = select(Order.id).where(*_paid(shop_id), order_where)
    revenue_q = select(func.count(), func.coalesce(func.sum(NET), 0)).where(
        *_paid(shop_id), order_where
    )
    count, revenue = (await session.execute(revenue_q)).one()
    costs = {k.value: 0 for k in CostKind}
    computed: list[str] = []
    entered = await _entered(session, shop_id, cost_where)
    costs.update(entered)
    if CostKind.COUPONS.value not in entered:
        coupons = await session.scalar(
            select(func.coalesce(func.sum(Order.discount_fen), 0)).where(
                *_paid(shop_id), order_where, Order.customer_coupon_id.is_not(None)
            )
        )
        costs[CostKind.COUPONS.value] = int(coupons or 0)
        computed.append(CostKind.COUPONS.value)
    if CostKind.COMMISSION.value not in entered:
        query = select(
            func.coalesce(func.sum(Commission.amount_fen - Commission.reversed_fen), 0)
        ).where(Commission.shop_id == shop_id, Commission.order_id.in_(orders))
        if affiliate_id is not None:
            query = query.where(Commission.affiliate_id == affiliate_id)
        costs[CostKind.COMMISSION.value] = int(await session.scalar(query) or 0)
        computed.append(CostKind.COMMISSION.value)
    total = sum(costs.values())
    revenue = int(revenue)
    return {
        "orders": int(count),
        "revenue_fen": revenue,
        "costs_fen": costs,
        "computed_costs": computed,
        "cost_fen": total,
        "profit_fen": revenue - total,
        "roas": ratio(revenue, total) if total else None,
        "roi": ratio(revenue - total, total) if total else None,
    }


async def live_session_value(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, Any]:
    await _live_or_404(session, shop_id, live_session_id)
    figures = await _return_on(
        session,
        shop_id,
        Order.live_session_id == live_session_id,
        ValueCost.live_session_id == live_session_id,
        None,
    )
    return {"live_session_id": live_session_id, **figures}


async def broadcast_value(
    *, session: AsyncSession, shop_id: int, broadcast_id: int
) -> dict[str, Any]:
    """Orders whose source code is one of the broadcast's `bc-{id}-{recipient}` codes."""
    figures = await _return_on(
        session,
        shop_id,
        Order.source_code.like(f"bc-{broadcast_id}-%"),
        ValueCost.broadcast_id == broadcast_id,
        None,
    )
    return {"broadcast_id": broadcast_id, **figures}


async def kol_value(*, session: AsyncSession, shop_id: int, affiliate_id: int) -> dict[str, Any]:
    await _affiliate_or_404(session, shop_id, affiliate_id)
    attributed = select(AffiliateOrder.order_id).where(
        AffiliateOrder.shop_id == shop_id, AffiliateOrder.affiliate_id == affiliate_id
    )
    figures = await _return_on(
        session,
        shop_id,
        Order.id.in_(attributed),
        ValueCost.affiliate_id == affiliate_id,
        affiliate_id,
    )
    return {"affiliate_id": affiliate_id, **figures}


# ---------------------------------------------------------------- CAC


def _joined_at() -> Any:
    return func.coalesce(Customer.first_seen_at, Customer.created_at)


async def cac_by_channel(
    *, session: AsyncSession, shop_id: int, start: dt.date | None, end: dt.date | None
) -> dict[str, Any]:
    """Per channel: costs charged to it (spent in the range) / customers it brought (first seen
    in the range)."""
    start, end = check_range(start, end)
    low, high = utc_bounds(start, end, await shop_zone(session, shop_id))
    new_q = (
        select(Customer.source_channel, func.count())
        .where(Customer.shop_id == shop_id, _joined_at() >= low, _joined_at() < high)
        .group_by(Customer.source_channel)
    )
    new: dict[str, int] = {}
    for ch, n in (await session.execute(new_q)).all():
        new[ch or "(none)"] = new.get(ch or "(none)", 0) + int(n)
    cost_q = (
        select(ValueCost.channel, func.sum(ValueCost.amount_fen))
        .where(
            ValueCost.shop_id == shop_id,
            ValueCost.channel.is_not(None),
            ValueCost.spent_on >= start,
            ValueCost.spent_on <= end,
        )
        .group_by(ValueCost.channel)
    )
    cost = {ch: int(v) for ch, v in (await session.execute(cost_q)).all()}
    channels = []
    for channel in sorted(set(new) | set(cost)):
        spent, count = cost.get(channel, 0), new.get(channel, 0)
        channels.append(
            {
                "channel": channel,
                "cost_fen": spent,
                "new_customers": count,
                "cac_fen": half_up(spent, count) if count else None,
            }
        )
    return {"start": start.isoformat(), "end": end.isoformat(), "channels": channels}


# ---------------------------------------------------------------- AARRR


async def aarrr(
    *, session: AsyncSession, shop_id: int, start: dt.date | None, end: dt.date | None
) -> dict[str, Any]:
    start, end = check_range(start, end)
    low, high = utc_bounds(start, end, await shop_zone(session, shop_id))
    in_range = (Order.paid_at >= low, Order.paid_at < high)
    new_ids = select(Customer.id).where(
        Customer.shop_id == shop_id, _joined_at() >= low, _joined_at() < high
    )
    acquisition = int(
        await session.scalar(select(func.count()).select_from(new_ids.subquery())) or 0
    )
    buyers = select(Order.customer_id).where(*_paid(shop_id), *in_range)
    activation = int(
        await session.scalar(
            select(func.count(func.distinct(Order.customer_id))).where(
                *_paid(shop_id), *in_range, Order.customer_id.in_(new_ids)
            )
        )
        or 0
    )
    retained = int(
        await session.scalar(
            select(func.count(func.distinct(Order.customer_id))).where(
                *_paid(shop_id), Order.paid_at < low, Order.customer_id.in_(buyers)
            )
        )
        or 0
    )
    orders, paying, revenue = (
        await session.execute(
            select(
                func.count(),
                func.count(func.distinct(Order.customer_id)),
                func.coalesce(func.sum(NET), 0),
            ).where(*_paid(shop_id), *in_range)
        )
    ).one()
    shares = int(
        await session.scalar(
            select(func.count()).where(
                LiveShare.shop_id == shop_id,
                LiveShare.created_at >= low,
                LiveShare.created_at < high,
            )
        )
        or 0
    )
    invites = int(
        await session.scalar(
            select(func.count()).where(
                FissionInvite.shop_id == shop_id,
                FissionInvite.created_at >= low,
                FissionInvite.created_at < high,
            )
        )
        or 0
    )
    referred = int(
        await session.scalar(
            select(func.count()).where(
                Customer.shop_id == shop_id,
                _joined_at() >= low,
                _joined_at() < high,
                Customer.source_channel.in_(("share", "fission")),
            )
        )
        or 0
    )
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "acquisition": {"new_customers": acquisition},
        "activation": {"new_paying": activation, "rate": ratio(activation, acquisition)},
        "retention": {
            "returning_paying": retained,
            "paying": int(paying),
            "rate": ratio(retained, int(paying)),
        },
        "revenue": {
            "orders": int(orders),
            "revenue_fen": int(revenue),
            "arppu_fen": half_up(int(revenue), int(paying)),
        },
        "referral": {
            "live_shares": shares,
            "fission_invites": invites,
            "referred_customers": referred,
        },
    }


# ---------------------------------------------------------------- K-factor


async def k_factor(*, session: AsyncSession, shop_id: int, campaign_id: int) -> dict[str, Any]:
    """K = invitations per participant × share of invitations that counted = counted / participants."""
    found = await session.scalar(
        select(FissionCampaign.id).where(
            FissionCampaign.shop_id == shop_id, FissionCampaign.id == campaign_id
        )
    )
    if found is None:
        raise NotFound(f"fission campaign {campaign_id} not found", field="campaign_id")
    participants, invites, counted = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(FissionParticipant.invitee_count), 0),
                func.coalesce(func.sum(FissionParticipant.counted_count), 0),
            ).where(
                FissionParticipant.shop_id == shop_id, FissionParticipant.campaign_id == campaign_id
            )
        )
    ).one()
    participants, invites, counted = int(participants), int(invites), int(counted)
    return {
        "campaign_id": campaign_id,
        "participants": participants,
        "invites": invites,
        "counted_invites": counted,
        "invites_per_participant": ratio(invites, participants),
        "conversion": ratio(counted, invites),
        "k_factor": ratio(counted, participants),
    }


# ---------------------------------------------------------------- KOL report


async def kol_report(
    *, session: AsyncSession, shop_id: int, start: dt.date | None, end: dt.date | None
) -> dict[str, Any]:
    """Per KOL, orders paid in the range through them: GMV (paid), refunds, net commission and
    new customers (whose first paid order ever is one of these)."""
    start, end = check_range(start, end)
    low, high = utc_bounds(start, end, await shop_zone(session, shop_id))
    rows = (
        await session.execute(
            select(
                AffiliateOrder.affiliate_id,
                Order.id,
                Order.customer_id,
                Order.paid_fen,
                Order.refunded_fen,
                Order.paid_at,
            )
            .join(Order, Order.id == AffiliateOrder.order_id)
            .where(
                AffiliateOrder.shop_id == shop_id,
                *_paid(shop_id),
                Order.paid_at >= low,
                Order.paid_at < high,
            )
        )
    ).all()
    firsts = dict(
        (
            await session.execute(
                select(Order.customer_id, func.min(Order.paid_at))
                .where(*_paid(shop_id), Order.customer_id.is_not(None))
                .group_by(Order.customer_id)
            )
        ).all()
    )
    commission_q = (
        select(Commission.order_id, func.sum(Commission.amount_fen - Commission.reversed_fen))
        .where(Commission.shop_id == shop_id, Commission.order_id.in_([r[1] for r in rows] or [0]))
        .group_by(Commission.order_id)
    )
    commission = {int(o): int(v) for o, v in (await session.execute(commission_q)).all()}
    names = dict(
        (
            await session.execute(
                select(Affiliate.id, Affiliate.name).where(Affiliate.shop_id == shop_id)
            )
        ).all()
    )
    report: dict[int, dict[str, Any]] = {}
    for affiliate_id, order_id, customer_id, paid, refunded, paid_at in rows:
        line = report.setdefault(
            affiliate_id,
            {
                "affiliate_id": affiliate_id,
                "name": names.get(affiliate_id, ""),
                "orders": 0,
                "gmv_fen": 0,
                "refunds_fen": 0,
                "commission_fen": 0,
                "new_customers": 0,
            },
        )
        line["orders"] += 1
        line["gmv_fen"] += int(paid)
        line["refunds_fen"] += int(refunded)
        line["commission_fen"] += commission.get(int(order_id), 0)
        if customer_id is not None and firsts.get(customer_id) == paid_at:
            line["new_customers"] += 1
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "kols": [report[k] for k in sorted(report)],
    }
