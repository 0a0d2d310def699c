"""Coupons: define, claim (live room, link, system grant), evaluate at checkout, lock, use.

Claims never check-then-act: the coupon's `claimed_count` moves by a conditional UPDATE
(`claimed_count < total_quantity`) and the per-customer limit is a unique key on
(coupon, customer, claim_seq), with claim_seq running 1..per_customer_limit. An issued coupon
moves available → locked (an unpaid order holds it) → used (paid) by conditional UPDATEs on
its status; an order released before payment gives it back, a full refund returns it when the
coupon says so. The order lifecycle reaches this module through commerce.hooks.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
from liveloop.commerce.coupons.models import USABLE_STATUSES as USABLE
from liveloop.commerce.coupons.models import (
    ClaimSource,
    Coupon,
    CouponStatus,
    CustomerCoupon,
    CustomerCouponStatus,
)
from liveloop.commerce.coupons.rules import (
    CouponEvaluation,
    CouponKind,
    CouponRule,
    CouponScope,
    PricedLineLike,
    evaluate_coupon,
    pick_best,
    value_text,
)
from liveloop.commerce.coupons.schemas import CouponCreate, CouponUpdate, check_terms
from liveloop.core.database import Page, get_scoped, paginate, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers import service as customers_service
from liveloop.live.outbox import send_after_commit

# Terms a holder was shown: frozen once anyone has claimed the coupon.
FROZEN_AFTER_CLAIM = (
    "kind",
    "amount_off_fen",
    "percent_off",
    "max_discount_fen",
    "threshold_fen",
    "scope",
    "product_ids",
    "category_ids",
)
CLAIM_ATTEMPTS = 3
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud in a live room


def _new_code() -> str:
    return "C" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(9))


# ------------------------------------------------------------------------------ define


async def get_coupon(*, session: AsyncSession, shop_id: int, coupon_id: int) -> Coupon:
    return await get_scoped(session, Coupon, shop_id=shop_id, record_id=coupon_id, label="coupon")


async def get_coupon_by_code(*, session: AsyncSession, code: str) -> Coupon:
    """The coupon behind a public claim link (any shop: the code carries the shop)."""
    coupon = (
        await session.execute(select(Coupon).where(Coupon.code == code.strip().upper()))
    ).scalar_one_or_none()
    if coupon is None or coupon.status == CouponStatus.DRAFT.value:
        raise NotFound(f"coupon {code} was not found", code="coupon_not_found", field="code")
    return coupon


async def list_coupons(
    *,
    session: AsyncSession,
    shop_id: int,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Coupon]:
    statement = scoped(Coupon, shop_id).order_by(Coupon.id.desc())
    if status:
        statement = statement.where(Coupon.status == status)
    return await paginate(session, statement, page=page, per_page=per_page)


async def _check_scope_ids(
    session: AsyncSession, *, shop_id: int, product_ids: list[int], category_ids: list[int]
) -> None:
    from liveloop.catalog import service as catalog_service

    for product_id in product_ids:
        await catalog_service.get_product(session=session, shop_id=shop_id, product_id=product_id)
    for category_id in category_ids:
        await catalog_service.get_category(
            session=session, shop_id=shop_id, category_id=category_id
        )


async def create_coupon(*, session: AsyncSession, shop_id: int, data: CouponCreate) -> Coupon:
    await _check_scope_ids(
        session, shop_id=shop_id, product_ids=data.product_ids, category_ids=data.category_ids
    )
    values = data.model_dump()
    values["kind"] = data.kind.value
    values["scope"] = data.scope.value
    coupon = Coupon(shop_id=shop_id, code=_new_code(), **values)
    session.add(coupon)
    await session.flush()
    return coupon


async def update_coupon(
    *, session: AsyncSession, shop_id: int, coupon_id: int, data: CouponUpdate
) -> Coupon:
    coupon = await get_coupon(session=session, shop_id=shop_id, coupon_id=coupon_id)
    changes = data.model_dump(exclude_unset=True)
    frozen = [name for name in FROZEN_AFTER_CLAIM if name in changes]
    if frozen and coupon.claimed_count:
        raise Conflict(
            f"coupon {coupon.code} has been claimed {coupon.claimed_count} time(s); its terms "
            f"({', '.join(frozen)}) can no longer change — stop it and create a new one",
            code="coupon_terms_frozen",
            field=frozen[0],
        )
    if "total_quantity" in changes and changes["total_quantity"] < coupon.claimed_count:
        raise InvalidInput(
            f"total_quantity cannot go below the {coupon.claimed_count} already claimed",
            code="below_claimed",
            field="total_quantity",
        )
    merged = CouponCreate.model_construct(
        **{
            **{c: getattr(coupon, c) for c in CouponCreate.model_fields if hasattr(coupon, c)},
            **changes,
        }
    )
    merged.kind, merged.scope = CouponKind(merged.kind), CouponScope(merged.scope)
    try:
        check_terms(merged)
    except ValueError as error:
        raise InvalidInput(str(error), code="invalid_terms") from None
    await _check_scope_ids(
        session,
        shop_id=shop_id,
        product_ids=changes.get("product_ids") or [],
        category_ids=changes.get("category_ids") or [],
    )
    for name, value in changes.items():
        setattr(coupon, name, value.value if hasattr(value, "value") else value)
    await session.flush()
    return coupon


async def set_coupon_status(
    *, session: AsyncSession, shop_id: int, coupon_id: int, status: str
) -> Coupon:
    """Activate (claims open) or stop (no more claims; coupons already issued stay usable)."""
    coupon = await get_coupon(session=session, shop_id=shop_id, coupon_id=coupon_id)
    if coupon.status == CouponStatus.STOPPED.value and status == CouponStatus.ACTIVE.value:
        raise Conflict(
            f"coupon {coupon.code} was stopped; create a new coupon instead",
            code="coupon_stopped",
            field="status",
        )
    coupon.status = CouponStatus(status).value
    await session.flush()
    return coupon


def rule_for(coupon: Coupon, issued: CustomerCoupon | None = None) -> CouponRule:
    """The pure rule of a coupon, as seen through one issued instance when given."""
    return CouponRule(
        code=coupon.code,
        kind=CouponKind(coupon.kind),
        amount_off_fen=coupon.amount_off_fen,
        percent_off=coupon.percent_off,
        max_discount_fen=coupon.max_discount_fen,
        threshold_fen=coupon.threshold_fen,
        scope=CouponScope(coupon.scope),
        product_ids=frozenset(coupon.product_ids or ()),
        category_ids=frozenset(coupon.category_ids or ()),
        valid_from=issued.valid_from if issued else coupon.valid_from,
        valid_until=issued.valid_until if issued else coupon.valid_until,
        owner_customer_id=issued.customer_id if issued else None,
        instance_status=issued.status if issued else None,
        remaining=None if issued else coupon.remaining,
        coupon_id=coupon.id,
        title=coupon.title,
    )


def coupon_value_text(coupon: Coupon) -> str:
    return value_text(rule_for(coupon))


# ------------------------------------------------------------------------------- claim


def _instance_window(
    coupon: Coupon, now: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    if coupon.valid_days:
        until = now + dt.timedelta(days=coupon.valid_days)
        if coupon.valid_until is not None:
            until = min(until, coupon.valid_until)
        return now, until
    return coupon.valid_from, coupon.valid_until


def _check_claimable(coupon: Coupon, now: dt.datetime, *, granted: bool) -> None:
    if coupon.status != CouponStatus.ACTIVE.value and not (
        granted and coupon.status == CouponStatus.DRAFT.value
    ):
        raise Conflict(
            f"coupon {coupon.code} is {coupon.status} and cannot be claimed",
            code="coupon_not_active",
            field="coupon_id",
        )
    if coupon.valid_until is not None and now >= coupon.valid_until:
        raise Conflict(f"coupon {coupon.code} has expired", code="expired", field="coupon_id")


async def _claims_held(session: AsyncSession, coupon_id: int, customer_id: int) -> int:
    statement = select(func.count()).where(
        CustomerCoupon.coupon_id == coupon_id, CustomerCoupon.customer_id == customer_id
    )
    return int((await session.execute(statement)).scalar_one())


async def _issue(
    session: AsyncSession,
    *,
    shop_id: int,
    coupon_id: int,
    customer_id: int,
    source: ClaimSource,
    reason: str = "",
    live_session_id: int | None = None,
) -> CustomerCoupon:
    coupon = await get_coupon(session=session, shop_id=shop_id, coupon_id=coupon_id)
    await customers_service.get_customer(session=session, shop_id=shop_id, customer_id=customer_id)
    now = utcnow()
    _check_claimable(coupon, now, granted=source == ClaimSource.GRANT)
    for _attempt in range(CLAIM_ATTEMPTS):
        seq = await _claims_held(session, coupon.id, customer_id) + 1
        if seq > coupon.per_customer_limit:
            raise Conflict(
                f"you already hold {seq - 1} of coupon {coupon.code} "
                f"(at most {coupon.per_customer_limit} per customer)",
                code="claim_limit_reached",
                field="coupon_id",
            )
        valid_from, valid_until = _instance_window(coupon, now)
        savepoint = await session.begin_nested()
        try:
            claimed = (
                await session.execute(
                    update(Coupon)
                    .where(
                        Coupon.id == coupon.id,
                        Coupon.shop_id == shop_id,
                        Coupon.claimed_count < Coupon.total_quantity,
                    )
                    .values(claimed_count=Coupon.claimed_count + 1)
                    .returning(Coupon.claimed_count)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one_or_none()
            if claimed is None:
                await savepoint.rollback()
                raise Conflict(
                    f"coupon {coupon.code} has all been claimed ({coupon.total_quantity} issued)",
                    code="used_up",
                    field="coupon_id",
                )
            issued = CustomerCoupon(
                shop_id=shop_id,
                coupon=coupon,
                customer_id=customer_id,
                claim_seq=seq,
                valid_from=valid_from,
                valid_until=valid_until,
                source=source.value,
                reason=reason[:200],
                live_session_id=live_session_id,
                claimed_at=now,
            )
            session.add(issued)
            await session.flush()
        except IntegrityError:
            # Another claim by the same customer took this claim_seq first: count again.
            await savepoint.rollback()
            continue
        await savepoint.commit()
        await session.refresh(coupon, attribute_names=["claimed_count"])
        await _record_event(
            session,
            shop_id=shop_id,
            kind="coupon_claimed",
            customer_id=customer_id,
            live_session_id=live_session_id,
            properties={"coupon_id": coupon.id, "source": source.value},
        )
        return issued
    raise Conflict(
        f"coupon {coupon.code} is being claimed by this customer elsewhere; try again",
        code="claim_busy",
        field="coupon_id",
    )


async def claim_coupon(
    *,
    session: AsyncSession,
    shop_id: int,
    coupon_id: int,
    customer_id: int,
    source: ClaimSource = ClaimSource.LINK,
    live_session_id: int | None = None,
) -> CustomerCoupon:
    """A customer claims an active coupon (live room or link). Never more than the total,
    never more than the per-customer limit, whatever the concurrency."""
    return await _issue(
        session,
        shop_id=shop_id,
        coupon_id=coupon_id,
        customer_id=customer_id,
        source=source,
        live_session_id=live_session_id,
    )


async def grant_coupon(
    *, session: AsyncSession, shop_id: int, coupon_id: int, customer_id: int, reason: str
) -> CustomerCoupon:
    """The system gives a customer a coupon (journeys, points, customer service). Draft
    coupons may be granted (a coupon kept off the claim page); quantity and limit still hold."""
    return await _issue(
        session,
        shop_id=shop_id,
        coupon_id=coupon_id,
        customer_id=customer_id,
        source=ClaimSource.GRANT,
        reason=reason,
    )


async def list_claims(
    *, session: AsyncSession, shop_id: int, coupon_id: int, page: int = 1, per_page: int = 50
) -> Page[CustomerCoupon]:
    await get_coupon(session=session, shop_id=shop_id, coupon_id=coupon_id)
    statement = (
        scoped(CustomerCoupon, shop_id)
        .where(CustomerCoupon.coupon_id == coupon_id)
        .order_by(CustomerCoupon.id.desc())
    )
    return await paginate(session, statement, page=page, per_page=per_page)


async def claim_counts(*, session: AsyncSession, shop_id: int, coupon_id: int) -> dict[str, int]:
    """Issued coupons of one coupon by status: what the console shows next to it."""
    rows = await session.execute(
        scoped(CustomerCoupon, shop_id, CustomerCoupon.status, func.count())
        .where(CustomerCoupon.coupon_id == coupon_id)
        .group_by(CustomerCoupon.status)
    )
    return {status: int(count) for status, count in rows.all()}


async def list_customer_coupons(
    *, session: AsyncSession, shop_id: int, customer_id: int, usable_only: bool = False
) -> list[CustomerCoupon]:
    statement = (
        scoped(CustomerCoupon, shop_id)
        .where(CustomerCoupon.customer_id == customer_id)
        .order_by(CustomerCoupon.id.desc())
    )
    if usable_only:
        statement = statement.where(CustomerCoupon.status.in_(USABLE))
    return list((await session.execute(statement)).scalars().unique().all())


# --------------------------------------------------------------------------- checkout


async def get_customer_coupon(
    *, session: AsyncSession, shop_id: int, customer_coupon_id: int
) -> CustomerCoupon:
    return await get_scoped(
        session,
        CustomerCoupon,
        shop_id=shop_id,
        record_id=customer_coupon_id,
        label="customer_coupon",
    )


def evaluate_issued(
    issued: CustomerCoupon,
    lines: Sequence[PricedLineLike],
    *,
    shipping_fen: int,
    customer_id: int | None,
    now: dt.datetime | None = None,
) -> CouponEvaluation:
    return evaluate_coupon(
        rule_for(issued.coupon, issued),
        lines,
        shipping_fen=shipping_fen,
        now=now or utcnow(),
        customer_id=customer_id,
    )


async def check_customer_coupon(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    customer_coupon_id: int,
    lines: Sequence[PricedLineLike],
    shipping_fen: int,
) -> CouponEvaluation:
    """The evaluation of a coupon the customer chose; InvalidInput (code = reason code,
    field customer_coupon_id) saying exactly why when it does not apply. Another shop's
    coupon is not found."""
    issued = await get_customer_coupon(
        session=session, shop_id=shop_id, customer_coupon_id=customer_coupon_id
    )
    evaluation = evaluate_issued(issued, lines, shipping_fen=shipping_fen, customer_id=customer_id)
    if not evaluation.applicable:
        raise InvalidInput(
            evaluation.reason or "coupon does not apply",
            code=evaluation.reason_code or "coupon_not_applicable",
            field="customer_coupon_id",
            details=[
                {
                    "code": evaluation.reason_code,
                    "message": evaluation.reason,
                    "message_zh": evaluation.reason_zh,
                }
            ],
        )
    return evaluation


async def evaluate_customer_coupons(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    lines: Sequence[PricedLineLike],
    shipping_fen: int,
) -> list[tuple[CustomerCoupon, CouponEvaluation]]:
    """Every usable coupon the customer holds, each with its evaluation for these lines
    (the checkout's coupon picker shows the inapplicable ones greyed with their reason)."""
    now = utcnow()
    held = await list_customer_coupons(
        session=session, shop_id=shop_id, customer_id=customer_id, usable_only=True
    )
    return [
        (
            issued,
            evaluate_issued(
                issued, lines, shipping_fen=shipping_fen, customer_id=customer_id, now=now
            ),
        )
        for issued in held
    ]


async def best_coupon_for(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    lines: Sequence[PricedLineLike],
    shipping_fen: int,
) -> tuple[CustomerCoupon | None, CouponEvaluation | None]:
    """The customer's coupon that saves the most on these lines (ties: expires first)."""
    evaluated = await evaluate_customer_coupons(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        lines=lines,
        shipping_fen=shipping_fen,
    )
    return pick_best([(issued, ev, issued.valid_until) for issued, ev in evaluated])


async def lock_customer_coupon_for_order(
    *, session: AsyncSession, shop_id: int, customer_coupon_id: int, order_id: int
) -> None:
    """available/returned → locked by this order, or Conflict(already_used) when another
    order took it first (double-click, two tabs)."""
    locked = (
        await session.execute(
            update(CustomerCoupon)
            .where(
                CustomerCoupon.id == customer_coupon_id,
                CustomerCoupon.shop_id == shop_id,
                CustomerCoupon.status.in_(USABLE),
            )
            .values(status=CustomerCouponStatus.LOCKED.value, order_id=order_id)
            .returning(CustomerCoupon.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if locked is None:
        issued = await get_customer_coupon(
            session=session, shop_id=shop_id, customer_coupon_id=customer_coupon_id
        )
        raise Conflict(
            f"coupon {issued.coupon.code} is already "
            + ("held by another unpaid order" if issued.status == "locked" else issued.status),
            code="already_used",
            field="customer_coupon_id",
        )
    await _refresh_loaded(session, customer_coupon_id)


async def _refresh_loaded(session: AsyncSession, customer_coupon_id: int) -> None:
    from sqlalchemy.orm.util import identity_key

    loaded = session.sync_session.identity_map.get(identity_key(CustomerCoupon, customer_coupon_id))
    if loaded is not None:
        await session.refresh(loaded)


async def _move_order_coupon(
    session: AsyncSession,
    *,
    order: Any,
    from_statuses: Sequence[str],
    values: dict[str, Any],
) -> int | None:
    """Move the order's coupon between statuses by a conditional UPDATE; its id, or None when
    the order has none or it was moved already (hooks run again: nothing more happens)."""
    customer_coupon_id = getattr(order, "customer_coupon_id", None)
    if customer_coupon_id is None:
        return None
    moved = (
        await session.execute(
            update(CustomerCoupon)
            .where(
                CustomerCoupon.id == customer_coupon_id,
                CustomerCoupon.shop_id == order.shop_id,
                CustomerCoupon.order_id == order.id,
                CustomerCoupon.status.in_(tuple(from_statuses)),
            )
            .values(**values)
            .returning(CustomerCoupon.coupon_id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if moved is not None:
        await _refresh_loaded(session, customer_coupon_id)
    return moved


@hooks.on("order_released")
async def release_order_coupon(*, session: AsyncSession, order: Any, **_: Any) -> None:
    """An unpaid order expired or was cancelled: its coupon is available again."""
    await _move_order_coupon(
        session,
        order=order,
        from_statuses=[CustomerCouponStatus.LOCKED.value],
        values={"status": CustomerCouponStatus.AVAILABLE.value, "order_id": None},
    )


@hooks.on("order_paid")
async def use_order_coupon(*, session: AsyncSession, order: Any, **_: Any) -> None:
    coupon_id = await _move_order_coupon(
        session,
        order=order,
        from_statuses=[CustomerCouponStatus.LOCKED.value],
        values={"status": CustomerCouponStatus.USED.value, "used_at": utcnow()},
    )
    if coupon_id is None:
        return
    await session.execute(
        update(Coupon)
        .where(Coupon.id == coupon_id, Coupon.shop_id == order.shop_id)
        .values(used_count=Coupon.used_count + 1)
        .execution_options(synchronize_session=False)
    )
    await _record_event(
        session,
        shop_id=order.shop_id,
        kind="coupon_used",
        customer_id=order.customer_id,
        live_session_id=getattr(order, "live_session_id", None),
        properties={
            "coupon_id": coupon_id,
            "order_id": order.id,
            "discount_fen": getattr(order, "discount_fen", 0),
        },
    )


@hooks.on("order_refunded")
async def return_order_coupon(*, session: AsyncSession, order: Any, **_: Any) -> None:
    """A fully refunded order gives its coupon back when the coupon says so (a partial
    refund keeps it used: the rest of the order still had the discount)."""
    paid = getattr(order, "paid_fen", 0) or 0
    if paid <= 0 or (getattr(order, "refunded_fen", 0) or 0) < paid:
        return
    customer_coupon_id = getattr(order, "customer_coupon_id", None)
    if customer_coupon_id is None:
        return
    issued = await session.get(CustomerCoupon, customer_coupon_id)
    if issued is None or issued.shop_id != order.shop_id or not issued.coupon.return_on_refund:
        return
    coupon_id = await _move_order_coupon(
        session,
        order=order,
        from_statuses=[CustomerCouponStatus.USED.value],
        values={
            "status": CustomerCouponStatus.RETURNED.value,
            "order_id": None,
            "returned_at": utcnow(),
        },
    )
    if coupon_id is not None:
        await session.execute(
            update(Coupon)
            .where(Coupon.id == coupon_id, Coupon.used_count > 0)
            .values(used_count=Coupon.used_count - 1)
            .execution_options(synchronize_session=False)
        )


# ------------------------------------------------------------------------- live room


def coupon_push_message(coupon: Coupon) -> dict[str, Any]:
    """The `coupon_push` room message (docs/live-protocol.md)."""
    return {
        "type": "coupon_push",
        "coupon": {
            "id": coupon.id,
            "code": coupon.code,
            "title": coupon.title,
            "kind": coupon.kind,
            "value_text": coupon_value_text(coupon),
            "amount_off_fen": coupon.amount_off_fen,
            "percent_off": coupon.percent_off,
            "threshold_fen": coupon.threshold_fen,
            "remaining": coupon.remaining,
            "ends_at": coupon.valid_until.isoformat() if coupon.valid_until else None,
        },
    }


async def push_coupon_to_live(
    *, session: AsyncSession, shop_id: int, coupon_id: int, live_session_id: int
) -> Coupon:
    """The anchor shows a coupon in the room; viewers claim it with their viewer token."""
    from liveloop.live.models import LiveSession

    coupon = await get_coupon(session=session, shop_id=shop_id, coupon_id=coupon_id)
    await get_scoped(
        session, LiveSession, shop_id=shop_id, record_id=live_session_id, label="live_session"
    )
    if coupon.status != CouponStatus.ACTIVE.value:
        raise Conflict(
            f"coupon {coupon.code} is {coupon.status}; activate it before pushing it",
            code="coupon_not_active",
            field="coupon_id",
        )
    send_after_commit(session, live_session_id=live_session_id, message=coupon_push_message(coupon))
    return coupon


async def _record_event(
    session: AsyncSession,
    *,
    shop_id: int,
    kind: str,
    customer_id: int | None,
    live_session_id: int | None,
    properties: dict[str, Any],
) -> None:
    from liveloop.events import service as events_service

    item: dict[str, Any] = {"type": kind, "customer_id": customer_id, "properties": properties}
    if live_session_id is not None:
        item["live_session_id"] = live_session_id
    await events_service.ingest_events(
        session=session, shop_id=shop_id, items=[item], mark_customers_active=False
    )


async def live_sessions_for_push(*, session: AsyncSession, shop_id: int) -> list[Any]:
    """Live sessions a coupon can be pushed to: live now or scheduled (latest first)."""
    from liveloop.live import service as live_service

    result = await live_service.list_live_sessions(session=session, shop_id=shop_id, per_page=50)
    return [s for s in result.items if s.status in ("live", "scheduled")]
