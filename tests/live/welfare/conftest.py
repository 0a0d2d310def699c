"""Helpers of the welfare tests: a live room, a VIP community, a coupon, an offer; and the
records for the shop isolation test."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.customers.communities import service as communities_service
from liveloop.customers.communities.schemas import CommunityIn
from liveloop.live.welfare import service
from liveloop.live.welfare.schemas import OfferIn

SECRET = "test-secret-key-not-for-production"  # the test settings' secret_key
BASE = "http://testserver"


async def make_community(
    session: AsyncSession, shop_id: int, *, name: str = "VIP会员群", capacity: int = 500
) -> Any:
    return await communities_service.create_community(
        session=session,
        shop_id=shop_id,
        data=CommunityIn(
            name=name,
            kind="vip",
            channel="wecom_group",
            capacity=capacity,
            join_url="https://work.weixin.qq.com/gm/test-vip",
        ),  # type: ignore[call-arg]
    )


async def make_coupon(session: AsyncSession, shop_id: int, *, quantity: int = 100) -> Any:
    return await coupons_service.create_coupon(
        session=session,
        shop_id=shop_id,
        data=CouponCreate(
            title="入群礼 ¥10 券",
            kind="amount_off",
            amount_off_fen=1000,
            valid_days=7,
            total_quantity=quantity,
            status="active",
        ),  # type: ignore[arg-type]
    )


async def start(
    session: AsyncSession, actor: Any, live_session_id: int, community_id: int, **fields: Any
) -> Any:
    data = {
        "community_id": community_id,
        "popup_text": "加入VIP群领 100 积分",
        "reward_kind": "points",
        "reward_points": 100,
        **fields,
    }
    return await service.start_offer(
        session=session, actor=actor, live_session_id=live_session_id, data=OfferIn(**data)
    )


async def tap_and_sign(
    session: AsyncSession, offer: Any, customer_id: int, *, secret: str = SECRET
) -> str:
    """The viewer taps; their personal join link's token."""
    claim = await service.tap_offer(
        session=session,
        shop_id=offer.shop_id,
        offer_id=offer.id,
        customer_id=customer_id,
        live_session_id=offer.live_session_id,
    )
    link = service.personal_link(offer, claim, secret=secret, base_url=BASE)
    assert link is not None, service.viewer_state(claim, offer)
    return str(link["token"])


async def make_welfare_records(session: AsyncSession, *, shop_id: int) -> dict[str, int]:
    """A running welfare offer in a live session of this shop, with one customer's tap."""
    from liveloop.shops.service import system_actor
    from tests import factories
    from tests.factories.live import make_live_session

    room = await make_live_session(session, shop_id=shop_id, status="live")
    community = await make_community(session, shop_id)
    offer = await start(session, system_actor(shop_id, "test"), room.id, community.id)
    fan = await factories.make_customer(session, shop_id=shop_id, name="隔壁粉丝")
    await tap_and_sign(session, offer, fan.id)
    return {"offer_id": offer.id}
