"""Console JSON routes of coupons: define, activate/stop, claims, grant, push to a live room."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from liveloop.commerce.coupons import service
from liveloop.commerce.coupons.models import Coupon
from liveloop.commerce.coupons.schemas import (
    CouponCreate,
    CouponOut,
    CouponStatusIn,
    CouponUpdate,
    CustomerCouponOut,
    GrantIn,
    PushIn,
)
from liveloop.core.deps import DbSession
from liveloop.core.schemas import PageOut
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["coupons"], dependencies=[Depends(current_actor)])

# Anchors and analysts see coupons (CATALOG_READ); operators define them (ORDERS_MANAGE);
# pushing one into a live room is the anchor's job (LIVE_MANAGE).
CouponReader = Annotated[Actor, requires(P.CATALOG_READ)]
CouponWriter = Annotated[Actor, requires(P.ORDERS_MANAGE)]
LiveManager = Annotated[Actor, requires(P.LIVE_MANAGE)]
PageNumber = Annotated[int, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=500)]


def coupon_out(coupon: Coupon) -> CouponOut:
    out = CouponOut.model_validate(coupon)
    out.value_text = service.coupon_value_text(coupon)
    out.claim_path = f"/coupon/{coupon.code}"
    return out


@router.get("/coupons", response_model=PageOut[CouponOut])
async def list_coupons(
    session: DbSession,
    actor: CouponReader,
    status: Annotated[str | None, Query(pattern="^(draft|active|stopped)$")] = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[CouponOut]:
    result = await service.list_coupons(
        session=session, shop_id=actor.shop_id, status=status, page=page, per_page=per_page
    )
    return PageOut[CouponOut](
        items=[coupon_out(c) for c in result.items],
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
    )


@router.post("/coupons", response_model=CouponOut, status_code=201)
async def create_coupon(data: CouponCreate, session: DbSession, actor: CouponWriter) -> CouponOut:
    coupon = await service.create_coupon(session=session, shop_id=actor.shop_id, data=data)
    return coupon_out(coupon)


@router.get("/coupons/{coupon_id}", response_model=CouponOut)
async def get_coupon(coupon_id: int, session: DbSession, actor: CouponReader) -> CouponOut:
    coupon = await service.get_coupon(session=session, shop_id=actor.shop_id, coupon_id=coupon_id)
    return coupon_out(coupon)


@router.patch("/coupons/{coupon_id}", response_model=CouponOut)
async def update_coupon(
    coupon_id: int, data: CouponUpdate, session: DbSession, actor: CouponWriter
) -> CouponOut:
    coupon = await service.update_coupon(
        session=session, shop_id=actor.shop_id, coupon_id=coupon_id, data=data
    )
    return coupon_out(coupon)


@router.post("/coupons/{coupon_id}/status", response_model=CouponOut)
async def set_status(
    coupon_id: int, data: CouponStatusIn, session: DbSession, actor: CouponWriter
) -> CouponOut:
    coupon = await service.set_coupon_status(
        session=session, shop_id=actor.shop_id, coupon_id=coupon_id, status=data.status
    )
    return coupon_out(coupon)


@router.get("/coupons/{coupon_id}/claims", response_model=PageOut[CustomerCouponOut])
async def list_claims(
    coupon_id: int,
    session: DbSession,
    actor: CouponReader,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[CustomerCouponOut]:
    result = await service.list_claims(
        session=session, shop_id=actor.shop_id, coupon_id=coupon_id, page=page, per_page=per_page
    )
    return PageOut.of(result, CustomerCouponOut)  # type: ignore[return-value]


@router.post("/coupons/{coupon_id}/grants", response_model=CustomerCouponOut, status_code=201)
async def grant(
    coupon_id: int, data: GrantIn, session: DbSession, actor: CouponWriter
) -> CustomerCouponOut:
    issued = await service.grant_coupon(
        session=session,
        shop_id=actor.shop_id,
        coupon_id=coupon_id,
        customer_id=data.customer_id,
        reason=data.reason or f"granted by {actor.label}",
    )
    return CustomerCouponOut.model_validate(issued)


@router.post("/coupons/{coupon_id}/push", response_model=CouponOut)
async def push_to_live(
    coupon_id: int, data: PushIn, session: DbSession, actor: LiveManager
) -> CouponOut:
    """Show the coupon in a live room (`coupon_push`); viewers claim it with their token."""
    coupon = await service.push_coupon_to_live(
        session=session,
        shop_id=actor.shop_id,
        coupon_id=coupon_id,
        live_session_id=data.live_session_id,
    )
    return coupon_out(coupon)


@router.get("/customers/{customer_id}/coupons", response_model=list[CustomerCouponOut])
async def customer_coupons(
    customer_id: int, session: DbSession, actor: CouponReader
) -> list[CustomerCouponOut]:
    from liveloop.customers import service as customers_service

    await customers_service.get_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    held = await service.list_customer_coupons(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    return [CustomerCouponOut.model_validate(c) for c in held]
