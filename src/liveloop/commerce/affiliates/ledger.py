"""Attribution of orders to affiliates and the commission ledger: written when an order is paid,
taken back in proportion to refunds (each refund once). Rounding: see `commission.py`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
from liveloop.commerce.affiliates.commission import commission_fen, reversed_fen, split_by_weight
from liveloop.commerce.affiliates.models import (
    Affiliate,
    AffiliateCode,
    AffiliateOrder,
    CodeKind,
    Commission,
    CommissionReversal,
    CommissionStatus,
)
from liveloop.commerce.affiliates.profiles import get_affiliate, get_settings, list_product_rates
from liveloop.core.database import scoped, utcnow

# -------------------------------------------------------------------------------- attribution


def order_codes(order: Any) -> list[tuple[str, str]]:
    """(code, how) candidates an order carries, strongest first."""
    attribution = order.attribution or {}
    found = [
        (str(attribution.get("promo_code") or ""), CodeKind.PROMO.value),
        (str(attribution.get("affiliate_code") or ""), CodeKind.PROMO.value),
        (order.share_code or "", CodeKind.SHARE.value),
        (order.source_code or "", CodeKind.SOURCE.value),
    ]
    return [(code, how) for code, how in found if code]


async def find_affiliate_code(
    *, session: AsyncSession, shop_id: int, order: Any
) -> tuple[AffiliateCode, str] | None:
    for code, how in order_codes(order):
        statement = (
            scoped(AffiliateCode, shop_id)
            .join(Affiliate, Affiliate.id == AffiliateCode.affiliate_id)
            .where(func.lower(AffiliateCode.code) == code.lower(), Affiliate.is_active.is_(True))
        )
        found = (await session.execute(statement)).scalar_one_or_none()
        if found is not None:
            return found, how
    return None


def _line_base(line: Any) -> int:
    return max(int(line.line_total_fen) - int(line.discount_fen or 0), 0)


async def _affiliate_of_person(
    session: AsyncSession, shop_id: int, *, customer_id: int | None, staff_id: int | None
) -> Affiliate | None:
    if customer_id is None and staff_id is None:
        return None
    person = (
        Affiliate.customer_id == customer_id
        if customer_id is not None
        else Affiliate.staff_id == staff_id
    )
    statement = (
        scoped(Affiliate, shop_id)
        .where(person, Affiliate.is_active.is_(True))
        .order_by(Affiliate.id)
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def find_live_link_affiliate(
    *, session: AsyncSession, shop_id: int, order: Any
) -> tuple[Affiliate, str, str] | None:
    """(affiliate, code, how) for an order that came through a live room link of a person with
    an active affiliate profile: the entry link's KOL/KOC (customer or staff member) first,
    then the customer who shared the room (a KOC's own share link)."""
    if order.live_session_id is None or not (order.source_code or order.share_code):
        return None
    from liveloop.live import audience
    from liveloop.live import service as live_service

    if order.source_code:
        live_session = await live_service.get_live_session(
            session=session, shop_id=shop_id, live_session_id=order.live_session_id
        )
        link = await audience.get_entry_link(
            session=session, live_session=live_session, code=order.source_code
        )
        if link is not None:
            found = await _affiliate_of_person(
                session, shop_id, customer_id=link.customer_id, staff_id=link.staff_id
            )
            if found is not None:
                return found, link.code, "entry_link"
    if order.share_code:
        share = await audience.resolve_share(session=session, code=order.share_code)
        if share is not None and share.shop_id == shop_id:
            found = await _affiliate_of_person(
                session, shop_id, customer_id=share.sharer_customer_id, staff_id=None
            )
            if found is not None and found.customer_id != order.customer_id:
                return found, share.code, "live_share"
    return None


@hooks.on("order_placed")
async def attribute_order(*, session: AsyncSession, order: Any, **_: Any) -> AffiliateOrder | None:
    match = await find_affiliate_code(session=session, shop_id=order.shop_id, order=order)
    if match is not None:
        affiliate_id, code_text, how = match[0].affiliate_id, match[0].code, match[1]
    else:
        behind_link = await find_live_link_affiliate(
            session=session, shop_id=order.shop_id, order=order
        )
        if behind_link is None:
            return None
        affiliate_id, code_text, how = behind_link[0].id, behind_link[1], behind_link[2]
    affiliate = await get_affiliate(
        session=session, shop_id=order.shop_id, affiliate_id=affiliate_id
    )
    if affiliate.customer_id is not None and affiliate.customer_id == order.customer_id:
        return None  # no commission on one's own purchases
    existing = (
        await session.execute(
            scoped(AffiliateOrder, order.shop_id).where(AffiliateOrder.order_id == order.id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    record = AffiliateOrder(
        shop_id=order.shop_id,
        affiliate_id=affiliate_id,
        order_id=order.id,
        order_number=order.number,
        code=code_text,
        matched_by=how,
        gmv_fen=sum(_line_base(line) for line in order.lines),
        order_status=order.status,
    )
    session.add(record)
    await session.flush()
    return record


async def _attribution_of(session: AsyncSession, order: Any) -> AffiliateOrder | None:
    statement = scoped(AffiliateOrder, order.shop_id).where(AffiliateOrder.order_id == order.id)
    return (await session.execute(statement)).scalar_one_or_none()


async def _rates(session: AsyncSession, shop_id: int, affiliate_id: int) -> dict[int, int]:
    rows = await list_product_rates(session=session, shop_id=shop_id, affiliate_id=affiliate_id)
    return {row.product_id: row.rate_bp for row in rows}


@hooks.on("order_paid")
async def record_commission(*, session: AsyncSession, order: Any, **_: Any) -> list[Commission]:
    """One pending commission per line of an attributed order; a repeat adds nothing."""
    attribution = await _attribution_of(session, order)
    if attribution is None:
        return []
    attribution.order_status = order.status
    affiliate = await get_affiliate(
        session=session, shop_id=order.shop_id, affiliate_id=attribution.affiliate_id
    )
    existing = set(
        (
            await session.execute(
                scoped(Commission, order.shop_id, Commission.order_line_id).where(
                    Commission.order_id == order.id
                )
            )
        )
        .scalars()
        .all()
    )
    rates = await _rates(session, order.shop_id, affiliate.id)
    created = []
    for line in order.lines:
        if line.id in existing:
            continue
        rate = (
            rates.get(line.product_id, affiliate.default_rate_bp)
            if line.product_id
            else affiliate.default_rate_bp
        )
        base = _line_base(line)
        commission = Commission(
            shop_id=order.shop_id,
            affiliate_id=affiliate.id,
            order_id=order.id,
            order_line_id=line.id,
            product_id=line.product_id,
            base_fen=base,
            rate_bp=rate,
            amount_fen=commission_fen(base, rate),
        )
        session.add(commission)
        created.append(commission)
    await session.flush()
    return created


@hooks.on("order_released")
async def note_order_released(*, session: AsyncSession, order: Any, **_: Any) -> None:
    attribution = await _attribution_of(session, order)
    if attribution is not None:
        attribution.order_status = order.status
        await session.flush()


@hooks.on("order_completed")
async def start_return_window(*, session: AsyncSession, order: Any, **_: Any) -> None:
    attribution = await _attribution_of(session, order)
    if attribution is None:
        return
    attribution.order_status = order.status
    settings = await get_settings(session=session, shop_id=order.shop_id)
    completed = order.completed_at or utcnow()
    await session.execute(
        update(Commission)
        .where(
            Commission.shop_id == order.shop_id,
            Commission.order_id == order.id,
            Commission.status == CommissionStatus.PENDING.value,
        )
        .values(settle_after=completed + dt.timedelta(days=settings.return_window_days))
    )
    await session.flush()


# ------------------------------------------------------------------------------------ refunds


@dataclass(frozen=True)
class RefundPart:
    order_line_id: int | None  # None: an amount for the whole order
    amount_fen: int


def refund_parts(refund: Any) -> list[RefundPart]:
    """What a refund returned: its lines with amounts, else one amount for the order."""
    lines = list(getattr(refund, "lines", None) or [])
    parts = [
        RefundPart(int(line.order_line_id), int(line.amount_fen))
        for line in lines
        if getattr(line, "order_line_id", None) is not None
    ]
    if parts:
        return parts
    return [RefundPart(None, int(refund.amount_fen))]


@hooks.on("order_refunded")
async def reverse_commission(
    *, session: AsyncSession, order: Any, refund: Any, **_: Any
) -> list[Commission]:
    """Take commission back in proportion to what `refund` returned, once per refund."""
    attribution = await _attribution_of(session, order)
    if attribution is None:
        return []
    attribution.order_status = order.status
    commissions = (
        (
            await session.execute(
                scoped(Commission, order.shop_id)
                .where(Commission.order_id == order.id)
                .order_by(Commission.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    if not commissions:
        return []
    done = set(
        (
            await session.execute(
                scoped(CommissionReversal, order.shop_id, CommissionReversal.commission_id).where(
                    CommissionReversal.refund_id == refund.id,
                    CommissionReversal.commission_id.in_([c.id for c in commissions]),
                )
            )
        )
        .scalars()
        .all()
    )
    if done:
        return []  # this refund was counted already
    returned = _refunded_base_per_commission(commissions, refund_parts(refund), order)
    for commission in commissions:
        extra = min(
            returned.get(commission.id, 0), commission.base_fen - commission.refunded_base_fen
        )
        before = commission.reversed_fen
        commission.refunded_base_fen += extra
        commission.reversed_fen = reversed_fen(
            commission.amount_fen, commission.base_fen, commission.refunded_base_fen
        )
        if (
            commission.reversed_fen == commission.amount_fen
            and commission.status == CommissionStatus.PENDING.value
            and commission.refunded_base_fen == commission.base_fen
        ):
            commission.status = CommissionStatus.REVERSED.value
        session.add(
            CommissionReversal(
                shop_id=order.shop_id,
                commission_id=commission.id,
                refund_id=refund.id,
                refunded_base_fen=extra,
                reversed_fen=commission.reversed_fen - before,
            )
        )
    await session.flush()
    return list(commissions)


def _refunded_base_per_commission(
    commissions: Sequence[Commission], parts: list[RefundPart], order: Any
) -> dict[int, int]:
    """Base returned per commission. Refund lines are exact. An amount refunded for the whole
    order covers goods and shipping alike, so its goods share is amount × goods / paid; once
    the order is refunded in full, everything still open comes back."""
    by_line = {c.order_line_id: c for c in commissions}
    returned: dict[int, int] = {}
    whole_order = 0
    for part in parts:
        if part.order_line_id is None:
            whole_order += part.amount_fen
        elif part.order_line_id in by_line:
            commission = by_line[part.order_line_id]
            returned[commission.id] = returned.get(commission.id, 0) + part.amount_fen
    if whole_order:
        open_bases = [c.base_fen - c.refunded_base_fen for c in commissions]
        paid = int(order.paid_fen or 0)
        if paid <= 0 or int(order.refunded_fen or 0) >= paid:
            goods = sum(open_bases)
        else:
            goods = min(whole_order * sum(c.base_fen for c in commissions) // paid, sum(open_bases))
        for commission, share in zip(commissions, split_by_weight(goods, open_bases), strict=True):
            returned[commission.id] = returned.get(commission.id, 0) + share
    return returned
