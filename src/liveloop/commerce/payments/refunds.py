"""Refunds: full or partial (by lines with quantities, or an amount), by the merchant or asked
for by the customer and decided by the merchant; money goes back through the provider.

Approving a refund books it at once, in one transaction: the order (orders.record_refund,
which locks the order row and refuses more than was paid), the payment's refunded amount (a
conditional UPDATE), stock for unshipped units, the "order_refunded" hook (coupons, commission)
and an audit entry. The provider call happens after commit, in the `submit_refund` job, keyed
by the refund number so a retry never pays twice, repeated until the provider confirms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.commerce import hooks, idempotency
from liveloop.commerce import orders as orders_service
from liveloop.commerce.models import Order, OrderLine
from liveloop.commerce.payments.models import (
    Payment,
    PaymentStatus,
    Refund,
    RefundLine,
    RefundStatus,
)
from liveloop.commerce.payments.providers.base import RefundRequest, RefundResult
from liveloop.commerce.payments.service import format_money, new_number
from liveloop.commerce.states import PAID_STATUSES
from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.jobs import enqueue_after_commit
from liveloop.events import service as events_service
from liveloop.shops.service import Actor, record_audit

log = structlog.get_logger(__name__)

OPEN_STATUSES = (RefundStatus.PENDING, RefundStatus.PROCESSING)


@dataclass(frozen=True)
class RefundLineIn:
    order_line_id: int
    quantity: int


def system_actor(shop_id: int) -> Actor:
    """Who the audit log names for refunds nobody clicked (a payment for a closed order)."""
    return Actor(shop_id=shop_id, label="system: payments", permissions=frozenset())


def line_refund_fen(line: OrderLine, quantity: int, *, already: int | None = None) -> int:
    """What `quantity` more units of a line give back: the line's paid amount (after its
    discount) split by units so that refunding every unit, in any steps, returns it exactly."""
    paid = line.line_total_fen - line.discount_fen
    done = line.refunded_quantity if already is None else already
    return paid * (done + quantity) // line.quantity - paid * done // line.quantity


def _check_lines(order: Order, lines: Sequence[RefundLineIn]) -> dict[int, int]:
    by_id = {line.id: line for line in order.lines}
    wanted: dict[int, int] = {}
    for index, item in enumerate(lines):
        line = by_id.get(item.order_line_id)
        if line is None:
            raise InvalidInput(
                f"order {order.number} has no line {item.order_line_id}",
                code="order_line_not_found",
                field=f"lines[{index}].order_line_id",
            )
        wanted[line.id] = wanted.get(line.id, 0) + item.quantity
        left = line.quantity - line.refunded_quantity
        if item.quantity <= 0 or wanted[line.id] > left:
            raise InvalidInput(
                f"{line.product_name} {line.sku_name}".strip()
                + f": {wanted[line.id]} unit(s) asked, {left} of {line.quantity} left to refund",
                code="refund_exceeds_quantity",
                field=f"lines[{index}].quantity",
            )
    return wanted


def _refund_amount(
    order: Order, lines: Sequence[RefundLineIn] | None, amount_fen: int | None
) -> tuple[int, dict[int, int]]:
    """(amount, {order line id: units}) for a request; neither lines nor amount, or an amount
    equal to all that is left, refunds everything left (shipping and remaining units)."""
    left = order.paid_fen - order.refunded_fen
    if lines and amount_fen is not None:
        raise InvalidInput(
            "give either lines or amount_fen, not both", code="invalid_refund", field="lines"
        )
    if lines:
        quantities = _check_lines(order, lines)
        by_id = {line.id: line for line in order.lines}
        amount = sum(line_refund_fen(by_id[i], q) for i, q in quantities.items())
    elif amount_fen is not None and amount_fen != left:
        amount, quantities = amount_fen, {}
    else:  # everything left (also asked as its amount): the remaining units come back too
        amount = left
        quantities = {
            line.id: line.quantity - line.refunded_quantity
            for line in order.lines
            if line.quantity > line.refunded_quantity
        }
    if amount <= 0:
        raise InvalidInput(
            f"nothing to refund: the refund comes to {format_money(amount)}",
            code="invalid_refund",
            field="amount_fen",
        )
    if amount > left:
        raise InvalidInput(
            f"a refund of {format_money(amount)} exceeds what order {order.number} can give "
            f"back: paid {format_money(order.paid_fen)}, already refunded "
            f"{format_money(order.refunded_fen)} (at most {format_money(left)})",
            code="refund_exceeds_paid",
            field="amount_fen",
        )
    return amount, quantities


async def _paid_payment(session: AsyncSession, order: Order) -> Payment:
    payment = (
        await session.execute(
            scoped(Payment, order.shop_id).where(
                Payment.order_id == order.id,
                Payment.number == order.payment_ref,
                Payment.status == PaymentStatus.SUCCEEDED,
            )
        )
    ).scalar_one_or_none()
    if payment is None:
        raise Conflict(
            f"order {order.number} has no payment received through LiveLoop to refund",
            code="payment_not_found",
            field="order_id",
        )
    return payment


def _check_refundable(order: Order) -> None:
    if order.status not in PAID_STATUSES:
        raise Conflict(
            f"order {order.number} is {order.status}; only a paid order can be refunded",
            code="order_not_refundable",
            field="order_id",
        )


async def get_refund(*, session: AsyncSession, shop_id: int, refund_id: int) -> Refund:
    return await get_scoped(session, Refund, shop_id=shop_id, record_id=refund_id)


async def list_refunds(*, session: AsyncSession, shop_id: int, order_id: int) -> list[Refund]:
    await orders_service.get_order(session=session, shop_id=shop_id, order_id=order_id)
    statement = scoped(Refund, shop_id).where(Refund.order_id == order_id).order_by(Refund.id)
    return list((await session.execute(statement)).scalars())


async def list_customer_refunds(
    *, session: AsyncSession, shop_id: int, customer_id: int, order_id: int
) -> list[Refund]:
    await orders_service.get_customer_order(
        session=session, shop_id=shop_id, customer_id=customer_id, order_id=order_id
    )
    return await list_refunds(session=session, shop_id=shop_id, order_id=order_id)


async def create_refund(
    *,
    session: AsyncSession,
    shop_id: int,
    order_id: int,
    lines: Sequence[RefundLineIn] | None = None,
    amount_fen: int | None = None,
    reason: str,
    actor: Actor | None,
    idempotency_key: str | None = None,
    customer_id: int | None = None,
) -> Refund:
    """A merchant's refund (`actor`), booked at once; or a customer's request (`customer_id`,
    no actor) waiting for the merchant's decision. A repeat Idempotency-Key returns the first."""
    claim = await idempotency.claim_key(
        session=session,
        shop_id=shop_id,
        scope=f"refund:o{order_id}",
        key=idempotency_key,
        body={
            "lines": [[item.order_line_id, item.quantity] for item in lines or []],
            "amount_fen": amount_fen,
            "reason": reason,
        },
    )
    if claim.replay_id is not None:
        return await get_refund(session=session, shop_id=shop_id, refund_id=claim.replay_id)
    order = await orders_service.get_order(session=session, shop_id=shop_id, order_id=order_id)
    if customer_id is not None and order.customer_id != customer_id:
        raise NotFound(f"order {order_id} was not found", code="order_not_found", field="id")
    _check_refundable(order)
    payment = await _paid_payment(session, order)
    amount, quantities = _refund_amount(order, lines, amount_fen)
    by_id = {line.id: line for line in order.lines}
    refund = Refund(
        shop_id=shop_id,
        order_id=order.id,
        payment_id=payment.id,
        number=new_number("R"),
        amount_fen=amount,
        reason=reason[:200],
        status=RefundStatus.REQUESTED.value,
        requested_by="merchant" if actor is not None else "customer",
        customer_id=customer_id if actor is None else None,
        actor_label=actor.label if actor is not None else "",
        idempotency_key=idempotency_key,
        lines=[
            RefundLine(
                shop_id=shop_id,
                order_line_id=line_id,
                sku_id=by_id[line_id].sku_id,
                quantity=units,
                amount_fen=line_refund_fen(by_id[line_id], units),
            )
            for line_id, units in quantities.items()
        ],
    )
    if actor is not None:
        await _book(session=session, refund=refund, actor=actor)
    else:
        session.add(refund)
        await session.flush()
    await idempotency.complete_key(
        session=session, claim=claim, resource_type="refund", resource_id=refund.id
    )
    return refund


