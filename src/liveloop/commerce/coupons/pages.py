"""Console pages of coupons (list, create, detail with claims, stop, push to a live room,
grant) and the public claim page /coupon/{code} a customer opens from a shared link."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.commerce.coupons import service
from liveloop.commerce.coupons.models import ClaimSource
from liveloop.commerce.coupons.schemas import CouponCreate, CouponUpdate
from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, LiveLoopError, NotFound
from liveloop.core.schemas import parse_id
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/coupons")

Reader = Annotated[Actor, console_requires(P.CATALOG_READ)]
Writer = Annotated[Actor, console_requires(P.ORDERS_MANAGE)]
LiveManager = Annotated[Actor, console_requires(P.LIVE_MANAGE)]
FormErrors = (InvalidInput, Conflict, NotFound, ValidationError, ValueError)
PER_PAGE = 20
COUPON_FIELDS = (
    "title", "description", "kind", "amount_off", "percent_off", "max_discount", "threshold",
    "scope", "product_ids", "category_ids", "valid_from", "valid_until", "valid_days",
    "total_quantity", "per_customer_limit", "return_on_refund", "status",
)  # fmt: skip


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(getattr(exc, "message", exc))


def yuan_to_fen(text: str, field: str) -> int:
    """'19.9' -> 1990 (never through a float; at most two decimals; not negative)."""
    value = text.strip().replace(",", "").replace("¥", "").replace("￥", "")
    if not value:
        return 0
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise InvalidInput(f"{text!r} is not an amount in yuan such as 19.90", field=field)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(
            f"{text!r} is not an amount in yuan with at most two decimals", field=field
        )
    return int(amount * 100)


def local_time(text: str, zone: str, field: str) -> dt.datetime | None:
    """A datetime-local input ('2026-11-23T20:00'), read in the shop's time zone."""
    if not text.strip():
        return None
    try:
        naive = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date and time", field=field)
    return naive.replace(tzinfo=ZoneInfo(zone)) if naive.tzinfo is None else naive


def id_list(text: str, field: str) -> list[int]:
    ids = []
    for part in text.replace("，", ",").replace(" ", ",").split(","):
        if part.strip():
            number = parse_id(part)
            if number is None:
                raise InvalidInput(f"{part!r} is not an id", field=field)
            ids.append(number)
    return ids


def coupon_data(form: dict[str, str], zone: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": form["title"],
        "description": form["description"],
        "kind": form["kind"],
        "amount_off_fen": yuan_to_fen(form["amount_off"], "amount_off"),
        "percent_off": parse_id(form["percent_off"]) or 0,
        "max_discount_fen": yuan_to_fen(form["max_discount"], "max_discount") or None,
        "threshold_fen": yuan_to_fen(form["threshold"], "threshold"),
        "scope": form["scope"] or "all",
        "product_ids": id_list(form["product_ids"], "product_ids"),
        "category_ids": id_list(form["category_ids"], "category_ids"),
        "valid_from": local_time(form["valid_from"], zone, "valid_from"),
        "valid_until": local_time(form["valid_until"], zone, "valid_until"),
        "valid_days": parse_id(form["valid_days"]),
        "total_quantity": parse_id(form["total_quantity"]) or 0,
        "per_customer_limit": parse_id(form["per_customer_limit"]) or 1,
        "return_on_refund": form["return_on_refund"] == "1",
    }
    if form.get("status"):
        data["status"] = form["status"]
    return data


async def _read_form(request: Request) -> dict[str, str]:
    raw = await request.form()
    return {name: str(raw.get(name) or "").strip() for name in COUPON_FIELDS}


def _zone(request: Request) -> str:
    return getattr(request.state.shop, "timezone", None) or "Asia/Shanghai"


# --- list and create ---------------------------------------------------------------------


async def _list_page(
    request: Request, session: DbSession, actor: Actor, status: str, page: int,
    form: dict[str, str] | None = None, error: str = "",
) -> HTMLResponse:  # fmt: skip
    result = await service.list_coupons(
        session=session,
        shop_id=actor.shop_id,
        status=status if status in {"draft", "active", "stopped"} else None,
        page=page,
        per_page=PER_PAGE,
    )
    values = form or {name: "" for name in COUPON_FIELDS}
    values.setdefault("kind", "threshold")
    return render(
        request,
        "commerce/coupons/list.html",
        {
            "page": result,
            "status": status,
            "value_texts": {c.id: service.coupon_value_text(c) for c in result.items},
            "form": values,
            "error": error,
            "title": translate(request, N_("Coupons")),
        },
        status_code=422 if error else 200,
    )


