"""Viewer JSON routes (live room drawer and mall): addresses, cart, quote, orders.

Authentication is the viewer token (`Authorization: Bearer <token>`, see live.viewers). A guest
token may quote and place an order with a new address whose phone is proven by the code texted
to it (`address.phone_code`, see customers.phone_codes): the phone resolves to a customer
(created when unknown) and the response carries a fresh token for that customer, with which
the page pays and sees its orders.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from liveloop.catalog import service as catalog_service
from liveloop.commerce import addresses, carts, checkout, orders
from liveloop.commerce.addresses import AddressData
from liveloop.commerce.affiliates import service as affiliates_service
from liveloop.commerce.api import order_detail
from liveloop.commerce.checkout import LineRequest, Quote
from liveloop.commerce.models import Address
from liveloop.commerce.schemas import (
    AddressIn,
    AddressOut,
    CancelIn,
    CartItemIn,
    CartItemOut,
    CartOut,
    CartQuantityIn,
    CouponChoiceOut,
    OrderDetailOut,
    OrderOut,
    PlacedOrderOut,
    PlaceOrderIn,
    QuoteIn,
    QuoteLineOut,
    QuoteOut,
)
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput, Unauthenticated
from liveloop.core.schemas import PageOut
from liveloop.customers.phone_codes.proof import prove_guest_phone, refusal_response
from liveloop.customers.phone_codes.service import PhoneCodeRejected
from liveloop.live.viewers import ViewerClaims, read_viewer_token, sign_viewer_token

router = APIRouter(prefix="/api/v1/public", tags=["commerce (viewer)"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


async def current_buyer(request: Request) -> ViewerClaims:
    """The viewer token's claims (a guest or a customer)."""
    authorization = request.headers.get("authorization", "")
    if not authorization.lower().startswith("bearer "):
        raise Unauthenticated(
            "send your viewer token as 'Authorization: Bearer <token>' (reload the page)",
            code="token_missing",
            field="authorization",
        )
    return read_viewer_token(request.app.state.settings, authorization[7:].strip())


async def current_customer(claims: Annotated[ViewerClaims, Depends(current_buyer)]) -> ViewerClaims:
    if claims.customer_id is None:
        raise Unauthenticated(
            "this needs a customer: log in with your phone number (we text you a code)",
            code="customer_required",
        )
    return claims


CurrentBuyer = Annotated[ViewerClaims, Depends(current_buyer)]
CurrentCustomer = Annotated[ViewerClaims, Depends(current_customer)]


def _customer_id(claims: ViewerClaims) -> int:
    assert claims.customer_id is not None  # guaranteed by current_customer
    return claims.customer_id


def address_out(address: Address) -> AddressOut:
    view = addresses.view_address(address)
    return AddressOut.model_validate(dataclasses.asdict(view))


def address_data(data: AddressIn) -> AddressData:
    return AddressData(**data.model_dump(exclude={"phone_code"}))


@router.get("/me")
async def me(claims: CurrentBuyer) -> dict[str, Any]:
    """Who the token is for: the page keeps a customer's token per shop for 'my orders'."""
    return {
        "shop_id": claims.shop_id,
        "customer_id": claims.customer_id,
        "live_session_id": claims.live_session_id,
        "name": claims.name,
    }


# ---------------------------------------------------------------------------------- addresses


@router.get("/addresses", response_model=list[AddressOut])
async def list_addresses(session: DbSession, claims: CurrentCustomer) -> list[AddressOut]:
    found = await addresses.list_addresses(
        session=session, shop_id=claims.shop_id, customer_id=_customer_id(claims)
    )
    return [address_out(a) for a in found]


@router.post("/addresses", response_model=AddressOut, status_code=201)
async def create_address(
    data: AddressIn, session: DbSession, claims: CurrentCustomer
) -> AddressOut:
    address = await addresses.create_address(
        session=session,
        shop_id=claims.shop_id,
        customer_id=_customer_id(claims),
        data=address_data(data),
    )
    return address_out(address)


