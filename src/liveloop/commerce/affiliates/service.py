"""Affiliates: profiles, codes and rates; order attribution and the commission lifecycle.

An order is attributed when placed (hook "order_placed") to the affiliate whose code it carries:
a promo code in `attribution["promo_code"]` first, then its share code, then its source code;
failing those, to the affiliate behind the live room link it came through: the entry link's
customer or staff member, else the customer who shared the room (never buying from oneself).
Commission is written per order line when the order is paid (pending), settles once the return
window is over (periodic job), and is taken back in proportion to refunds (hook
"order_refunded"; each refund counted once). Rounding: see `commission.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
from liveloop.commerce.affiliates.commission import commission_fen, reversed_fen, split_by_weight
from liveloop.commerce.affiliates.models import (
    Affiliate,
    AffiliateCode,
    AffiliateOrder,
    AffiliateProductRate,
    AffiliateSettings,
    CodeKind,
    Commission,
    CommissionReversal,
    CommissionStatus,
)
from liveloop.commerce.affiliates.schemas import (
    AffiliateCreate,
    AffiliateSettingsIn,
    AffiliateUpdate,
    CodeCreate,
    ProductRateIn,
)
from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.shops.service import Actor, record_audit

SETTLE_BATCH = 500


# ------------------------------------------------------------------------------------ settings


async def get_settings(*, session: AsyncSession, shop_id: int) -> AffiliateSettings:
    """The shop's settings; defaults (not stored) when it never saved any."""
    found = (await session.execute(scoped(AffiliateSettings, shop_id))).scalar_one_or_none()
    return found or AffiliateSettings(shop_id=shop_id, return_window_days=7, ship_settle_days=17)


async def update_settings(
    *, session: AsyncSession, actor: Actor, data: AffiliateSettingsIn
) -> AffiliateSettings:
    found = (await session.execute(scoped(AffiliateSettings, actor.shop_id))).scalar_one_or_none()
    if found is None:
        found = AffiliateSettings(shop_id=actor.shop_id)
        session.add(found)
    found.return_window_days = data.return_window_days
    found.ship_settle_days = data.ship_settle_days
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="affiliates.settings",
        target_type="shop",
        target_id=actor.shop_id,
        details=data.model_dump(),
    )
    return found


# ---------------------------------------------------------------------------------- profiles


async def _check_person(session: AsyncSession, shop_id: int, data: AffiliateCreate) -> None:
    if data.staff_id is not None:
        from liveloop.shops.models import Staff

        await get_scoped(session, Staff, shop_id=shop_id, record_id=data.staff_id, label="staff")
    if data.customer_id is not None:
        from liveloop.customers import service as customers_service

        await customers_service.get_customer(
            session=session, shop_id=shop_id, customer_id=data.customer_id
        )


async def create_affiliate(
    *, session: AsyncSession, actor: Actor, data: AffiliateCreate
) -> Affiliate:
    await _check_person(session, actor.shop_id, data)
    affiliate = Affiliate(shop_id=actor.shop_id, **data.model_dump())
    session.add(affiliate)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="affiliates.create",
        target_type="affiliate",
        target_id=affiliate.id,
        details={"name": data.name, "default_rate_bp": data.default_rate_bp},
    )
    return affiliate


async def get_affiliate(*, session: AsyncSession, shop_id: int, affiliate_id: int) -> Affiliate:
    return await get_scoped(
        session, Affiliate, shop_id=shop_id, record_id=affiliate_id, label="affiliate"
    )


async def update_affiliate(
    *, session: AsyncSession, actor: Actor, affiliate_id: int, data: AffiliateUpdate
) -> Affiliate:
    affiliate = await get_affiliate(
        session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id
    )
    changes = data.model_dump(exclude_none=True)
    for name, value in changes.items():
        setattr(affiliate, name, value)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="affiliates.update",
        target_type="affiliate",
        target_id=affiliate.id,
        details=changes,
    )
    return affiliate


async def list_affiliates(*, session: AsyncSession, shop_id: int) -> Sequence[Affiliate]:
    return (
        (await session.execute(scoped(Affiliate, shop_id).order_by(Affiliate.id))).scalars().all()
    )


