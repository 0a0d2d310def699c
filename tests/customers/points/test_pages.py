"""Console pages of points (tiers, rules, catalogue, settings, customer panel) over HTTP, and
the viewer's badge with check-in in a real Chromium at 375×667."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from liveloop.customers.points import service as points
from liveloop.customers.points import tiers
from liveloop.customers.points.models import EarnRule, RedemptionItem
from tests.pages.test_checkout_browser import shop_server  # noqa: F401  (fixture)
from tests.pages.test_console_browser import CHROMIUM, HAVE_CHROMIUM, SECRET_KEY
from tests.pages.test_live_viewer import chromium_page
from tests.web.conftest import console, post_form  # noqa: F401


async def test_console_manages_tiers_rules_and_catalogue(
    console,  # noqa: F811
    session,
    shop,
    member,
    coupon,
) -> None:
    home = await console.get("/console/points")
    assert home.status_code == 200 and 'id="tier-form"' in home.text
    assert 'href="/console/points"' in home.text  # in the navigation
    made = await post_form(
        console, "/console/points/tiers",
        {"name": "金卡", "level": "2", "min_points": "100", "coupon_ids": str(coupon.id),
         "priority_service": "1"},
    )  # fmt: skip
    assert made.status_code == 303
    bad = await post_form(console, "/console/points/tiers", {"name": "X", "level": "abc"})
    assert bad.status_code == 303
    await post_form(
        console,
        "/console/points/rules",
        {"event_type": "comment", "points": "2", "daily_cap": "10"},
    )
    await post_form(
        console, "/console/points/items",
        {"title": "5元券", "coupon_id": str(coupon.id), "points_price": "80", "stock": "9"},
    )  # fmt: skip
    await post_form(
        console,
        "/console/points/settings",
        {"expiry_mode": "never", "tier_basis": "points_lifetime"},
    )
    page = (await console.get("/console/points")).text
    assert "金卡" in page and 'data-rule="comment"' in page and "5元券" in page
    rule = (await session.execute(select(EarnRule).where(EarnRule.shop_id == shop.id))).scalar_one()
    assert (rule.points, rule.daily_cap) == (2, 10)
    item = (
        await session.execute(select(RedemptionItem).where(RedemptionItem.shop_id == shop.id))
    ).scalar_one()
    assert (item.points_price, item.stock) == (80, 9)
    assert (await points.get_settings(session=session, shop_id=shop.id)).expiry_mode == "never"
    (tier,) = await tiers.list_tiers(session=session, shop_id=shop.id)
    assert tier.benefits["coupon_ids"] == [coupon.id] and tier.benefits["priority_service"]

    # The customer page shows the points panel; an adjustment there moves the balance.
    adjusted = await post_form(
        console,
        f"/console/points/customers/{member.id}/adjust",
        {"delta": "+150", "reason": "开业礼"},
    )
    assert adjusted.status_code == 303
    detail = (await console.get(f"/console/customers/{member.id}")).text
    assert 'id="customer-points"' in detail and "priority-service" in detail
    assert (
        await points.get_balance(session=session, shop_id=shop.id, customer_id=member.id)
    ).balance == 150
    members = (await console.get(f"/console/points/tiers/{tier.id}")).text
    assert f"/console/customers/{member.id}" in members
    refused = await post_form(
        console, f"/console/points/customers/{member.id}/adjust", {"delta": "-999", "reason": "x"}
    )
    assert refused.status_code == 303
    assert (
        await points.get_balance(session=session, shop_id=shop.id, customer_id=member.id)
    ).balance == 150


async def test_another_shops_tier_page_is_not_found(console, session, other_shop) -> None:  # noqa: F811
    from liveloop.shops.service import system_actor

    foreign = await tiers.create_tier(
        session=session, actor=system_actor(other_shop.id), values={"name": "别家金卡", "level": 1}
    )
    assert (await console.get(f"/console/points/tiers/{foreign.id}")).status_code == 404


async def _api(
    server: dict[str, Any], method: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server["base"], timeout=15) as client:
        response = await client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {server['api_key']}"}
        )
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_viewer_sees_tier_and_points_and_checks_in(shop_server: dict[str, Any]) -> None:  # noqa: F811
    from liveloop.core.settings import Settings
    from liveloop.live.viewers import ViewerClaims, sign_viewer_token

    expect = pytest.importorskip("playwright.async_api").expect
    await _api(
        shop_server, "POST", "/api/v1/points/earn-rules", {"event_type": "check_in", "points": 20}
    )
    await _api(
        shop_server, "POST", "/api/v1/points/tiers", {"name": "银卡", "level": 1, "min_points": 100}
    )
    await _api(
        shop_server,
        "POST",
        "/api/v1/points/tiers",
        {"name": "金卡", "level": 2, "min_points": 1000},
    )
    customer = await _api(shop_server, "POST", "/api/v1/customers", {"display_name": "王芳"})
    await _api(
        shop_server, "POST", f"/api/v1/customers/{customer['id']}/points/adjustments",
        {"delta": 100, "reason": "开业礼"},
    )  # fmt: skip
    token = sign_viewer_token(
        Settings(secret_key=SECRET_KEY),
        ViewerClaims(
            shop_id=shop_server["shop_id"], live_session_id=shop_server["live_session_id"],
            customer_id=customer["id"], device_id="points-device", name="王芳",
        ),
    )  # fmt: skip
    async with chromium_page() as page:  # 375×667
        await page.goto(f"{shop_server['base']}/live/{shop_server['code']}")
        await expect(page.locator("#online-count")).not_to_have_text("0")
        await expect(page.locator("#llpt")).to_be_hidden()  # a guest has no points
        # What commerce does once the guest is a customer: the page swaps its token.
        await page.evaluate("token => window.LiveLoopViewer.setToken(token)", token)
        await expect(page.locator("#llpt")).to_be_visible()
        await expect(page.locator("#llpt-tier")).to_have_text("银卡")
        await expect(page.locator("#llpt-balance")).to_have_text("100")
        await page.click("#llpt-check")
        await expect(page.locator("#llpt-balance")).to_have_text("120")
        await expect(page.locator("#llpt-check")).to_be_hidden()
        await page.click("#llpt-pill")
        await expect(page.locator("#llpt-next")).to_contain_text("880")
        box = await page.locator("#llpt").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert page.problems == []