@router.put("/addresses/{address_id}", response_model=AddressOut)
async def update_address(
    address_id: int, data: AddressIn, session: DbSession, claims: CurrentCustomer
) -> AddressOut:
    address = await addresses.update_address(
        session=session,
        shop_id=claims.shop_id,
        customer_id=_customer_id(claims),
        address_id=address_id,
        data=address_data(data),
    )
    return address_out(address)


@router.delete("/addresses/{address_id}", status_code=204)
async def delete_address(address_id: int, session: DbSession, claims: CurrentCustomer) -> Response:
    await addresses.delete_address(
        session=session,
        shop_id=claims.shop_id,
        customer_id=_customer_id(claims),
        address_id=address_id,
    )
    return Response(status_code=204)


# --------------------------------------------------------------------------------------- cart


async def cart_out(session: DbSession, claims: ViewerClaims) -> CartOut:
    cart = await carts.get_cart(
        session=session, shop_id=claims.shop_id, customer_id=_customer_id(claims)
    )
    rows = await carts.cart_rows(session=session, cart=cart)
    items = [
        CartItemOut.model_validate({**dataclasses.asdict(r), "price_changed": r.price_changed})
        for r in rows
    ]
    return CartOut(items=items, items_fen=sum(r.price_fen * r.quantity for r in rows))


@router.get("/cart", response_model=CartOut)
async def get_cart(session: DbSession, claims: CurrentCustomer) -> CartOut:
    return await cart_out(session, claims)


@router.post("/cart/items", response_model=CartOut, status_code=201)
async def add_to_cart(data: CartItemIn, session: DbSession, claims: CurrentCustomer) -> CartOut:
    await carts.add_to_cart(
        session=session,
        shop_id=claims.shop_id,
        customer_id=_customer_id(claims),
        sku_id=data.sku_id,
        quantity=data.quantity,
        live_session_id=claims.live_session_id,
    )
    return await cart_out(session, claims)


@router.patch("/cart/items/{sku_id}", response_model=CartOut)
async def set_cart_quantity(
    sku_id: int, data: CartQuantityIn, session: DbSession, claims: CurrentCustomer
) -> CartOut:
    await carts.set_cart_quantity(
        session=session,
        shop_id=claims.shop_id,
        customer_id=_customer_id(claims),
        sku_id=sku_id,
        quantity=data.quantity,
    )
    return await cart_out(session, claims)


@router.delete("/cart/items/{sku_id}", response_model=CartOut)
async def remove_from_cart(sku_id: int, session: DbSession, claims: CurrentCustomer) -> CartOut:
    await carts.remove_from_cart(
        session=session, shop_id=claims.shop_id, customer_id=_customer_id(claims), sku_ids=[sku_id]
    )
    return await cart_out(session, claims)


# ------------------------------------------------------------------------------------ product


@router.get("/products/{product_id}")
async def get_product(product_id: int, session: DbSession, claims: CurrentBuyer) -> dict[str, Any]:
    """What the checkout drawer shows of a product: SKUs on sale with price and stock."""
    product = await catalog_service.get_product(
        session=session, shop_id=claims.shop_id, product_id=product_id
    )
    return product_card(product)


def product_card(product: Any) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "subtitle": product.subtitle,
        "image_url": product.images[0].url if product.images else None,
        "on_sale": product.status == "on_shelf",
        "price_min_fen": product.price_min_fen,
        "price_max_fen": product.price_max_fen,
        "skus": [
            {"id": s.id, "name": s.spec_label, "price_fen": s.price_fen, "stock": s.stock}
            for s in product.active_skus
        ],
    }


# ----------------------------------------------------------------------------------- checkout


