"""The mall page, "my orders" page and the checkout partial render; /me reads the token."""

from __future__ import annotations

import json
import re

from liveloop.live.viewers import read_viewer_token
from tests import factories


async def test_mall_lists_products_on_shelf_with_a_guest_token(
    anon_client, session, shop, settings, tea
) -> None:
    hidden = await factories.make_product(
        session, shop_id=shop.id, name="下架茶", status="off_shelf"
    )
    page = await anon_client.get(f"/mall/{shop.id}")
    assert page.status_code == 200
    assert "明前龙井" in page.text and hidden.name not in page.text
    assert 'id="llc"' in page.text and "commerce/checkout.js" in page.text
    raw = re.search(
        r'<script type="application/json" id="llc-config">(.*?)</script>', page.text, re.S
    )
    assert raw is not None
    config = json.loads(raw.group(1))
    claims = read_viewer_token(settings, config["token"])
    assert (claims.shop_id, claims.customer_id, claims.live_session_id) == (shop.id, None, None)
    assert "{stock}" in config["i18n"]["stock_left"]


async def test_mall_pages_speak_english_too(anon_client, shop, tea) -> None:
    page = await anon_client.get(f"/mall/{shop.id}", headers={"Accept-Language": "en"})
    assert "Place order" in page.text or "下单" in page.text
    orders = await anon_client.get(f"/mall/{shop.id}/orders")
    assert orders.status_code == 200 and 'id="llm-my-orders"' in orders.text


async def test_an_unknown_shop_is_not_found(anon_client) -> None:
    assert (await anon_client.get("/mall/999999")).status_code == 404


async def test_me_says_who_the_token_is_for(viewer, shop, buyer) -> None:
    me = (await viewer.get("/api/v1/public/me")).json()
    assert (me["shop_id"], me["customer_id"]) == (shop.id, buyer.id)
