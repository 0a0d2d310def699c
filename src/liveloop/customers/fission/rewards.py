"""Giving a fission reward: a coupon (coupons service), points (points service, through a lazy
adapter) or a product queued for shipping. The caller holds the reward row; this fills it."""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers.fission.models import (
    FissionCampaign,
    FissionReward,
    RewardKind,
    RewardStatus,
)

POINTS_SERVICE = "liveloop.customers.points.service"


class PointsUnavailable(Conflict):
    pass


async def grant_points(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    points: int,
    campaign_id: int,
    participant_id: int,
) -> None:
    """Points through `liveloop.customers.points.service.grant_points`, imported only when a
    points reward is due: a build without the points service says so instead of failing to
    start. The idempotency key makes a retried grant a no-op in the ledger."""
    try:
        module = importlib.import_module(POINTS_SERVICE)
        grant = module.grant_points
    except (ImportError, AttributeError):
        raise PointsUnavailable(
            f"points rewards need {POINTS_SERVICE}.grant_points, which this installation "
            "does not have; choose a coupon or product reward",
            code="points_unavailable",
            field="reward_points",
        ) from None
    await grant(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        points=points,
        reason="fission",
        ref_type="fission_campaign",
        ref_id=campaign_id,
        idempotency_key=f"fission:{campaign_id}:{participant_id}",
    )


async def _default_address(session: AsyncSession, shop_id: int, customer_id: int) -> Any:
    from liveloop.commerce.models import Address

    return (
        await session.execute(
            select(Address)
            .where(Address.shop_id == shop_id, Address.customer_id == customer_id)
            .order_by(Address.is_default.desc(), Address.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


def address_snapshot(address: Any) -> dict[str, Any]:
    """What the console shows for shipping without decrypting: name, masked phone, region."""
    return {
        "recipient": address.recipient_name,
        "phone_masked": address.phone_masked,
        "region": address.region,
        "city": address.city,
        "district": address.district,
    }


async def fill_reward(
    session: AsyncSession, campaign: FissionCampaign, reward: FissionReward
) -> None:
    """Give the reward and set its status; a grant that fails leaves status failed and a
    note (the caller gives the stock back). Runs inside a savepoint the caller opened."""
    kind = campaign.reward_kind
    if kind == RewardKind.COUPON.value:
        from liveloop.commerce.coupons import service as coupons_service

        assert campaign.reward_coupon_id is not None
        issued = await coupons_service.grant_coupon(
            session=session,
            shop_id=campaign.shop_id,
            coupon_id=campaign.reward_coupon_id,
            customer_id=reward.customer_id,
            reason=f"fission campaign {campaign.code}",
        )
        reward.customer_coupon_id = issued.id
        reward.status = RewardStatus.GRANTED.value
    elif kind == RewardKind.POINTS.value:
        assert campaign.reward_points is not None
        await grant_points(
            session=session,
            shop_id=campaign.shop_id,
            customer_id=reward.customer_id,
            points=campaign.reward_points,
            campaign_id=campaign.id,
            participant_id=reward.participant_id,
        )
        reward.points = campaign.reward_points
        reward.status = RewardStatus.GRANTED.value
    else:
        reward.product_id = campaign.reward_product_id
        address = await _default_address(session, campaign.shop_id, reward.customer_id)
        if address is None:
            reward.status = RewardStatus.NEEDS_ADDRESS.value
        else:
            reward.address_id = address.id
            reward.address = address_snapshot(address)
            reward.status = RewardStatus.TO_SHIP.value
    await session.flush()


GRANT_ERRORS = (Conflict, InvalidInput, NotFound)
