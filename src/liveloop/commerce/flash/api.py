"""Console JSON routes of flash sales: create (carving stock), list, stop, announce, repair."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from liveloop.commerce.flash import service
from liveloop.commerce.flash.models import FlashSale
from liveloop.commerce.flash.schemas import FlashSaleCreate, FlashSaleOut
from liveloop.core.database import utcnow
from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict
from liveloop.core.schemas import PageOut
from liveloop.live.outbox import send_after_commit
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["flash sales"], dependencies=[Depends(current_actor)])

FlashReader = Annotated[Actor, requires(P.CATALOG_READ)]
FlashWriter = Annotated[Actor, requires(P.ORDERS_MANAGE)]
LiveManager = Annotated[Actor, requires(P.LIVE_MANAGE)]


def sale_out(sale: FlashSale) -> FlashSaleOut:
    out = FlashSaleOut.model_validate(sale)
    out.state = sale.state_at(utcnow())
    return out


@router.get("/flash-sales", response_model=PageOut[FlashSaleOut])
async def list_flash_sales(
    session: DbSession,
    actor: FlashReader,
    live_session_id: int | None = None,
    status: Annotated[str | None, Query(pattern="^(active|stopped|ended)$")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PageOut[FlashSaleOut]:
    result = await service.list_flash_sales(
        session=session,
        shop_id=actor.shop_id,
        live_session_id=live_session_id,
        status=status,
        page=page,
        per_page=per_page,
    )
    return PageOut[FlashSaleOut](
        items=[sale_out(s) for s in result.items],
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
    )


@router.post("/flash-sales", response_model=FlashSaleOut, status_code=201)
async def create_flash_sale(
    data: FlashSaleCreate, session: DbSession, actor: FlashWriter
) -> FlashSaleOut:
    """Carve `quantity` out of the SKU's stock (422 insufficient_stock when short)."""
    sale = await service.create_flash_sale(session=session, shop_id=actor.shop_id, data=data)
    return sale_out(sale)


@router.get("/flash-sales/{flash_sale_id}", response_model=FlashSaleOut)
async def get_flash_sale(
    flash_sale_id: int, session: DbSession, actor: FlashReader
) -> FlashSaleOut:
    sale = await service.get_flash_sale(
        session=session, shop_id=actor.shop_id, flash_sale_id=flash_sale_id
    )
    return sale_out(sale)


@router.post("/flash-sales/{flash_sale_id}/stop", response_model=FlashSaleOut)
async def stop_flash_sale(
    flash_sale_id: int, session: DbSession, actor: FlashWriter
) -> FlashSaleOut:
    """Stop selling; unsold units go back to SKU stock."""
    sale = await service.stop_flash_sale(
        session=session, shop_id=actor.shop_id, flash_sale_id=flash_sale_id
    )
    return sale_out(sale)


@router.post("/flash-sales/{flash_sale_id}/announce", response_model=FlashSaleOut)
async def announce(flash_sale_id: int, session: DbSession, actor: LiveManager) -> FlashSaleOut:
    """Show the sale's card (countdown, remaining) in its live room again."""
    sale = await service.get_flash_sale(
        session=session, shop_id=actor.shop_id, flash_sale_id=flash_sale_id
    )
    if sale.live_session_id is None:
        raise Conflict(
            f"flash sale {sale.id} belongs to no live session", code="no_live_session", field="id"
        )
    send_after_commit(
        session, live_session_id=sale.live_session_id, message=service.flash_sale_message(sale)
    )
    return sale_out(sale)


@router.post("/flash-sales/{flash_sale_id}/reconcile")
async def reconcile(
    flash_sale_id: int, request: Request, session: DbSession, actor: FlashWriter
) -> dict[str, int]:
    """Repair the Redis counters from the database (also done every minute by a job)."""
    counters = service.counters_for(request.app.state.settings)
    sale = await service.get_flash_sale(
        session=session, shop_id=actor.shop_id, flash_sale_id=flash_sale_id
    )
    if counters is None:
        return {"confirmed": 0, "given_back": 0, "reset": 0}
    from liveloop.commerce.flash.reconcile import reconcile_flash_sale

    return await reconcile_flash_sale(
        session=session, shop_id=actor.shop_id, flash_sale_id=sale.id, counters=counters
    )