async def add_code(
    *, session: AsyncSession, actor: Actor, affiliate_id: int, data: CodeCreate
) -> AffiliateCode:
    await get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    taken = (
        await session.execute(
            scoped(AffiliateCode, actor.shop_id, AffiliateCode.id).where(
                func.lower(AffiliateCode.code) == data.code.lower()
            )
        )
    ).first()
    if taken is not None:
        raise Conflict(
            f"code {data.code} is already used by an affiliate of this shop",
            code="affiliate_code_taken",
            field="code",
        )
    code = AffiliateCode(shop_id=actor.shop_id, affiliate_id=affiliate_id, **data.model_dump())
    session.add(code)
    await session.flush()
    return code


async def list_codes(
    *, session: AsyncSession, shop_id: int, affiliate_id: int
) -> Sequence[AffiliateCode]:
    statement = scoped(AffiliateCode, shop_id).where(AffiliateCode.affiliate_id == affiliate_id)
    return (await session.execute(statement.order_by(AffiliateCode.id))).scalars().all()


async def set_product_rate(
    *, session: AsyncSession, actor: Actor, affiliate_id: int, data: ProductRateIn
) -> AffiliateProductRate:
    from liveloop.catalog import service as catalog_service

    await get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    await catalog_service.get_product(
        session=session, shop_id=actor.shop_id, product_id=data.product_id
    )
    statement = scoped(AffiliateProductRate, actor.shop_id).where(
        AffiliateProductRate.affiliate_id == affiliate_id,
        AffiliateProductRate.product_id == data.product_id,
    )
    rate = (await session.execute(statement)).scalar_one_or_none()
    if rate is None:
        rate = AffiliateProductRate(
            shop_id=actor.shop_id, affiliate_id=affiliate_id, product_id=data.product_id, rate_bp=0
        )
        session.add(rate)
    rate.rate_bp = data.rate_bp
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="affiliates.rate",
        target_type="affiliate",
        target_id=affiliate_id,
        details=data.model_dump(),
    )
    return rate


async def list_product_rates(
    *, session: AsyncSession, shop_id: int, affiliate_id: int
) -> Sequence[AffiliateProductRate]:
    statement = scoped(AffiliateProductRate, shop_id).where(
        AffiliateProductRate.affiliate_id == affiliate_id
    )
    return (
        (await session.execute(statement.order_by(AffiliateProductRate.product_id))).scalars().all()
    )


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


# --------------------------------------------------------------------------------- settlement