async def approve_refund(
    *, session: AsyncSession, shop_id: int, refund_id: int, actor: Actor
) -> Refund:
    """The merchant agrees to a customer's request: book it now (amounts as they stand)."""
    refund = await _lock_refund(session, shop_id=shop_id, refund_id=refund_id)
    if refund.status != RefundStatus.REQUESTED:
        raise Conflict(
            f"refund {refund.number} is {refund.status}; only a requested refund can be approved",
            code="invalid_refund_state",
            field="status",
        )
    # Booked at the amount the customer was shown; orders.record_refund still refuses more
    # units or money than are left if other refunds were booked since the request.
    await _book(session=session, refund=refund, actor=actor)
    return refund


async def reject_refund(
    *, session: AsyncSession, shop_id: int, refund_id: int, actor: Actor, reason: str
) -> Refund:
    refund = await _lock_refund(session, shop_id=shop_id, refund_id=refund_id)
    if refund.status != RefundStatus.REQUESTED:
        raise Conflict(
            f"refund {refund.number} is {refund.status}; only a requested refund can be rejected",
            code="invalid_refund_state",
            field="status",
        )
    refund.status = RefundStatus.REJECTED.value
    refund.reject_reason = reason[:200]
    refund.decided_by = actor.label[:200]
    refund.decided_at = utcnow()
    await record_audit(
        session=session,
        actor=actor,
        action="refund.reject",
        target_type="refund",
        target_id=refund.number,
        details={"order_id": refund.order_id, "amount_fen": refund.amount_fen, "reason": reason},
    )
    await session.flush()
    return refund


