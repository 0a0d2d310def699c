"""JSON routes of payments: pay an order (viewer), provider notifications, refunds (console and
viewer), the shop's WeChat Pay account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from liveloop.commerce.payments import accounts, refunds, service
from liveloop.commerce.payments.schemas import (
    NotificationOut,
    PaymentCreate,
    PaymentOut,
    RefundCreate,
    RefundOut,
    RefundReject,
    WeChatPayAccountBody,
)
from liveloop.core.deps import DbSession, SessionOpener
from liveloop.core.errors import Unauthenticated
from liveloop.live.viewers import ViewerClaims, read_viewer_token
from liveloop.shops import service as shops_service
from liveloop.shops.auth import client_ip, current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter()
console = APIRouter(prefix="/api/v1", tags=["payments"], dependencies=[Depends(current_actor)])
public = APIRouter(prefix="/api/v1/public", tags=["payments (viewer)"])
notify = APIRouter(prefix="/api/v1/payments", tags=["payments (provider callbacks)"])

OrdersManager = Annotated[Actor, requires(P.ORDERS_MANAGE)]
ShopManager = Annotated[Actor, requires(P.SHOP_MANAGE)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


async def buyer(request: Request) -> ViewerClaims:
    """The viewer token's claims; paying and refunds need a customer (not a guest)."""
    authorization = request.headers.get("authorization", "")
    if not authorization.lower().startswith("bearer "):
        raise Unauthenticated("send 'Authorization: Bearer <viewer token>'", code="token_missing")
    claims = read_viewer_token(request.app.state.settings, authorization[7:].strip())
    if claims.customer_id is None:
        raise Unauthenticated(
            "a guest token cannot pay; place the order first to get a customer token",
            code="customer_required",
        )
    return claims


Buyer = Annotated[ViewerClaims, Depends(buyer)]


# ------------------------------------------------------------------------------------ viewer


@public.post("/orders/{order_id}/payments", response_model=PaymentOut, status_code=201)
async def pay_order(
    order_id: int,
    data: PaymentCreate,
    request: Request,
    session: DbSession,
    claims: Buyer,
    idempotency_key: IdempotencyKey = None,
) -> PaymentOut:
    payment = await service.create_payment(
        session=session,
        shop_id=claims.shop_id,
        order_id=order_id,
        provider=data.provider,
        idempotency_key=idempotency_key,
        return_url=data.return_url,
        client_ip=client_ip(request),
        openid=data.openid,
        customer_id=claims.customer_id,
    )
    return PaymentOut.model_validate(payment)


@public.get("/payments/{payment_id}", response_model=PaymentOut)
async def my_payment(payment_id: int, session: DbSession, claims: Buyer) -> PaymentOut:
    payment = await service.get_customer_payment(
        session=session,
        shop_id=claims.shop_id,
        customer_id=claims.customer_id or 0,
        payment_id=payment_id,
    )
    return PaymentOut.model_validate(payment)


@public.post("/orders/{order_id}/refunds", response_model=RefundOut, status_code=201)
async def request_refund(
    order_id: int,
    data: RefundCreate,
    session: DbSession,
    claims: Buyer,
    idempotency_key: IdempotencyKey = None,
) -> RefundOut:
    refund = await refunds.create_refund(
        session=session,
        shop_id=claims.shop_id,
        order_id=order_id,
        lines=_lines(data),
        amount_fen=data.amount_fen,
        reason=data.reason,
        actor=None,
        idempotency_key=idempotency_key,
        customer_id=claims.customer_id,
    )
    return RefundOut.model_validate(refund)


@public.get("/orders/{order_id}/refunds", response_model=list[RefundOut])
async def my_refunds(order_id: int, session: DbSession, claims: Buyer) -> list[RefundOut]:
    found = await refunds.list_customer_refunds(
        session=session,
        shop_id=claims.shop_id,
        customer_id=claims.customer_id or 0,
        order_id=order_id,
    )
    return [RefundOut.model_validate(refund) for refund in found]


def _lines(data: RefundCreate) -> list[refunds.RefundLineIn] | None:
    if not data.lines:
        return None
    return [refunds.RefundLineIn(line.order_line_id, line.quantity) for line in data.lines]


# ------------------------------------------------------------------------- provider callbacks


