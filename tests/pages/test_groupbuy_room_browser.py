"""Group buy inside the live room, in a real Chromium against a real Uvicorn: the anchor pushes
a group buy; a customer starts a group from the card and pays; a second viewer joins that group
from the card and pays; the group completes and the leader's card says so. A guest starts a
group through the group page (which asks who they are)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from liveloop.commerce.groupbuy.models import GroupBuyGroup
from liveloop.core.database import Database
from tests import factories
from tests.live.wsutil import make_token, token_settings
from tests.pages.phone_codes import texted_code
from tests.pages.test_checkout_browser import shop_server  # noqa: F401  (fixture)
from tests.pages.test_console_browser import CHROMIUM, HAVE_CHROMIUM
from tests.pages.test_live_viewer import PHONE, chromium_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}"),
]


async def call(server: dict[str, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server["base"], timeout=15) as client:
        response = await client.post(
            path, json=body, headers={"Authorization": f"Bearer {server['api_key']}"}
        )
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def tea_sku(server: dict[str, Any]) -> int:
    async with httpx.AsyncClient(base_url=server["base"], timeout=15) as client:
        response = await client.get(
            f"/api/v1/products/{server['product_ids'][0]}",
            headers={"Authorization": f"Bearer {server['api_key']}"},
        )
    return int(response.json()["skus"][0]["id"])  # 100g, ¥129.00


async def push_group_buy(server: dict[str, Any]) -> int:
    campaign = await call(
        server, "/api/v1/group-buys",
        {"title": "龙井两人团", "sku_id": await tea_sku(server), "group_price_fen": 9900,
         "group_size": 2, "live_session_id": server["live_session_id"]},
    )  # fmt: skip
    await call(
        server,
        f"/api/v1/group-buys/{campaign['id']}/push",
        {"live_session_id": server["live_session_id"]},
    )
    return int(campaign["id"])


async def customers_with_addresses(server: dict[str, Any]) -> list[int]:
    database = Database(server["url"])
    try:
        async with database.sessionmaker() as session:
            ids = []
            for name in ("张伟", "李娜"):
                customer = await factories.make_customer(
                    session, shop_id=server["shop_id"], name=name
                )
                await factories.make_address(
                    session, shop_id=server["shop_id"], customer_id=customer.id, recipient_name=name
                )
                ids.append(customer.id)
            await session.commit()
            return ids
    finally:
        await database.dispose()


async def groups_of(url: str) -> list[tuple[str, str, int, int]]:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            rows = await session.execute(
                select(
                    GroupBuyGroup.code,
                    GroupBuyGroup.status,
                    GroupBuyGroup.seats_taken,
                    GroupBuyGroup.paid_count,
                ).order_by(GroupBuyGroup.id)
            )
            return [tuple(row) for row in rows.all()]  # type: ignore[misc]
    finally:
        await database.dispose()


async def as_customer(page: Any, server: dict[str, Any], customer_id: int, tmp: Path) -> None:
    """The room page with a customer's viewer token (what a logged-in buyer's page holds)."""
    token = make_token(
        token_settings(tmp),
        shop_id=server["shop_id"],
        room=server["live_session_id"],
        customer_id=customer_id,
        device_id=f"device-{customer_id}",
    )
    await page.evaluate("token => window.LiveLoopViewer.setToken(token)", token)


async def pay_on_the_demo_page(page: Any) -> None:
    await page.wait_for_url("**/pay/demo/**")
    await page.click("[data-testid=confirm-pay]")


async def wait_for_group(url: str, status: str) -> tuple[str, str, int, int]:
    found: list[tuple[str, str, int, int]] = []
    for _ in range(300):  # a job applies the payment notification: wait for it, not a timing
        found = await groups_of(url)
        if found and found[0][1] == status:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the group is not {status}: {found}")


async def test_two_customers_complete_a_group_from_the_room_card(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
    tmp_path: Path,
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    leader_id, friend_id = await customers_with_addresses(shop_server)
    room_url = f"{shop_server['base']}/live/{shop_server['code']}"
    async with chromium_page() as leader, chromium_page() as friend:
        await leader.goto(room_url)
        await expect(leader.locator("#online-count")).not_to_have_text("0")
        await as_customer(leader, shop_server, leader_id, tmp_path)
        campaign_id = await push_group_buy(shop_server)

        card = leader.locator("#llgb")
        await expect(card).to_be_visible()
        await expect(leader.locator("#llgb-title")).to_have_text("龙井两人团")
        await expect(leader.locator("#llgb-size")).to_have_text("2人团")
        await expect(leader.locator("#llgb-group-price")).to_have_text("¥99.00")
        await expect(leader.locator("#llgb-single-price")).to_have_text("¥129.00")
        # At 375×667 the card stays clear of the danmaku's whole area (bottom left, ≤ 34%).
        box = await card.bounding_box()
        danmaku = await leader.locator("#danmaku").bounding_box()
        assert box is not None and danmaku is not None
        danmaku_top = danmaku["y"] + danmaku["height"] - 0.34 * PHONE["height"]
        assert box["y"] + box["height"] <= danmaku_top
        assert box["x"] + box["width"] <= PHONE["width"]

        await leader.click("#llgb-start")
        await pay_on_the_demo_page(leader)
        await leader.wait_for_url(f"{room_url}#ll-group-*", timeout=30000)
        code, status, seats, _paid = await wait_for_group(shop_server["url"], "open")
        assert (status, seats) == ("open", 1)
        # Back in the room: the leader's own group, its link to share and its progress.
        await expect(leader.locator("#llgb-mine")).to_be_visible()
        await expect(leader.locator("#llgb-link")).to_have_value(
            f"{shop_server['base']}/group/{code}"
        )
        await expect(leader.locator("#llgb-progress")).to_contain_text("2 人团已有 1 人参团")

        # A second viewer, late: the card comes from the snapshot, with the open group.
        await friend.goto(room_url)
        await expect(friend.locator("#online-count")).not_to_have_text("0")
        await as_customer(friend, shop_server, friend_id, tmp_path)
        group = friend.locator(f"#llgb-groups [data-code='{code}']")
        await expect(group).to_be_visible()
        await expect(group.locator(".llgb-need")).to_have_text("还差 1 人")
        await expect(group.locator(".llgb-clock")).to_have_text(re.compile(r"^23:5\d:\d\d$"))
        await group.locator(".llgb-join").click()
        await pay_on_the_demo_page(friend)

        assert (await wait_for_group(shop_server["url"], "confirmed"))[2:] == (2, 2)
        # The leader never left the room this time: the card follows the group to the end.
        await expect(leader.locator("#llgb-progress")).to_have_text("已成团，订单即将发货。")
        await expect(leader.locator(f"#llgb-groups [data-code='{code}']")).to_have_count(0)
        assert campaign_id > 0
        assert leader.problems == [] and friend.problems == []


async def test_a_guest_starts_a_group_through_the_group_page(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    async with chromium_page() as page:
        await page.goto(f"{shop_server['base']}/live/{shop_server['code']}")
        await expect(page.locator("#online-count")).not_to_have_text("0")
        await push_group_buy(shop_server)
        await page.click("#llgb-start")
        await page.wait_for_url("**/group-buy/*?room=*")
        await expect(page.locator("#llg-join-button")).to_have_text("¥99.00 开团")
        await page.fill("input[name=recipient_name]", "王芳")
        await page.fill("input[name=phone]", "13911112222")
        await page.fill("input[name=region]", "浙江省")
        await page.fill("input[name=city]", "杭州市")
        await page.fill("input[name=detail]", "文三路 1 号")
        await page.fill("#llg-phone-code .llpc-code", await texted_code(page, "#llg-phone-code"))
        await page.click("#llg-join-button")
        await pay_on_the_demo_page(page)
        code, _status, seats, _paid = (await groups_of(shop_server["url"]))[0]
        assert seats == 1
        # Paid, the leader lands on the group's own page: the link to share.
        await page.wait_for_url(f"**/group/{code}", timeout=30000)
        await expect(page.locator("#llg-members .llg-member").first).to_contain_text("王**")
        assert page.problems == []
