"""Payments: open a payment for an order, store and apply the provider's notifications.

A notification is stored exactly as it arrived (`store_notification`, committed on its own by
the route) before it is verified or answered, then applied (`process_notification`):

    verified? ─no→ rejected (401 signature_invalid, kept, logged)
    known payment, amount equal? ─no→ refused (payment_not_found / amount_mismatch, logged)
    pending → succeeded (a conditional UPDATE: a repeat or a concurrent twin changes nothing)
    orders.mark_order_paid ─order expired/cancelled/paid by another payment→ to_refund + refund

A notification left `received` (the process died between store and apply) is picked up by the
`reprocess_notifications` job.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks, idempotency
from liveloop.commerce import orders as orders_service
from liveloop.commerce.models import Order, OrderStatus
from liveloop.commerce.payments import accounts
from liveloop.commerce.payments.models import (
    NotificationStatus,
    Payment,
    PaymentNotification,
    PaymentStatus,
    Provider,
)
from liveloop.commerce.payments.providers.base import (
    TRADE_CLOSED,
    TRADE_SUCCESS,
    ForgedNotification,
    PaymentRequest,
    ProviderError,
)
from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, LiveLoopError, NotFound

log = structlog.get_logger(__name__)

NOTIFY_PROVIDERS = {"demo": ("demo",), "wechatpay": ("wechatpay_jsapi", "wechatpay_h5")}
MAX_NOTIFICATION_BYTES = 64 * 1024


class PaymentProviderFailed(LiveLoopError):
    """The provider refused or could not be reached; nothing was charged."""

    status_code = 502
    default_code = "provider_error"


def format_money(fen: int) -> str:
    """12345 -> '¥123.45' (messages name the amounts they are about)."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def new_number(prefix: str) -> str:
    """'P20261123053712' + 8 random digits: sortable, unique enough, inside WeChat's 32."""
    return f"{prefix}{utcnow():%Y%m%d%H%M%S}{secrets.randbelow(10**8):08d}"


def notify_url(shop_id: int, provider: str) -> str:
    family = "demo" if provider == Provider.DEMO else "wechatpay"
    base = accounts.current_settings().public_base_url
    return f"{base}/api/v1/payments/{family}/notify/{shop_id}"


def check_provider(provider: str) -> Provider:
    try:
        return Provider(provider)
    except ValueError:
        raise InvalidInput(
            f"unknown payment provider {provider!r}; use demo, wechatpay_jsapi or wechatpay_h5",
            code="unknown_provider",
            field="provider",
        ) from None


def check_return_url(url: str) -> str:
    """A path on this site, or a URL of this site: the pay page sends the payer there, so a
    foreign address would make LiveLoop an open redirect."""
    if not url or (url.startswith("/") and not url.startswith("//")):
        return url
    base = accounts.current_settings().public_base_url
    if url == base or url.startswith(base + "/"):
        return url
    raise InvalidInput(
        f"return_url must be a path on this site or start with {base}/",
        code="return_url_foreign",
        field="return_url",
    )


