"""Viewer JSON routes of points: my points and tier, check in, the catalogue, redeem.

Authentication is the viewer token; everything needs a customer (a guest has no points)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header

from liveloop.commerce.viewer_api import CurrentCustomer
from liveloop.core.deps import DbSession
from liveloop.customers.points import earning, redemption, tiers
from liveloop.customers.points.api import points_out
from liveloop.customers.points.schemas import (
    EntryOut,
    ItemOut,
    PointsOut,
    RedeemIn,
    RedemptionOut,
    TierBrief,
)

router = APIRouter(prefix="/api/v1/public/points", tags=["points (viewer)"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=80)]


def _customer(claims: Any) -> int:
    assert claims.customer_id is not None  # guaranteed by CurrentCustomer
    return int(claims.customer_id)


@router.get("/me")
async def my_points(session: DbSession, claims: CurrentCustomer) -> dict[str, Any]:
    """Balance, tier, the next tier, today's check-in and the latest 20 ledger entries."""
    customer_id = _customer(claims)
    out: PointsOut = await points_out(session, claims.shop_id, customer_id, 20)
    all_tiers = await tiers.list_tiers(session=session, shop_id=claims.shop_id)
    level = out.tier.level if out.tier else 0
    upcoming = next((t for t in all_tiers if t.level > level), None)
    return {
        **out.model_dump(mode="json"),
        "next_tier": TierBrief.model_validate(upcoming).model_dump() if upcoming else None,
        "next_tier_min_points": upcoming.min_points if upcoming else None,
        "checked_in_today": await earning.checked_in_today(
            session=session, shop_id=claims.shop_id, customer_id=customer_id
        ),
        "check_in_enabled": await earning.active_rule(session, claims.shop_id, "check_in")
        is not None,
    }


@router.post("/check-in", response_model=EntryOut, status_code=201)
async def check_in(session: DbSession, claims: CurrentCustomer) -> EntryOut:
    """Once per shop day; 409 already_checked_in after that."""
    entry = await earning.check_in(
        session=session, shop_id=claims.shop_id, customer_id=_customer(claims)
    )
    return EntryOut.model_validate(entry)


@router.get("/catalogue", response_model=list[ItemOut])
async def catalogue(session: DbSession, claims: CurrentCustomer) -> list[ItemOut]:
    found = await redemption.list_items(session=session, shop_id=claims.shop_id, active_only=True)
    return [ItemOut.model_validate(item) for item in found]


@router.post("/redemptions", response_model=RedemptionOut, status_code=201)
async def redeem(
    data: RedeemIn,
    session: DbSession,
    claims: CurrentCustomer,
    idempotency_key: IdempotencyKey = None,
) -> RedemptionOut:
    """Spend points on a catalogue item; a repeat Idempotency-Key returns the first."""
    done = await redemption.redeem(
        session=session,
        shop_id=claims.shop_id,
        customer_id=_customer(claims),
        item_id=data.item_id,
        idempotency_key=idempotency_key,
    )
    return RedemptionOut.model_validate(done)


@router.get("/redemptions", response_model=list[RedemptionOut])
async def my_redemptions(session: DbSession, claims: CurrentCustomer) -> list[RedemptionOut]:
    found = await redemption.list_redemptions(
        session=session, shop_id=claims.shop_id, customer_id=_customer(claims)
    )
    return [RedemptionOut.model_validate(r) for r in found]
