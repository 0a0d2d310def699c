"""Pages of payments: the demo provider's hosted pay page (viewer, mobile) and the refunds
section of the console order page (loaded into C1's order detail by HTMX)."""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from liveloop.commerce import orders as orders_service
from liveloop.commerce.payments import accounts, refunds, service
from liveloop.commerce.payments.accounts import current_settings
from liveloop.commerce.payments.models import Payment, PaymentStatus, RefundStatus
from liveloop.commerce.payments.providers.demo import PAY_TOKEN_TTL, pay_token_signer
from liveloop.commerce.payments.tasks import send_demo_notification
from liveloop.commerce.states import PAID_STATUSES
from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, LiveLoopError, NotFound
from liveloop.core.jobs import enqueue_after_commit
from liveloop.core.schemas import parse_id
from liveloop.shops import service as shops_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web import i18n
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
console = console_router(prefix="/console")
OrdersManager = Annotated[Actor, console_requires(P.ORDERS_MANAGE)]
OrdersReader = Annotated[Actor, console_requires(P.ORDERS_READ)]


# ------------------------------------------------------------------------- the demo pay page


async def _payment_of_token(session: Any, token: str) -> Payment:
    try:
        claims = pay_token_signer(current_settings().resolved_secret_key()).unsign(
            token, max_age=PAY_TOKEN_TTL
        )
        shop_id, payment_id = int(claims["shop"]), int(claims["payment"])
    except (ValueError, KeyError, TypeError):
        raise NotFound(
            N_("This payment link is not valid or has expired."), code="pay_link_invalid"
        )
    payment = await service.get_payment(session=session, shop_id=shop_id, payment_id=payment_id)
    if payment.provider != "demo":
        raise NotFound(
            N_("This payment link is not valid or has expired."), code="pay_link_invalid"
        )
    return payment


def _pay_error(request: Request, exc: LiveLoopError) -> HTMLResponse:
    context = {"error": translate(request, exc.message), "payment": None}
    return render(request, "commerce/payments/demo_pay.html", context, status_code=exc.status_code)


