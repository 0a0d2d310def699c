"""Viewer JSON routes of coupons: claim in the live room or by link, list my coupons.

Authentication is the viewer token (`Authorization: Bearer <token>`); claiming needs a
customer (a guest becomes one at checkout)."""

from __future__ import annotations

from fastapi import APIRouter

from liveloop.commerce.coupons import service
from liveloop.commerce.coupons.api import coupon_out
from liveloop.commerce.coupons.models import ClaimSource
from liveloop.commerce.coupons.schemas import CouponOut, CustomerCouponOut
from liveloop.commerce.viewer_api import CurrentBuyer, CurrentCustomer
from liveloop.core.deps import DbSession
from liveloop.core.errors import NotFound

router = APIRouter(prefix="/api/v1/public", tags=["coupons (viewer)"])


class ClaimedOut(CustomerCouponOut):
    coupon: CouponOut | None = None


async def _claimed(session: DbSession, issued: object, coupon: object) -> ClaimedOut:
    out = ClaimedOut.model_validate(issued)
    out.coupon = coupon_out(coupon)  # type: ignore[arg-type]
    return out


@router.get("/coupons/by-code/{code}", response_model=CouponOut)
async def coupon_by_code(code: str, session: DbSession, claims: CurrentBuyer) -> CouponOut:
    coupon = await service.get_coupon_by_code(session=session, code=code)
    if coupon.shop_id != claims.shop_id:
        raise NotFound(f"coupon {code} was not found", code="coupon_not_found", field="code")
    return coupon_out(coupon)


@router.post("/coupons/{coupon_id}/claim", response_model=ClaimedOut, status_code=201)
async def claim_in_room(coupon_id: int, session: DbSession, claims: CurrentCustomer) -> ClaimedOut:
    """Claim a coupon pushed in the live room the token belongs to."""
    assert claims.customer_id is not None
    issued = await service.claim_coupon(
        session=session,
        shop_id=claims.shop_id,
        coupon_id=coupon_id,
        customer_id=claims.customer_id,
        source=ClaimSource.LIVE if claims.live_session_id else ClaimSource.LINK,
        live_session_id=claims.live_session_id,
    )
    return await _claimed(session, issued, issued.coupon)


@router.post("/coupons/by-code/{code}/claim", response_model=ClaimedOut, status_code=201)
async def claim_by_code(code: str, session: DbSession, claims: CurrentCustomer) -> ClaimedOut:
    """Claim through a claim link (/coupon/{code}); another shop's code is not found."""
    assert claims.customer_id is not None
    coupon = await service.get_coupon_by_code(session=session, code=code)
    if coupon.shop_id != claims.shop_id:
        raise NotFound(f"coupon {code} was not found", code="coupon_not_found", field="code")
    issued = await service.claim_coupon(
        session=session,
        shop_id=claims.shop_id,
        coupon_id=coupon.id,
        customer_id=claims.customer_id,
        source=ClaimSource.LINK,
    )
    return await _claimed(session, issued, coupon)


@router.get("/coupons/mine", response_model=list[ClaimedOut])
async def my_coupons(session: DbSession, claims: CurrentCustomer) -> list[ClaimedOut]:
    assert claims.customer_id is not None
    held = await service.list_customer_coupons(
        session=session, shop_id=claims.shop_id, customer_id=claims.customer_id
    )
    return [await _claimed(session, issued, issued.coupon) for issued in held]