async def quote_out(session: DbSession, quote: Quote, claims: ViewerClaims) -> QuoteOut:
    choices: list[CouponChoiceOut] = []
    coupons = checkout.coupons_service()
    priced = [line.priced for line in quote.lines]
    if coupons is not None and claims.customer_id is not None:
        evaluated = await coupons.evaluate_customer_coupons(
            session=session,
            shop_id=claims.shop_id,
            customer_id=claims.customer_id,
            lines=priced,
            shipping_fen=quote.breakdown.shipping_fen
            + getattr(quote.coupon, "shipping_discount_fen", 0),
        )
        choices = [
            CouponChoiceOut(
                customer_coupon_id=issued.id,
                title=issued.coupon.title,
                applicable=evaluation.applicable,
                discount_fen=evaluation.discount_fen,
                free_shipping=evaluation.free_shipping,
                reason_code=evaluation.reason_code,
                reason=evaluation.reason,
            )
            for issued, evaluation in evaluated
        ]
    return QuoteOut(
        lines=[
            QuoteLineOut(
                sku_id=line.sku.id,
                product_id=line.product.id,
                product_name=line.product.name,
                sku_name=line.sku.spec_label,
                image_url=line.product.images[0].url if line.product.images else None,
                unit_price_fen=line.unit_price_fen,
                quantity=line.quantity,
                line_total_fen=line.line_total_fen,
                discount_fen=line.discount_fen,
                stock=line.sku.stock,
            )
            for line in quote.lines
        ],
        items_fen=quote.breakdown.items_fen,
        discount_fen=quote.breakdown.discount_fen,
        shipping_fen=quote.breakdown.shipping_fen,
        total_fen=quote.breakdown.total_fen,
        customer_coupon_id=quote.customer_coupon_id,
        coupon_suggested=quote.suggested,
        coupon_error=quote.coupon_error,
        coupons=choices,
    )


def _lines(data: QuoteIn | PlaceOrderIn) -> list[LineRequest]:
    return [LineRequest(sku_id=line.sku_id, quantity=line.quantity) for line in data.lines]


@router.post("/checkout/quote", response_model=QuoteOut)
async def quote(data: QuoteIn, session: DbSession, claims: CurrentBuyer) -> QuoteOut:
    """Price the lines with the best coupon (or the one chosen), shipping and total."""
    result = await checkout.quote_lines(
        session=session,
        shop_id=claims.shop_id,
        customer_id=claims.customer_id,
        lines=_lines(data),
        customer_coupon_id=data.customer_coupon_id,
        suggest_coupon=not data.no_coupon,
    )
    await _record_checkout_started(session, claims, result)
    return await quote_out(session, result, claims)


async def _record_checkout_started(session: DbSession, claims: ViewerClaims, result: Quote) -> None:
    from liveloop.events import service as events_service

    # The drawer asks again on every change: one event per viewer and basket per 10 minutes.
    skus = "-".join(str(line.sku.id) for line in result.lines)[:24]
    bucket = int(time.time()) // 600
    item: dict[str, Any] = {
        "type": "checkout_started",
        "live_session_id": claims.live_session_id,
        "product_id": result.lines[0].product.id,
        "client_event_id": f"co:{claims.viewer_key[:24]}:{skus}:{bucket}",
        "properties": {"total_fen": result.breakdown.total_fen, "lines": len(result.lines)},
    }
    if claims.customer_id is not None:
        item["customer_id"] = claims.customer_id
    else:
        item["anonymous_id"] = (claims.device_id or "guest")[:64]
    await events_service.ingest_events(session=session, shop_id=claims.shop_id, items=[item])


async def _buyer_for_order(
    session: DbSession, claims: ViewerClaims, data: PlaceOrderIn
) -> tuple[int, int | None, bool]:
    """(customer id, address id, whether the guest became a customer)."""
    customer_id, became_customer = claims.customer_id, False
    if customer_id is None:
        if data.address is None:
            raise InvalidInput(
                "enter a delivery address with your phone number to order",
                code="address_required",
                field="address",
            )
        customer_id = await prove_guest_phone(
            session=session,
            claims=claims,
            phone=data.address.phone,
            code=data.address.phone_code,
            phone_field="address.phone",
            code_field="address.phone_code",
        )
        became_customer = True
    address_id = data.address_id
    if data.address is not None:
        address = await addresses.find_or_create_address(
            session=session,
            shop_id=claims.shop_id,
            customer_id=customer_id,
            data=address_data(data.address),
        )
        address_id = address.id
    if address_id is None:
        raise InvalidInput(
            "choose a delivery address or enter a new one",
            code="address_required",
            field="address_id",
        )
    return customer_id, address_id, became_customer