@router.get("/pay/demo/{token}", response_class=HTMLResponse)
async def demo_pay_page(token: str, request: Request, session: DbSession) -> Response:
    try:
        payment = await _payment_of_token(session, token)
    except NotFound as exc:
        return _pay_error(request, exc)
    order = await orders_service.get_order(
        session=session, shop_id=payment.shop_id, order_id=payment.order_id
    )
    shop = await shops_service.get_shop(session=session, shop_id=payment.shop_id)
    context = {
        "payment": payment,
        "order": order,
        "pay_shop": shop,
        "token": token,
        "waiting": request.query_params.get("waiting") == "1",
        "cancelled": request.query_params.get("cancelled") == "1",
        "payable": payment.status == PaymentStatus.PENDING and order.status == "pending_payment",
    }
    chosen = i18n.normalize_language(request.query_params.get("lang"))
    if chosen:  # the page's own language links (a viewer has no console session)
        request.state.language = chosen
    response = render(request, "commerce/payments/demo_pay.html", context)
    if chosen:
        response.set_cookie(i18n.LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response


@router.post("/pay/demo/{token}/confirm")
async def demo_pay_confirm(token: str, request: Request, session: DbSession) -> Response:
    """The payer says "pay": the demo bank's job posts a signed notification to our notify
    URL over HTTP, after this commit; the page then polls until the order shows paid."""
    try:
        payment = await _payment_of_token(session, token)
    except NotFound as exc:
        return _pay_error(request, exc)
    allowed = await accounts.demo_allowed(session=session, shop_id=payment.shop_id)
    if payment.status == PaymentStatus.PENDING and allowed:
        enqueue_after_commit(
            session, send_demo_notification, shop_id=payment.shop_id, payment_id=payment.id
        )
    return redirect(f"/pay/demo/{token}?waiting=1")


@router.post("/pay/demo/{token}/cancel")
async def demo_pay_cancel(token: str, request: Request, session: DbSession) -> Response:
    try:
        payment = await _payment_of_token(session, token)
    except NotFound as exc:
        return _pay_error(request, exc)
    return redirect(payment.return_url or f"/pay/demo/{token}?cancelled=1")


@router.get("/pay/demo/{token}/status")
async def demo_pay_status(token: str, session: DbSession) -> JSONResponse:
    payment = await _payment_of_token(session, token)
    order = await orders_service.get_order(
        session=session, shop_id=payment.shop_id, order_id=payment.order_id
    )
    return JSONResponse(
        {
            "payment_status": payment.status,
            "order_status": order.status,
            "paid": payment.status == PaymentStatus.SUCCEEDED,
            "return_url": payment.return_url,
        },
        headers={"Cache-Control": "no-store"},
    )


# ------------------------------------------------------------------ console: order refunds


def yuan_to_fen(text: str, field: str) -> int:
    cleaned = text.strip().replace(",", "").replace("¥", "").replace("￥", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInput(f"{text!r} is not an amount in yuan such as 12.50", field=field)
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput(
            f"{text!r} is not a positive amount with at most two decimals", field=field
        )
    return int(amount * 100)


@console.get("/orders/{order_id}/refunds", response_class=HTMLResponse)
async def order_refunds_section(
    order_id: int, request: Request, session: DbSession, actor: OrdersReader
) -> HTMLResponse:
    order = await orders_service.get_order(
        session=session, shop_id=actor.shop_id, order_id=order_id
    )
    context = {
        "order": order,
        "payments": await service.list_payments(
            session=session, shop_id=actor.shop_id, order_id=order.id
        ),
        "refunds": await refunds.list_refunds(
            session=session, shop_id=actor.shop_id, order_id=order.id
        ),
        "lines_by_id": {line.id: line for line in order.lines},
        # Readers (analysts) see payments and refunds, not the refund form.
        "refundable": actor.can(P.ORDERS_MANAGE) and order.status in PAID_STATUSES,
        "left_fen": order.paid_fen - order.refunded_fen,
        "form_key": secrets.token_urlsafe(16),
        "RefundStatus": RefundStatus,
    }
    return render(request, "commerce/payments/_order_refunds.html", context)


def _order_page(order_id: int) -> str:
    return f"/console/orders/{order_id}"


@console.post("/orders/{order_id}/refunds")
async def create_refund_from_form(
    order_id: int,
    request: Request,
    session: DbSession,
    actor: OrdersManager,
    mode: Annotated[str, Form()] = "full",
    amount_yuan: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
    form_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    form = await request.form()
    try:
        lines: list[refunds.RefundLineIn] | None = None
        amount_fen: int | None = None
        if mode == "amount":
            amount_fen = yuan_to_fen(amount_yuan, "amount_yuan")
        elif mode == "lines":
            lines = []
            for name, value in form.multi_items():
                if name.startswith("line_") and isinstance(value, str) and value.strip():
                    line_id, units = parse_id(name[5:]), parse_id(value)
                    if line_id is None or units is None:
                        raise InvalidInput(f"{value!r} is not a number of units", field=name)
                    if units:
                        lines.append(refunds.RefundLineIn(line_id, units))
            if not lines:
                raise InvalidInput(
                    N_("Enter how many units of which line to refund."), field="lines"
                )
        elif mode != "full":
            raise InvalidInput(f"unknown refund mode {mode!r}", field="mode")
        refund = await refunds.create_refund(
            session=session,
            shop_id=actor.shop_id,
            order_id=order_id,
            lines=lines,
            amount_fen=amount_fen,
            reason=reason,
            actor=actor,
            idempotency_key=f"console:{form_key}" if form_key else None,
        )
    except (InvalidInput, Conflict) as exc:  # (another shop's order stays a 404)
        flash(request, translate(request, exc.message), "error")
        return redirect(_order_page(order_id))
    flash(request, translate(request, N_("Refund %(number)s booked."), number=refund.number))
    return redirect(_order_page(order_id))


async def _decide(
    request: Request, session: Any, actor: Actor, refund_id: int, decision: str, reason: str = ""
) -> Response:
    refund = await refunds.get_refund(session=session, shop_id=actor.shop_id, refund_id=refund_id)
    try:
        if decision == "approve":
            await refunds.approve_refund(
                session=session, shop_id=actor.shop_id, refund_id=refund_id, actor=actor
            )
            message = N_("Refund %(number)s approved.")
        elif decision == "reject":
            await refunds.reject_refund(
                session=session,
                shop_id=actor.shop_id,
                refund_id=refund_id,
                actor=actor,
                reason=reason or "rejected",
            )
            message = N_("Refund %(number)s rejected.")
        else:
            await refunds.retry_refund(
                session=session, shop_id=actor.shop_id, refund_id=refund_id, actor=actor
            )
            message = N_("Refund %(number)s sent to the payment provider again.")
    except (InvalidInput, Conflict) as exc:
        flash(request, translate(request, exc.message), "error")
        return redirect(_order_page(refund.order_id))
    flash(request, translate(request, message, number=refund.number))
    return redirect(_order_page(refund.order_id))


@console.post("/refunds/{refund_id}/approve")
async def approve_refund_page(
    refund_id: int, request: Request, session: DbSession, actor: OrdersManager
) -> Response:
    return await _decide(request, session, actor, refund_id, "approve")


@console.post("/refunds/{refund_id}/reject")
async def reject_refund_page(
    refund_id: int,
    request: Request,
    session: DbSession,
    actor: OrdersManager,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    return await _decide(request, session, actor, refund_id, "reject", reason)


@console.post("/refunds/{refund_id}/retry")
async def retry_refund_page(
    refund_id: int, request: Request, session: DbSession, actor: OrdersManager
) -> Response:
    return await _decide(request, session, actor, refund_id, "retry")


router.include_router(console)


# ------------------------------------------------------------- console: payment settings

settings_pages = console_router(prefix="/console/settings/payments")
ShopManager = Annotated[Actor, console_requires(P.SHOP_MANAGE)]
ACCOUNT_FIELDS = (
    "mchid",
    "appid",
    "serial_no",
    "platform_serial",
    "private_key_pem",
    "api_v3_key",
    "platform_public_key_pem",
    "api_base",
)


@settings_pages.get("", response_class=HTMLResponse)
async def payment_settings(request: Request, session: DbSession, actor: ShopManager) -> Response:
    account = await accounts.get_account(session=session, shop_id=actor.shop_id)
    context = {
        "title": translate(request, N_("Payments")),
        "account": accounts.account_summary(account),
        "notify_url": service.notify_url(actor.shop_id, "wechatpay_jsapi"),
        "demo_notify_url": service.notify_url(actor.shop_id, "demo"),
        "demo_allowed": await accounts.demo_allowed(session=session, shop_id=actor.shop_id),
    }
    return render(request, "commerce/payments/settings.html", context)


@settings_pages.post("")
async def save_payment_settings(
    request: Request, session: DbSession, actor: ShopManager
) -> Response:
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in ACCOUNT_FIELDS}
    values["private_key_pem"] = str(form.get("private_key_pem") or "").strip() + "\n"
    values["platform_public_key_pem"] = (
        str(form.get("platform_public_key_pem") or "").strip() + "\n"
    )
    missing = [name for name in ACCOUNT_FIELDS if name != "api_base" and not values[name].strip()]
    try:
        if missing:
            raise InvalidInput(
                translate(
                    request,
                    N_(
                        "Fill in every field; keys are never shown back, so enter them again to change anything."
                    ),
                ),
                field=missing[0],
            )
        account = await accounts.set_wechatpay_account(
            session=session,
            shop_id=actor.shop_id,
            data=accounts.WeChatPayAccountIn(**values),
            enabled=form.get("enabled") == "1",
        )
    except InvalidInput as exc:
        flash(request, translate(request, exc.message), "error")
        return redirect("/console/settings/payments")
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="payments.wechatpay_account.set",
        target_type="payment_account",
        target_id=account.id,
        details={"mchid": account.mchid, "appid": account.appid, "serial_no": account.serial_no},
    )
    flash(request, translate(request, N_("WeChat Pay account saved.")))
    return redirect("/console/settings/payments")


@settings_pages.post("/demo")
async def save_demo_setting(request: Request, session: DbSession, actor: ShopManager) -> Response:
    form = await request.form()
    allowed = form.get("allowed") == "1"
    await accounts.set_demo_allowed(session=session, shop_id=actor.shop_id, allowed=allowed)
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="payments.demo.set",
        target_type="payment_account",
        target_id="demo",
        details={"allowed": allowed},
    )
    message = N_("Demo payments turned on.") if allowed else N_("Demo payments turned off.")
    flash(request, translate(request, message))
    return redirect("/console/settings/payments")


router.include_router(settings_pages)