@pages.get("", response_class=HTMLResponse)
async def coupon_list(
    request: Request,
    session: DbSession,
    actor: Reader,
    status: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    return await _list_page(request, session, actor, status, page)


@pages.post("", response_class=HTMLResponse)
async def create_coupon(request: Request, session: DbSession, actor: Writer) -> Response:
    form = await _read_form(request)
    try:
        data = CouponCreate.model_validate(coupon_data(form, _zone(request)))
        coupon = await service.create_coupon(session=session, shop_id=actor.shop_id, data=data)
    except FormErrors as exc:
        return await _list_page(request, session, actor, "", 1, form, error_text(exc))
    flash(request, translate(request, N_("Coupon %(code)s created."), code=coupon.code))
    return redirect(f"/console/coupons/{coupon.id}")


# --- detail and actions ------------------------------------------------------------------


@pages.get("/{coupon_id}", response_class=HTMLResponse)
async def coupon_detail(
    request: Request,
    coupon_id: int,
    session: DbSession,
    actor: Reader,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    coupon = await service.get_coupon(session=session, shop_id=actor.shop_id, coupon_id=coupon_id)
    claims = await service.list_claims(
        session=session, shop_id=actor.shop_id, coupon_id=coupon.id, page=page, per_page=PER_PAGE
    )
    counts = await service.claim_counts(session=session, shop_id=actor.shop_id, coupon_id=coupon.id)
    sessions = await service.live_sessions_for_push(session=session, shop_id=actor.shop_id)
    return render(
        request,
        "commerce/coupons/detail.html",
        {
            "coupon": coupon,
            "value_text": service.coupon_value_text(coupon),
            "claims": claims,
            "counts": counts,
            "live_sessions": sessions,
            "claim_url": f"{request.app.state.settings.public_base_url}/coupon/{coupon.code}",
            "title": coupon.title,
        },
    )


@pages.post("/{coupon_id}", response_class=HTMLResponse)
async def update_coupon(
    request: Request,
    coupon_id: int,
    session: DbSession,
    actor: Writer,
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    total_quantity: Annotated[str, Form()] = "",
) -> Response:
    await service.get_coupon(
        session=session, shop_id=actor.shop_id, coupon_id=coupon_id
    )  # 404 first
    try:
        data = CouponUpdate(
            title=title.strip() or None,
            description=description.strip(),
            total_quantity=parse_id(total_quantity),
        )
        await service.update_coupon(
            session=session, shop_id=actor.shop_id, coupon_id=coupon_id, data=data
        )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Coupon saved.")))
    return redirect(f"/console/coupons/{coupon_id}")


@pages.post("/{coupon_id}/status")
async def set_status(
    request: Request,
    coupon_id: int,
    session: DbSession,
    actor: Writer,
    status: Annotated[str, Form()] = "",
) -> Response:
    await service.get_coupon(
        session=session, shop_id=actor.shop_id, coupon_id=coupon_id
    )  # 404 first
    try:
        await service.set_coupon_status(
            session=session, shop_id=actor.shop_id, coupon_id=coupon_id, status=status
        )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        message = N_("Coupon activated.") if status == "active" else N_("Coupon stopped.")
        flash(request, translate(request, message))
    return redirect(f"/console/coupons/{coupon_id}")


@pages.post("/{coupon_id}/push")
async def push(
    request: Request,
    coupon_id: int,
    session: DbSession,
    actor: LiveManager,
    live_session_id: Annotated[str, Form()] = "",
) -> Response:
    await service.get_coupon(
        session=session, shop_id=actor.shop_id, coupon_id=coupon_id
    )  # 404 first
    try:
        await service.push_coupon_to_live(
            session=session,
            shop_id=actor.shop_id,
            coupon_id=coupon_id,
            live_session_id=parse_id(live_session_id) or 0,
        )
    except LiveLoopError as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, translate(request, N_("Coupon shown in the live room.")))
    return redirect(f"/console/coupons/{coupon_id}")


@pages.post("/{coupon_id}/grant")
async def grant(
    request: Request,
    coupon_id: int,
    session: DbSession,
    actor: Writer,
    customer_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    await service.get_coupon(
        session=session, shop_id=actor.shop_id, coupon_id=coupon_id
    )  # 404 first
    try:
        await service.grant_coupon(
            session=session,
            shop_id=actor.shop_id,
            coupon_id=coupon_id,
            customer_id=parse_id(customer_id) or 0,
            reason=reason.strip()[:200] or f"granted by {actor.label}",
        )
    except LiveLoopError as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, translate(request, N_("Coupon granted.")))
    return redirect(f"/console/coupons/{coupon_id}")


# --- public claim page -------------------------------------------------------------------


async def _claim_page(
    request: Request, session: DbSession, code: str, *, result: str = "", error: str = ""
) -> HTMLResponse:
    from liveloop.web.templating import environment, request_language

    coupon = await service.get_coupon_by_code(session=session, code=code)
    language = request_language(request)
    html = (
        environment(language)
        .get_template("commerce/coupons/claim.html")
        .render(
            {
                "coupon": coupon,
                "value_text": service.coupon_value_text(coupon),
                "result": result,
                "error": error,
                "language": language,
                "timezone": "Asia/Shanghai",
            }
        )
    )
    return HTMLResponse(html, status_code=422 if error else 200)


@router.get("/coupon/{code}", response_class=HTMLResponse)
async def claim_page(request: Request, code: str, session: DbSession) -> HTMLResponse:
    """The page a claim link opens (mobile): the coupon, and a phone number to claim it."""
    return await _claim_page(request, session, code)


@router.post("/coupon/{code}", response_class=HTMLResponse)
async def claim_by_link(
    request: Request, code: str, session: DbSession, phone: Annotated[str, Form()] = ""
) -> HTMLResponse:
    """Claim with a phone number: it finds (or creates) the customer of this shop."""
    from liveloop.customers import service as customers_service

    coupon = await service.get_coupon_by_code(session=session, code=code)
    try:
        normalized = customers_service.normalize_identity("phone", phone)
        resolved = await customers_service.resolve_identities(
            session=session, shop_id=coupon.shop_id, identities=[("phone", normalized)]
        )
        async with session.begin_nested():
            await service.claim_coupon(
                session=session,
                shop_id=coupon.shop_id,
                coupon_id=coupon.id,
                customer_id=resolved[("phone", normalized)],
                source=ClaimSource.LINK,
            )
    except (LiveLoopError, ValueError) as exc:
        return await _claim_page(request, session, code, error=error_text(exc))
    return await _claim_page(request, session, code, result="claimed")


router.include_router(pages)