@router.post("/orders", response_model=PlacedOrderOut, status_code=201)
async def place_order(
    data: PlaceOrderIn,
    request: Request,
    session: DbSession,
    claims: CurrentBuyer,
    idempotency_key: IdempotencyKey = None,
) -> PlacedOrderOut | JSONResponse:
    """Place an order (Idempotency-Key: a repeat returns the first order). With
    `expected_total_fen` a price change since the quote is a 409 price_changed. A promo code
    must be an active affiliate's (422 unknown_promo_code). A guest proves the address's phone
    with `address.phone_code` (422 phone_code_required / phone_code_invalid...)."""
    if data.promo_code:
        await affiliates_service.check_promo_code(
            session=session, shop_id=claims.shop_id, code=data.promo_code
        )
    try:
        customer_id, address_id, became_customer = await _buyer_for_order(session, claims, data)
    except PhoneCodeRejected as refused:
        return refusal_response(refused)
    expected_prices: dict[int, int] | None = None
    if data.from_cart:
        cart = await carts.get_cart(
            session=session, shop_id=claims.shop_id, customer_id=customer_id
        )
        expected_prices = {item.sku_id: item.price_fen_when_added for item in cart.items}
    settings = request.app.state.settings
    order = await orders.place_order(
        session=session,
        shop_id=claims.shop_id,
        customer_id=customer_id,
        lines=_lines(data),
        address_id=address_id,
        customer_coupon_id=data.customer_coupon_id,
        live_session_id=claims.live_session_id,
        source_code=claims.source_code,
        share_code=claims.share_code,
        idempotency_key=idempotency_key,
        attribution={
            "source_code": claims.source_code,
            "share_code": claims.share_code,
            **({"promo_code": data.promo_code} if data.promo_code else {}),
        },
        expected_total_fen=data.expected_total_fen,
        expected_unit_prices=expected_prices,
        buyer_note=data.buyer_note,
        payment_minutes=settings.order_payment_minutes,
    )
    if data.from_cart:
        await carts.remove_from_cart(
            session=session,
            shop_id=claims.shop_id,
            customer_id=customer_id,
            sku_ids=[line.sku_id for line in data.lines],
        )
    token = None
    if became_customer:
        token = sign_viewer_token(settings, dataclasses.replace(claims, customer_id=customer_id))
    return PlacedOrderOut(order=OrderOut.model_validate(order), viewer_token=token)


@router.get("/orders", response_model=PageOut[OrderOut])
async def my_orders(
    session: DbSession,
    claims: CurrentCustomer,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PageOut[OrderOut]:
    from liveloop.commerce.order_queries import OrderFilter, list_orders

    result = await list_orders(
        session=session,
        shop_id=claims.shop_id,
        filters=OrderFilter(customer_id=_customer_id(claims)),
        page=page,
        per_page=per_page,
    )
    return PageOut[OrderOut].of(result, OrderOut)


@router.get("/orders/{order_id}", response_model=OrderDetailOut)
async def my_order(order_id: int, session: DbSession, claims: CurrentCustomer) -> OrderDetailOut:
    order = await orders.get_customer_order(
        session=session, shop_id=claims.shop_id, customer_id=_customer_id(claims), order_id=order_id
    )
    return await order_detail(session, order)


@router.post("/orders/{order_id}/cancel", response_model=OrderDetailOut)
async def cancel_my_order(
    order_id: int, data: CancelIn, session: DbSession, claims: CurrentCustomer
) -> OrderDetailOut:
    """Cancel my unpaid order; stock and coupon come back."""
    order = await orders.cancel_order(
        session=session,
        shop_id=claims.shop_id,
        order_id=order_id,
        reason=data.reason or "cancelled by the buyer",
        actor="customer",
        customer_id=_customer_id(claims),
    )
    return await order_detail(session, order)


@router.post("/orders/{order_id}/complete", response_model=OrderDetailOut)
async def confirm_received(
    order_id: int, session: DbSession, claims: CurrentCustomer
) -> OrderDetailOut:
    """确认收货: the buyer got the goods (shipped → completed)."""
    await orders.get_customer_order(
        session=session, shop_id=claims.shop_id, customer_id=_customer_id(claims), order_id=order_id
    )
    order = await orders.complete_order(
        session=session, shop_id=claims.shop_id, order_id=order_id, actor_label="customer"
    )
    return await order_detail(session, order)