def check_order_payable(order: Order, *, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise Conflict(
            f"order {order.number} is {order.status}; only an order awaiting payment can be paid",
            code="order_not_payable",
            field="order_id",
        )
    if order.expires_at is not None and order.expires_at <= now:
        raise Conflict(
            f"order {order.number} expired at {order.expires_at:%Y-%m-%d %H:%M} UTC; "
            "place it again",
            code="order_not_payable",
            field="order_id",
        )


async def get_payment(*, session: AsyncSession, shop_id: int, payment_id: int) -> Payment:
    return await get_scoped(session, Payment, shop_id=shop_id, record_id=payment_id)


async def get_customer_payment(
    *, session: AsyncSession, shop_id: int, customer_id: int, payment_id: int
) -> Payment:
    """A payment of one of the customer's orders; anyone else's is 'not found'."""
    payment = await get_payment(session=session, shop_id=shop_id, payment_id=payment_id)
    order = await orders_service.get_order(
        session=session, shop_id=shop_id, order_id=payment.order_id
    )
    if order.customer_id != customer_id:
        raise NotFound(f"payment {payment_id} was not found", code="payment_not_found", field="id")
    return payment


async def list_payments(*, session: AsyncSession, shop_id: int, order_id: int) -> list[Payment]:
    await orders_service.get_order(session=session, shop_id=shop_id, order_id=order_id)
    statement = scoped(Payment, shop_id).where(Payment.order_id == order_id).order_by(Payment.id)
    return list((await session.execute(statement)).scalars())


async def create_payment(
    *,
    session: AsyncSession,
    shop_id: int,
    order_id: int,
    provider: str,
    idempotency_key: str | None,
    return_url: str,
    client_ip: str | None,
    openid: str | None = None,
    customer_id: int | None = None,
) -> Payment:
    """Open a payment for an unpaid order and ask the provider for what the client needs
    (`payment.prepay`). A repeat with the same Idempotency-Key returns the first payment; an
    open payment of the same provider and amount is reused (its prepay asked again), so a
    double click never makes two trades."""
    name = check_provider(provider)
    return_url = check_return_url(return_url)
    claim = await idempotency.claim_key(
        session=session,
        shop_id=shop_id,
        scope=f"payment:o{order_id}",
        key=idempotency_key,
        body={"provider": name.value, "return_url": return_url, "openid": openid},
    )
    if claim.replay_id is not None:
        return await get_payment(session=session, shop_id=shop_id, payment_id=claim.replay_id)
    order = await orders_service.get_order(session=session, shop_id=shop_id, order_id=order_id)
    if customer_id is not None and order.customer_id != customer_id:
        raise NotFound(f"order {order_id} was not found", code="order_not_found", field="id")
    check_order_payable(order)
    if name == Provider.DEMO and not await accounts.demo_allowed(session=session, shop_id=shop_id):
        raise InvalidInput(
            "this shop does not take demo payments; pay with WeChat Pay",
            code="provider_disabled",
            field="provider",
        )
    payment = (
        await session.execute(
            scoped(Payment, shop_id).where(
                Payment.order_id == order.id,
                Payment.provider == name.value,
                Payment.amount_fen == order.total_fen,
                Payment.status == PaymentStatus.PENDING,
            )
        )
    ).scalar_one_or_none()
    if payment is None:
        payment = Payment(
            shop_id=shop_id,
            order_id=order.id,
            number=new_number("P"),
            provider=name.value,
            amount_fen=order.total_fen,
            idempotency_key=idempotency_key,
        )
        session.add(payment)
    payment.return_url = return_url[:500]
    payment.client_ip = (client_ip or "")[:64]
    payment.openid = (openid or "")[:128]
    await session.flush()
    request = PaymentRequest(
        shop_id=shop_id,
        payment_id=payment.id,
        out_trade_no=payment.number,
        amount_fen=payment.amount_fen,
        description=f"订单 {order.number}",
        notify_url=notify_url(shop_id, name),
        # WeChat sends an H5 payer back to a full URL only
        return_url=(accounts.current_settings().public_base_url + return_url)
        if return_url.startswith("/")
        else return_url,
        client_ip=client_ip,
        openid=openid,
        expires_at=order.expires_at,
    )
    try:
        async with accounts.provider_for(
            session=session, shop_id=shop_id, provider=name
        ) as gateway:
            result = await gateway.create_prepay(request)
    except ProviderError as exc:
        log.warning("payment_prepay_failed", payment=payment.number, code=exc.code)
        raise PaymentProviderFailed(exc.message, code=exc.code, field="provider") from None
    payment.prepay = {**result.as_dict(), "provider_ref": result.provider_ref}
    await idempotency.complete_key(
        session=session, claim=claim, resource_type="payment", resource_id=payment.id
    )
    await session.flush()
    return payment


# ------------------------------------------------------------------------------ notifications


@dataclass(frozen=True)
class NotificationOutcome:
    """How to answer the provider: 2xx means "received, stop retrying"."""

    status: str
    http_status: int
    code: str
    message: str

    @property
    def accepted(self) -> bool:
        return self.http_status < 300

    def body(self) -> dict[str, Any]:
        if self.accepted:
            return {"code": "SUCCESS", "message": self.message}
        return {"code": self.code, "message": self.message, "field": None}


OUTCOME_HTTP = {
    NotificationStatus.APPLIED: 200,
    NotificationStatus.DUPLICATE: 200,
    NotificationStatus.REJECTED: 401,
}


def outcome_of(note: PaymentNotification) -> NotificationOutcome:
    status = NotificationStatus(note.status)
    if status == NotificationStatus.REFUSED:
        http = 400 if note.error_code == "amount_mismatch" else 404
    else:
        http = OUTCOME_HTTP.get(status, 500)
    message = note.error_message or ("received" if http < 300 else "not processed yet")
    return NotificationOutcome(note.status, http, note.error_code or "ok", message)


async def store_notification(
    *,
    session: AsyncSession,
    shop_id: int,
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
) -> PaymentNotification:
    """Keep the notification exactly as received, before anything else looks at it."""
    if provider not in NOTIFY_PROVIDERS:
        raise NotFound(f"no notify endpoint for provider {provider!r}", code="unknown_provider")
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise InvalidInput(
            f"the notification is {len(body)} bytes; at most {MAX_NOTIFICATION_BYTES} accepted",
            code="notification_too_large",
        )
    kept = {
        key: value
        for key, value in headers.items()
        if key.lower().startswith("wechatpay-") or key.lower() in {"content-type", "user-agent"}
    }
    note = PaymentNotification(shop_id=shop_id, provider=provider, headers=kept, body=body)
    session.add(note)
    await session.flush()
    return note


def _settle(
    note: PaymentNotification, status: NotificationStatus, code: str = "", message: str = ""
) -> NotificationOutcome:
    note.status = status.value
    note.error_code = code[:64]
    note.error_message = message[:500]
    note.processed_at = utcnow()
    return outcome_of(note)


async def process_notification(
    *, session: AsyncSession, shop_id: int, notification_id: int, now: dt.datetime | None = None
) -> NotificationOutcome:
    """Verify and apply one stored notification; running it again changes nothing."""
    note = await get_scoped(
        session, PaymentNotification, shop_id=shop_id, record_id=notification_id
    )
    if note.status != NotificationStatus.RECEIVED:
        return outcome_of(note)
    note.attempts += 1
    family = NOTIFY_PROVIDERS[note.provider][0]
    try:
        async with accounts.provider_for(
            session=session, shop_id=shop_id, provider=family
        ) as gateway:
            verified = gateway.parse_notification(note.headers, bytes(note.body), now=now)
    except (ForgedNotification, NotFound) as exc:
        code = getattr(exc, "code", "signature_invalid")
        log.warning(
            "payment_notification_rejected", shop_id=shop_id, notification=note.id, reason=code
        )
        return _settle(
            note,
            NotificationStatus.REJECTED,
            "signature_invalid",
            f"the notification was refused ({code}): {getattr(exc, 'message', exc)}",
        )
    note.out_trade_no = verified.out_trade_no[:32]
    note.transaction_id = verified.transaction_id[:64]
    note.amount_fen = verified.amount_fen
    payment = (
        await session.execute(
            scoped(Payment, shop_id).where(
                Payment.number == verified.out_trade_no,
                Payment.provider.in_(NOTIFY_PROVIDERS[note.provider]),
            )
        )
    ).scalar_one_or_none()
    if payment is None:
        log.error("payment_notification_unknown_trade", shop_id=shop_id, trade=note.out_trade_no)
        return _settle(
            note,
            NotificationStatus.REFUSED,
            "payment_not_found",
            f"no payment {verified.out_trade_no} in this shop",
        )
    note.payment_id = payment.id
    if verified.amount_fen != payment.amount_fen:
        log.error(
            "payment_notification_amount_mismatch",
            payment=payment.number,
            expected=payment.amount_fen,
            notified=verified.amount_fen,
        )
        return _settle(
            note,
            NotificationStatus.REFUSED,
            "amount_mismatch",
            f"payment {payment.number} is for {format_money(payment.amount_fen)} but the "
            f"notification says {format_money(verified.amount_fen)}",
        )
    if verified.status != TRADE_SUCCESS:
        if verified.status == TRADE_CLOSED:
            await session.execute(
                update(Payment)
                .where(Payment.id == payment.id, Payment.status == PaymentStatus.PENDING)
                .values(status=PaymentStatus.CLOSED.value)
                .execution_options(synchronize_session=False)
            )
            await session.refresh(payment)
        return _settle(note, NotificationStatus.APPLIED, "", f"trade is {verified.status}")
    paid_at = verified.paid_at or utcnow()
    # Only the first of any number of repeats (or concurrent twins) gets a row back here.
    won = (
        await session.execute(
            update(Payment)
            .where(
                Payment.id == payment.id,
                Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.CLOSED]),
            )
            .values(
                status=PaymentStatus.SUCCEEDED.value,
                transaction_id=verified.transaction_id[:64],
                paid_at=paid_at,
            )
            .returning(Payment.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    await session.refresh(payment)
    if won is None:
        return _settle(note, NotificationStatus.DUPLICATE, "", "already received")
    await _apply_to_order(session=session, payment=payment, paid_at=paid_at)
    return _settle(note, NotificationStatus.APPLIED, "", "received")


async def _apply_to_order(*, session: AsyncSession, payment: Payment, paid_at: dt.datetime) -> None:
    """Mark the order paid; money for an order that cannot take it goes back (a refund job)."""
    problem = ""
    try:
        async with session.begin_nested():
            order = await orders_service.mark_order_paid(
                session=session,
                shop_id=payment.shop_id,
                order_id=payment.order_id,
                amount_fen=payment.amount_fen,
                paid_at=paid_at,
                payment_ref=payment.number,
                time_resolution=orders_service.PROVIDER_TIME_RESOLUTION,
            )
            if order.payment_ref and order.payment_ref != payment.number:
                problem = f"order {order.number} was already paid by payment {order.payment_ref}"
    except LiveLoopError as exc:
        if exc.code not in {
            "order_not_payable",
            "order_already_paid",
            "amount_mismatch",
            "invalid_order_state",
        }:
            raise
        problem = exc.message
    if not problem:
        return
    from liveloop.commerce.payments import refunds  # refunds builds on this module

    log.warning("payment_for_unpayable_order", payment=payment.number, problem=problem)
    payment.status = PaymentStatus.TO_REFUND.value
    payment.note = problem[:300]
    await refunds.refund_unapplied_payment(session=session, payment=payment, reason=problem)


async def handle_notification(
    *,
    session: AsyncSession,
    shop_id: int,
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
    now: dt.datetime | None = None,
) -> NotificationOutcome:
    """Store and apply in one unit of work (jobs, tests). The notify route stores in a unit of
    work of its own first, so a crash while applying still leaves the notification kept."""
    note = await store_notification(
        session=session, shop_id=shop_id, provider=provider, headers=headers, body=body
    )
    return await process_notification(
        session=session, shop_id=shop_id, notification_id=note.id, now=now
    )


# A stored notification that failed this many times is left for a person (console list).
MAX_NOTIFICATION_ATTEMPTS = 20


async def count_failed_attempt(*, session: AsyncSession, shop_id: int, notification_id: int) -> int:
    """Count a processing attempt that crashed (its own changes were rolled back)."""
    attempts = await session.scalar(
        update(PaymentNotification)
        .where(PaymentNotification.shop_id == shop_id, PaymentNotification.id == notification_id)
        .values(attempts=PaymentNotification.attempts + 1)
        .returning(PaymentNotification.attempts)
    )
    return int(attempts or 0)


async def unprocessed_notifications(
    *, session: AsyncSession, older_than: dt.timedelta, limit: int = 200
) -> list[tuple[int, int]]:
    """(shop id, notification id) of notifications stored but never applied (any shop: this
    is the sweeper's view, not a request's)."""
    cutoff = utcnow() - older_than
    rows = await session.execute(
        select(PaymentNotification.shop_id, PaymentNotification.id)
        .where(
            PaymentNotification.status == NotificationStatus.RECEIVED,
            PaymentNotification.received_at <= cutoff,
            PaymentNotification.attempts < MAX_NOTIFICATION_ATTEMPTS,
        )
        .order_by(PaymentNotification.id)
        .limit(limit)
    )
    return [(shop_id, note_id) for shop_id, note_id in rows.all()]


async def list_notifications(
    *, session: AsyncSession, shop_id: int, payment_id: int | None = None, limit: int = 50
) -> list[PaymentNotification]:
    statement = scoped(PaymentNotification, shop_id).order_by(PaymentNotification.id.desc())
    if payment_id is not None:
        statement = statement.where(PaymentNotification.payment_id == payment_id)
    return list((await session.execute(statement.limit(limit))).scalars())


@hooks.on("order_released")
async def close_open_payments(*, session: AsyncSession, order: Order, **_: Any) -> None:
    """An order expired or cancelled unpaid: its open payments are closed. Money that still
    arrives for one is taken in and refunded (see _apply_to_order)."""
    await session.execute(
        update(Payment)
        .where(
            Payment.shop_id == order.shop_id,
            Payment.order_id == order.id,
            Payment.status == PaymentStatus.PENDING,
        )
        .values(status=PaymentStatus.CLOSED.value, note="order " + order.status)
        .execution_options(synchronize_session=False)
    )