async def _lock_refund(session: AsyncSession, *, shop_id: int, refund_id: int) -> Refund:
    refund = (
        await session.execute(
            scoped(Refund, shop_id)
            .where(Refund.id == refund_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if refund is None:
        raise NotFound(f"refund {refund_id} was not found", code="refund_not_found", field="id")
    return refund


async def _book(*, session: AsyncSession, refund: Refund, actor: Actor) -> None:
    """Move the refund's money, stock and order state inside the caller's transaction.

    The order row is locked first (orders.record_refund), before the refund row is inserted:
    on PostgreSQL that insert takes a key-share lock on the order (its foreign key), and two
    refunds each holding one while waiting for the order's update lock would deadlock."""
    quantities = {line.order_line_id: line.quantity for line in refund.lines}
    order = await orders_service.record_refund(
        session=session,
        shop_id=refund.shop_id,
        order_id=refund.order_id,
        amount_fen=refund.amount_fen,
        line_quantities=quantities or None,
        actor_label=actor.label,
    )
    booked = (
        await session.execute(
            update(Payment)
            .where(
                Payment.id == refund.payment_id,
                Payment.refunded_fen + refund.amount_fen <= Payment.amount_fen,
            )
            .values(refunded_fen=Payment.refunded_fen + refund.amount_fen)
            .returning(Payment.refunded_fen)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if booked is None:
        raise InvalidInput(
            f"a refund of {format_money(refund.amount_fen)} exceeds what is left of its payment",
            code="refund_exceeds_paid",
            field="amount_fen",
        )
    if refund.id is None:
        session.add(refund)
        await session.flush()
    refund.restock = bool(quantities) and order.shipped_at is None and order.stock_reserved
    if refund.restock:
        by_id = {line.id: line for line in order.lines}
        units = [
            (by_id[line_id].sku_id, count)
            for line_id, count in quantities.items()
            if by_id[line_id].sku_id is not None
        ]
        sku_units = [(sku_id, count) for sku_id, count in units if sku_id is not None]
        if sku_units:
            await catalog_service.release_stock(
                session=session,
                shop_id=refund.shop_id,
                lines=sku_units,
                reason=f"refund {refund.number}",
                actor_label=actor.label,
            )
            await catalog_service.record_sold(
                session=session,
                shop_id=refund.shop_id,
                lines=[(sku_id, -count) for sku_id, count in sku_units],
            )
    refund.status = RefundStatus.PENDING.value
    refund.decided_by = actor.label[:200]
    refund.decided_at = utcnow()
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="refund.create" if refund.requested_by == "merchant" else "refund.approve",
        target_type="refund",
        target_id=refund.number,
        details={
            "order_id": order.id,
            "order_number": order.number,
            "amount_fen": refund.amount_fen,
            "lines": {str(k): v for k, v in quantities.items()},
            "restock": refund.restock,
            "reason": refund.reason,
        },
    )
    await hooks.emit("order_refunded", session=session, order=order, refund=refund)
    await _record_refund_event(session, order, refund)
    _submit_after_commit(session, refund)


async def _record_refund_event(session: AsyncSession, order: Order, refund: Refund) -> None:
    first_product = next((line.product_id for line in order.lines if line.product_id), None)
    await events_service.ingest_events(
        session=session,
        shop_id=order.shop_id,
        items=[
            {
                "type": "order_refunded",
                "customer_id": order.customer_id,
                "live_session_id": order.live_session_id,
                "product_id": first_product,
                "client_event_id": f"order_refunded:{refund.id}",
                "properties": {
                    "order_id": order.id,
                    "refund_id": refund.id,
                    "refund_fen": refund.amount_fen,
                    "refunded_fen": order.refunded_fen,
                    "full": order.refunded_fen == order.paid_fen,
                },
            }
        ],
    )


def _submit_after_commit(session: AsyncSession, refund: Refund) -> None:
    from liveloop.commerce.payments.tasks import submit_refund

    enqueue_after_commit(session, submit_refund, shop_id=refund.shop_id, refund_id=refund.id)


async def refund_unapplied_payment(
    *, session: AsyncSession, payment: Payment, reason: str
) -> Refund:
    """Give back a payment the order could not take (expired, cancelled, paid twice)."""
    booked = (
        await session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.refunded_fen == 0)
            .values(refunded_fen=Payment.amount_fen)
            .returning(Payment.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if booked is None:
        raise Conflict(f"payment {payment.number} was already refunded", code="already_refunded")
    refund = Refund(
        shop_id=payment.shop_id,
        order_id=payment.order_id,
        payment_id=payment.id,
        number=new_number("R"),
        amount_fen=payment.amount_fen,
        reason=reason[:200],
        status=RefundStatus.PENDING.value,
        requested_by="system",
        actor_label="system: payments",
        decided_by="system: payments",
        decided_at=utcnow(),
    )
    session.add(refund)
    await session.flush()
    await record_audit(
        session=session,
        actor=system_actor(payment.shop_id),
        action="refund.unapplied_payment",
        target_type="refund",
        target_id=refund.number,
        details={"payment": payment.number, "amount_fen": payment.amount_fen, "reason": reason},
    )
    _submit_after_commit(session, refund)
    return refund


# ------------------------------------------------------------------- the provider's side


@dataclass(frozen=True)
class ProviderRefundCall:
    provider: str
    request: RefundRequest


async def provider_refund_call(
    *, session: AsyncSession, shop_id: int, refund_id: int
) -> ProviderRefundCall | None:
    """What to send the provider for this refund, or None when nothing is due."""
    refund = await get_refund(session=session, shop_id=shop_id, refund_id=refund_id)
    if refund.status not in OPEN_STATUSES:
        return None
    payment = await get_scoped(session, Payment, shop_id=shop_id, record_id=refund.payment_id)
    return ProviderRefundCall(
        provider=payment.provider,
        request=RefundRequest(
            out_trade_no=payment.number,
            transaction_id=payment.transaction_id or None,
            out_refund_no=refund.number,
            refund_fen=refund.amount_fen,
            total_fen=payment.amount_fen,
            reason=refund.reason or "退款",
            notify_url="",
        ),
    )


async def record_provider_answer(
    *,
    session: AsyncSession,
    shop_id: int,
    refund_id: int,
    result: RefundResult | None,
    error: str = "",
    final_error: bool = False,
) -> Refund:
    """Store what the provider said: succeeded, still processing, or an error (kept pending
    when a retry may help, failed when it cannot)."""
    refund = await _lock_refund(session, shop_id=shop_id, refund_id=refund_id)
    if refund.status not in OPEN_STATUSES:
        return refund
    refund.attempts += 1
    if result is None:
        refund.last_error = error[:500]
        if final_error:
            refund.status = RefundStatus.FAILED.value
            log.error("refund_failed", refund=refund.number, error=error)
        await session.flush()
        return refund
    refund.provider_refund_id = (result.provider_refund_id or "")[:64]
    refund.last_error = "" if result.status != "failed" else (result.message or "closed")[:500]
    if result.status == "succeeded":
        refund.status = RefundStatus.SUCCEEDED.value
        refund.completed_at = utcnow()
        await session.execute(
            update(Payment)
            .where(
                Payment.id == refund.payment_id,
                Payment.status == PaymentStatus.TO_REFUND,
                Payment.refunded_fen == Payment.amount_fen,
            )
            .values(status=PaymentStatus.REFUNDED.value)
            .execution_options(synchronize_session=False)
        )
    elif result.status == "failed":
        refund.status = RefundStatus.FAILED.value
        log.error("refund_failed", refund=refund.number, provider=result.message)
    else:
        refund.status = RefundStatus.PROCESSING.value
    await session.flush()
    return refund


async def retry_refund(
    *, session: AsyncSession, shop_id: int, refund_id: int, actor: Actor
) -> Refund:
    """Send a failed refund to the provider again (same refund number: never paid twice)."""
    refund = await _lock_refund(session, shop_id=shop_id, refund_id=refund_id)
    if refund.status != RefundStatus.FAILED:
        raise Conflict(
            f"refund {refund.number} is {refund.status}; only a failed refund is retried by hand",
            code="invalid_refund_state",
            field="status",
        )
    refund.status = RefundStatus.PENDING.value
    await record_audit(
        session=session, actor=actor, action="refund.retry", target_type="refund",
        target_id=refund.number, details={"last_error": refund.last_error},
    )  # fmt: skip
    _submit_after_commit(session, refund)
    return refund


async def due_refunds(
    *, session: AsyncSession, older_than: dt.timedelta, limit: int = 200
) -> list[tuple[int, int]]:
    """(shop id, refund id) of refunds the provider has not confirmed yet (every shop)."""
    cutoff = utcnow() - older_than
    rows = await session.execute(
        select(Refund.shop_id, Refund.id)
        .where(Refund.status.in_([s.value for s in OPEN_STATUSES]), Refund.updated_at <= cutoff)
        .order_by(Refund.id)
        .limit(limit)
    )
    return [(shop_id, refund_id) for shop_id, refund_id in rows.all()]
