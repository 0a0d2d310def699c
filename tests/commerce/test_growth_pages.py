"""Console pages of group buys, assists and affiliates, and the two share pages."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from liveloop.commerce.affiliates.models import Affiliate
from liveloop.commerce.assist import service as assist
from liveloop.commerce.assist.models import AssistCampaign
from liveloop.commerce.groupbuy import service as groupbuy
from liveloop.commerce.groupbuy.models import GroupBuyCampaign
from tests import factories
from tests.web.conftest import console, post_form  # noqa: F401  (the fixture)


async def test_group_buy_pages_create_list_and_share(
    console: httpx.AsyncClient,  # noqa: F811
    session,
    shop,
) -> None:
    product = await factories.make_product(session, shop_id=shop.id, name="单丛", price_fen=9900)
    bad = await post_form(
        console,
        "/console/group-buys",
        {"title": "团", "sku_id": str(product.skus[0].id), "group_price": "99.00",
         "group_size": "3", "time_limit_minutes": "60"},
    )  # fmt: skip
    assert bad.status_code == 303
    assert "must be below" in (await console.get("/console/group-buys")).text
    created = await post_form(
        console,
        "/console/group-buys",
        {"title": "三人团", "sku_id": str(product.skus[0].id), "group_price": "59.00",
         "group_size": "3", "time_limit_minutes": "60", "per_customer_limit": "1"},
    )  # fmt: skip
    assert created.status_code == 303
    campaign = (
        await session.execute(select(GroupBuyCampaign).where(GroupBuyCampaign.shop_id == shop.id))
    ).scalar_one()
    assert campaign.group_price_fen == 5900
    listing = await console.get("/console/group-buys")
    assert "三人团" in listing.text and "¥59.00" in listing.text
    customer = await factories.make_customer(session, shop_id=shop.id, name="张伟")
    address = await factories.make_address(session, shop_id=shop.id, customer_id=customer.id)
    purchase = await groupbuy.open_group(
        session=session,
        shop_id=shop.id,
        campaign_id=campaign.id,
        customer_id=customer.id,
        address_id=address.id,
        display_name="张伟",
    )
    detail = await console.get(f"/console/group-buys/{campaign.id}")
    assert purchase.group.code in detail.text
    group_page = await console.get(f"/console/group-buys/groups/{purchase.group.id}")
    assert f"/console/orders/{purchase.order.id}" in group_page.text
    share = await console.get(f"/group/{purchase.group.code}")
    assert share.status_code == 200
    assert "张**" in share.text and "张伟" not in share.text
    assert (await console.get("/group/unknown-code")).status_code == 404
    saved = await post_form(console, "/console/group-buys/settings", {"simulate_group": "1"})
    assert saved.status_code == 303
    assert (await groupbuy.get_settings(session=session, shop_id=shop.id)).simulate_group


async def test_assist_pages_show_the_abuse_list(
    console: httpx.AsyncClient,  # noqa: F811
    session,
    shop,
) -> None:
    product = await factories.make_product(session, shop_id=shop.id, price_fen=5000)
    created = await post_form(
        console,
        "/console/assists",
        {"title": "砍一刀", "reward_kind": "price_cut", "sku_id": str(product.skus[0].id),
         "target_price": "1.00", "helpers_needed": "3", "time_limit_minutes": "60"},
    )  # fmt: skip
    assert created.status_code == 303
    campaign = (
        await session.execute(select(AssistCampaign).where(AssistCampaign.shop_id == shop.id))
    ).scalar_one()
    owner = await factories.make_customer(session, shop_id=shop.id, name="张伟")
    started = await assist.start_assist(
        session=session,
        shop_id=shop.id,
        campaign_id=campaign.id,
        customer_id=owner.id,
        device_id="device-owner",
        display_name="张伟",
    )
    await assist.help_assist(
        session=session,
        shop_id=shop.id,
        code=started.code,
        helper_customer_id=owner.id,
        device_id="device-owner",
    )
    page = await console.get(f"/console/assists/{campaign.id}")
    assert page.status_code == 200
    assert 'data-reason="self_help"' in page.text
    share = await console.get(f"/assist/{started.code}")
    assert share.status_code == 200 and "¥50.00" in share.text


async def test_affiliate_pages_create_add_code_and_export(
    console: httpx.AsyncClient,  # noqa: F811
    session,
    shop,
) -> None:
    created = await post_form(
        console, "/console/affiliates", {"name": "小王", "kind": "kol", "rate": "12.5"}
    )
    assert created.status_code == 303
    affiliate = (
        await session.execute(select(Affiliate).where(Affiliate.shop_id == shop.id))
    ).scalar_one()
    assert affiliate.default_rate_bp == 1250
    added = await post_form(
        console, f"/console/affiliates/{affiliate.id}/codes", {"code": "WANG", "kind": "promo"}
    )
    assert added.status_code == 303
    detail = await console.get(f"/console/affiliates/{affiliate.id}")
    assert "<code>WANG</code>" in detail.text
    listing = await console.get("/console/affiliates")
    assert "12.50%" in listing.text
    export = await console.get(f"/console/affiliates/settlement.csv?affiliate={affiliate.id}")
    assert export.status_code == 200
    assert export.text.lstrip("\ufeff").startswith("commission_id,")


async def test_a_group_past_its_deadline_can_be_closed_from_the_console(
    console: httpx.AsyncClient,  # noqa: F811
    session,
    shop,
) -> None:
    import datetime as dt

    from liveloop.commerce.groupbuy.schemas import CampaignCreate
    from liveloop.shops.service import system_actor

    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900)
    campaign = await groupbuy.create_campaign(
        session=session,
        actor=system_actor(shop.id),
        data=CampaignCreate(
            title="团", sku_id=product.skus[0].id, group_price_fen=100, group_size=2
        ),
    )
    customer = await factories.make_customer(session, shop_id=shop.id)
    address = await factories.make_address(session, shop_id=shop.id, customer_id=customer.id)
    purchase = await groupbuy.open_group(
        session=session,
        shop_id=shop.id,
        campaign_id=campaign.id,
        customer_id=customer.id,
        address_id=address.id,
    )
    url = f"/console/group-buys/groups/{purchase.group.id}"
    assert "/close" not in (await console.get(url)).text  # still within its time limit
    purchase.group.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await session.flush()
    assert f"{url}/close" in (await console.get(url)).text
    closed = await post_form(console, f"{url}/close")
    assert closed.status_code == 303
    await session.refresh(purchase.group)
    assert purchase.group.status == "failed"  # nobody paid: nothing to refund, order cancelled
