"""Shared set-up of the fission tests: a shop's coupon, a campaign and an inviter."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.customers.crypto import get_cipher
from liveloop.customers.fission import service as fission
from liveloop.customers.fission.schemas import CampaignCreate
from liveloop.customers.identities import make_identity
from liveloop.shops.service import system_actor
from tests import factories

INVITER_PHONE = "13800000001"
INVITER_DEVICE = "device-inviter"


def phone_key(phone: str) -> str:
    return make_identity(get_cipher(), "phone", phone, encrypt=False).key


async def make_coupon(session: AsyncSession, shop_id: int, quantity: int = 100) -> Any:
    return await coupons_service.create_coupon(
        session=session,
        shop_id=shop_id,
        data=CouponCreate(
            title="邀请有礼券", kind="amount_off", amount_off_fen=1000, total_quantity=quantity,
            valid_days=30, status="active",
        ),
    )  # fmt: skip


async def make_campaign(session: AsyncSession, shop_id: int, **fields: Any) -> Any:
    if "reward_kind" not in fields:
        coupon = await make_coupon(session, shop_id)
        fields.update(reward_kind="coupon", reward_coupon_id=coupon.id)
    data = CampaignCreate(
        **{"name": "邀请 2 位好友得券", "invitees_needed": 2, "reward_title": "10 元券", **fields}
    )
    return await fission.create_campaign(session=session, actor=system_actor(shop_id), data=data)


async def make_inviter(session: AsyncSession, shop_id: int, campaign_id: int) -> Any:
    customer = await factories.make_customer(
        session, shop_id=shop_id, name="张伟", phone=INVITER_PHONE
    )
    return await fission.join_campaign(
        session=session,
        shop_id=shop_id,
        campaign_id=campaign_id,
        customer_id=customer.id,
        device_id=INVITER_DEVICE,
        display_name="张伟",
    )


async def accept(
    session: AsyncSession,
    participant: Any,
    invitee_id: int,
    *,
    device: str,
    phone: str | None = None,
    new: bool = True,
) -> fission.InviteOutcome:
    return await fission.accept_invite(
        session=session,
        shop_id=participant.shop_id,
        code=participant.code,
        invitee_customer_id=invitee_id,
        invitee_was_new=new,
        device_id=device,
        phone_key=phone_key(phone) if phone else None,
    )


async def make_fission_records(session: AsyncSession, *, shop_id: int) -> dict[str, int]:
    """A campaign whose participant reached the goal (a reward row), for the isolation test."""
    campaign = await make_campaign(session, shop_id, invitees_needed=1)
    participant = await make_inviter(session, shop_id, campaign.id)
    friend = await factories.make_customer(session, shop_id=shop_id, name="好友")
    await accept(session, participant, friend.id, device="device-friend")
    from sqlalchemy import select

    from liveloop.customers.fission.models import FissionReward

    reward = (
        await session.execute(
            select(FissionReward).where(FissionReward.participant_id == participant.id)
        )
    ).scalar_one()
    return {"fission_campaign_id": campaign.id, "fission_reward_id": reward.id}