@notify.post("/{provider}/notify/{shop_id}", include_in_schema=False)
async def provider_notification(
    provider: str, shop_id: int, request: Request, open_session: SessionOpener
) -> JSONResponse:
    """Stored first (its own committed unit of work), then verified and applied in another:
    a crash or an error while applying never loses what the provider told us."""
    body = await request.body()
    async with open_session() as session:
        await shops_service.get_shop(session=session, shop_id=shop_id)
        note = await service.store_notification(
            session=session,
            shop_id=shop_id,
            provider=provider,
            headers=dict(request.headers),
            body=body,
        )
        note_id = note.id
    async with open_session() as session:
        outcome = await service.process_notification(
            session=session, shop_id=shop_id, notification_id=note_id
        )
    return JSONResponse(outcome.body(), status_code=outcome.http_status)


# ------------------------------------------------------------------------------------ console


@console.get("/orders/{order_id}/payments", response_model=list[PaymentOut])
async def order_payments(
    order_id: int, session: DbSession, actor: OrdersManager
) -> list[PaymentOut]:
    payments = await service.list_payments(
        session=session, shop_id=actor.shop_id, order_id=order_id
    )
    return [PaymentOut.model_validate(payment) for payment in payments]


@console.get("/payments/{payment_id}/notifications", response_model=list[NotificationOut])
async def payment_notifications(
    payment_id: int, session: DbSession, actor: OrdersManager
) -> list[NotificationOut]:
    await service.get_payment(session=session, shop_id=actor.shop_id, payment_id=payment_id)
    notes = await service.list_notifications(
        session=session, shop_id=actor.shop_id, payment_id=payment_id
    )
    return [NotificationOut.model_validate(note) for note in notes]


@console.get("/orders/{order_id}/refunds", response_model=list[RefundOut])
async def order_refunds(order_id: int, session: DbSession, actor: OrdersManager) -> list[RefundOut]:
    found = await refunds.list_refunds(session=session, shop_id=actor.shop_id, order_id=order_id)
    return [RefundOut.model_validate(refund) for refund in found]


@console.post("/orders/{order_id}/refunds", response_model=RefundOut, status_code=201)
async def create_refund(
    order_id: int,
    data: RefundCreate,
    session: DbSession,
    actor: OrdersManager,
    idempotency_key: IdempotencyKey = None,
) -> RefundOut:
    refund = await refunds.create_refund(
        session=session,
        shop_id=actor.shop_id,
        order_id=order_id,
        lines=_lines(data),
        amount_fen=data.amount_fen,
        reason=data.reason,
        actor=actor,
        idempotency_key=idempotency_key,
    )
    return RefundOut.model_validate(refund)


@console.post("/refunds/{refund_id}/approve", response_model=RefundOut)
async def approve_refund(refund_id: int, session: DbSession, actor: OrdersManager) -> RefundOut:
    refund = await refunds.approve_refund(
        session=session, shop_id=actor.shop_id, refund_id=refund_id, actor=actor
    )
    return RefundOut.model_validate(refund)


@console.post("/refunds/{refund_id}/reject", response_model=RefundOut)
async def reject_refund(
    refund_id: int, data: RefundReject, session: DbSession, actor: OrdersManager
) -> RefundOut:
    refund = await refunds.reject_refund(
        session=session, shop_id=actor.shop_id, refund_id=refund_id, actor=actor, reason=data.reason
    )
    return RefundOut.model_validate(refund)


@console.post("/refunds/{refund_id}/retry", response_model=RefundOut)
async def retry_refund(refund_id: int, session: DbSession, actor: OrdersManager) -> RefundOut:
    refund = await refunds.retry_refund(
        session=session, shop_id=actor.shop_id, refund_id=refund_id, actor=actor
    )
    return RefundOut.model_validate(refund)


@console.get("/payment-accounts/wechatpay")
async def wechatpay_account(session: DbSession, actor: ShopManager) -> dict[str, object]:
    account = await accounts.get_account(session=session, shop_id=actor.shop_id)
    return accounts.account_summary(account)


@console.put("/payment-accounts/wechatpay")
async def set_wechatpay_account(
    data: WeChatPayAccountBody, session: DbSession, actor: ShopManager
) -> dict[str, object]:
    values = data.model_dump(exclude={"enabled"})
    account = await accounts.set_wechatpay_account(
        session=session,
        shop_id=actor.shop_id,
        data=accounts.WeChatPayAccountIn(**values),
        enabled=data.enabled,
    )
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="payments.wechatpay_account.set",
        target_type="payment_account",
        target_id=account.id,
        details={"mchid": account.mchid, "appid": account.appid, "serial_no": account.serial_no},
    )
    return accounts.account_summary(account)


router.include_router(public)
router.include_router(notify)
router.include_router(console)
