"""Helpers shared by the group buy, assist and affiliate tests: pay an order for real."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import orders as orders_service


async def pay(session: AsyncSession, order: Any) -> Any:
    """Pay through the demo provider's signed notification, as the hosted pay page does."""
    from liveloop.commerce.payments import accounts
    from liveloop.commerce.payments import service as payments_service

    payment = await payments_service.create_payment(
        session=session,
        shop_id=order.shop_id,
        order_id=order.id,
        provider="demo",
        idempotency_key=None,
        return_url="/",
        client_ip=None,
    )
    async with accounts.provider_for(
        session=session, shop_id=order.shop_id, provider="demo"
    ) as provider:
        headers, body = provider.build_notification(  # type: ignore[attr-defined]
            out_trade_no=payment.number, amount_fen=payment.amount_fen
        )
    await payments_service.handle_notification(
        session=session, shop_id=order.shop_id, provider="demo", headers=headers, body=body
    )
    return await orders_service.get_order(session=session, shop_id=order.shop_id, order_id=order.id)


async def make_growth_records(
    session: AsyncSession, *, shop_id: int, sku_id: int
) -> dict[str, int]:
    """One group buy campaign and group, assist campaign and affiliate of `shop_id`, by the ids
    their routes take (tests/test_shop_isolation.py walks those routes with them)."""
    from liveloop.commerce.affiliates import service as affiliates
    from liveloop.commerce.affiliates.schemas import AffiliateCreate
    from liveloop.commerce.assist import service as assist
    from liveloop.commerce.assist.schemas import AssistCampaignCreate
    from liveloop.commerce.groupbuy import service as groupbuy
    from liveloop.commerce.groupbuy.schemas import CampaignCreate
    from liveloop.shops.service import system_actor
    from tests import factories

    actor = system_actor(shop_id)
    campaign = await groupbuy.create_campaign(
        session=session,
        actor=actor,
        data=CampaignCreate(title="团", sku_id=sku_id, group_price_fen=1, group_size=2),
    )
    leader = await factories.make_customer(session, shop_id=shop_id, name="团长")
    address = await factories.make_address(session, shop_id=shop_id, customer_id=leader.id)
    purchase = await groupbuy.open_group(
        session=session,
        shop_id=shop_id,
        campaign_id=campaign.id,
        customer_id=leader.id,
        address_id=address.id,
    )
    assist_campaign = await assist.create_campaign(
        session=session,
        actor=actor,
        data=AssistCampaignCreate(
            title="砍", reward_kind="price_cut", sku_id=sku_id, target_price_fen=1, helpers_needed=1
        ),
    )
    affiliate = await affiliates.create_affiliate(
        session=session, actor=actor, data=AffiliateCreate(name="KOL")
    )
    return {
        "group_buy_id": campaign.id,
        "buy_group_id": purchase.group.id,
        "assist_campaign_id": assist_campaign.id,
        "affiliate_id": affiliate.id,
    }