async def settle_due_commissions(*, session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Settle every pending commission whose return window is over; returns how many.

    Orders shipped but never confirmed get their window from the ship date (ship_settle_days).
    """
    now = now or utcnow()
    await _date_shipped_orders(session, now)
    result = await session.execute(
        update(Commission)
        .where(
            Commission.status == CommissionStatus.PENDING.value,
            Commission.settle_after.is_not(None),
            Commission.settle_after <= now,
        )
        .values(status=CommissionStatus.SETTLED.value, settled_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _date_shipped_orders(session: AsyncSession, now: dt.datetime) -> None:
    from liveloop.commerce import orders as orders_service

    rows = (
        await session.execute(
            select(Commission.shop_id, Commission.order_id)
            .where(
                Commission.status == CommissionStatus.PENDING.value,
                Commission.settle_after.is_(None),
            )
            .distinct()
            .limit(SETTLE_BATCH)
        )
    ).all()
    for shop_id, order_id in rows:
        order = await orders_service.get_order(session=session, shop_id=shop_id, order_id=order_id)
        settings = await get_settings(session=session, shop_id=shop_id)
        if order.completed_at is not None:
            due = order.completed_at + dt.timedelta(days=settings.return_window_days)
        elif order.shipped_at is not None:
            due = order.shipped_at + dt.timedelta(days=settings.ship_settle_days)
        else:
            continue
        await session.execute(
            update(Commission)
            .where(
                Commission.shop_id == shop_id,
                Commission.order_id == order_id,
                Commission.status == CommissionStatus.PENDING.value,
                Commission.settle_after.is_(None),
            )
            .values(settle_after=due)
            .execution_options(synchronize_session=False)
        )


# -------------------------------------------------------------------------------- reporting


async def summaries(*, session: AsyncSession, shop_id: int) -> list[dict[str, Any]]:
    """Per affiliate: orders, GMV (paid orders), commission pending / settled / reversed."""
    affiliates = await list_affiliates(session=session, shop_id=shop_id)
    order_rows = (
        await session.execute(
            scoped(
                AffiliateOrder,
                shop_id,
                AffiliateOrder.affiliate_id,
                func.count(),
                func.coalesce(
                    func.sum(
                        case(
                            (
                                AffiliateOrder.order_status.in_(
                                    ("cancelled", "expired", "pending_payment")
                                ),
                                0,
                            ),
                            else_=AffiliateOrder.gmv_fen,
                        )
                    ),
                    0,
                ),
            ).group_by(AffiliateOrder.affiliate_id)
        )
    ).all()
    commission_rows = (
        await session.execute(
            scoped(
                Commission,
                shop_id,
                Commission.affiliate_id,
                Commission.status,
                func.coalesce(func.sum(Commission.amount_fen - Commission.reversed_fen), 0),
                func.coalesce(func.sum(Commission.reversed_fen), 0),
            ).group_by(Commission.affiliate_id, Commission.status)
        )
    ).all()
    orders = {row[0]: (int(row[1]), int(row[2])) for row in order_rows}
    money: dict[int, dict[str, int]] = {}
    for affiliate_id, status, owed, taken_back in commission_rows:
        entry = money.setdefault(affiliate_id, {"pending": 0, "settled": 0, "reversed": 0})
        if status in ("pending", "settled"):
            entry[status] += int(owed)
        entry["reversed"] += int(taken_back)
    result = []
    for affiliate in affiliates:
        count, gmv = orders.get(affiliate.id, (0, 0))
        entry = money.get(affiliate.id, {"pending": 0, "settled": 0, "reversed": 0})
        result.append(
            {
                "affiliate": affiliate,
                "orders": count,
                "gmv_fen": gmv,
                "pending_fen": entry["pending"],
                "settled_fen": entry["settled"],
                "reversed_fen": entry["reversed"],
            }
        )
    return result


def affiliate_orders_query(*, shop_id: int, affiliate_id: int) -> Any:
    return (
        scoped(AffiliateOrder, shop_id)
        .where(AffiliateOrder.affiliate_id == affiliate_id)
        .order_by(AffiliateOrder.id.desc())
    )


def commissions_query(
    *, shop_id: int, affiliate_id: int | None = None, status: str | None = None
) -> Any:
    statement = scoped(Commission, shop_id).order_by(Commission.id)
    if affiliate_id is not None:
        statement = statement.where(Commission.affiliate_id == affiliate_id)
    if status:
        if status not in {s.value for s in CommissionStatus}:
            raise InvalidInput(
                f"status {status!r} is not one of pending, settled, reversed", field="status"
            )
        statement = statement.where(Commission.status == status)
    return statement


SETTLEMENT_COLUMNS = (
    "commission_id",
    "affiliate_id",
    "affiliate",
    "order_id",
    "order_number",
    "order_line_id",
    "product_id",
    "base_fen",
    "rate_bp",
    "amount_fen",
    "reversed_fen",
    "owed_fen",
    "status",
    "settled_at",
)


async def settlement_rows(
    *, session: AsyncSession, actor: Actor, affiliate_id: int | None, status: str | None
) -> list[list[Any]]:
    """Rows of the settlement export (audited): one per commission line."""
    names = {a.id: a.name for a in await list_affiliates(session=session, shop_id=actor.shop_id)}
    numbers = dict(
        (
            await session.execute(
                scoped(
                    AffiliateOrder,
                    actor.shop_id,
                    AffiliateOrder.order_id,
                    AffiliateOrder.order_number,
                )
            )
        ).all()
    )
    statement = commissions_query(shop_id=actor.shop_id, affiliate_id=affiliate_id, status=status)
    commissions = (await session.execute(statement)).scalars().all()
    await record_audit(
        session=session,
        actor=actor,
        action="affiliates.export",
        target_type="affiliate" if affiliate_id else "shop",
        target_id=affiliate_id or actor.shop_id,
        details={"status": status, "rows": len(commissions)},
    )
    return [
        [
            c.id,
            c.affiliate_id,
            names.get(c.affiliate_id, ""),
            c.order_id,
            numbers.get(c.order_id, ""),
            c.order_line_id,
            c.product_id,
            c.base_fen,
            c.rate_bp,
            c.amount_fen,
            c.reversed_fen,
            c.owed_fen,
            c.status,
            c.settled_at.isoformat() if c.settled_at else "",
        ]
        for c in commissions
    ]
