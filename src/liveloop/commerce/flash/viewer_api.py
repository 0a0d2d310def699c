"""Viewer JSON routes of flash sales: the card, and buying (reservation then order).

Authentication is the viewer token. Buying takes an `Idempotency-Key` (a double click is one
order). A guest buys with a new address holding a phone number proven by a texted code
(`address.phone_code`) and becomes a customer, as in the normal checkout."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from liveloop.commerce.flash import service
from liveloop.commerce.flash.schemas import FlashBuyIn
from liveloop.commerce.schemas import OrderOut, PlacedOrderOut
from liveloop.commerce.viewer_api import CurrentBuyer, _buyer_for_order
from liveloop.core.database import utcnow
from liveloop.core.deps import DbSession
from liveloop.customers.phone_codes.proof import refusal_response
from liveloop.customers.phone_codes.service import PhoneCodeRejected
from liveloop.live.viewers import sign_viewer_token

router = APIRouter(prefix="/api/v1/public", tags=["flash sales (viewer)"])


@router.get("/flash-sales/{flash_sale_id}")
async def flash_sale_card(
    flash_sale_id: int, session: DbSession, claims: CurrentBuyer
) -> dict[str, Any]:
    """The card the room shows: price, countdown times, remaining, state."""
    sale = await service.get_flash_sale(
        session=session, shop_id=claims.shop_id, flash_sale_id=flash_sale_id
    )
    card: dict[str, Any] = service.flash_sale_message(sale)["flash_sale"]
    card["server_time"] = utcnow().isoformat()
    return card


@router.post("/flash-sales/{flash_sale_id}/buy", response_model=PlacedOrderOut, status_code=201)
async def buy(
    flash_sale_id: int,
    data: FlashBuyIn,
    request: Request,
    session: DbSession,
    claims: CurrentBuyer,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> PlacedOrderOut | JSONResponse:
    """Reserve and order. 409 sold_out / flash_limit_reached / flash_not_started /
    flash_ended, answered from Redis without touching the database when Redis is set up."""
    try:
        customer_id, address_id, became_customer = await _buyer_for_order(session, claims, data)  # type: ignore[arg-type]
    except PhoneCodeRejected as refused:
        return refusal_response(refused)
    settings = request.app.state.settings
    order = await service.buy_flash_sale(
        session=session,
        shop_id=claims.shop_id,
        flash_sale_id=flash_sale_id,
        customer_id=customer_id,
        quantity=data.quantity,
        address_id=address_id,
        counters=service.counters_for(settings),
        live_session_id=claims.live_session_id,
        source_code=claims.source_code,
        share_code=claims.share_code,
        idempotency_key=idempotency_key,
    )
    token = None
    if became_customer:
        token = sign_viewer_token(settings, dataclasses.replace(claims, customer_id=customer_id))
    return PlacedOrderOut(order=OrderOut.model_validate(order), viewer_token=token)
