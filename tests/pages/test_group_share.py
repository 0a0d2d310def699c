"""A friend opens a shared group link in a real Chromium, joins, pays on the demo pay page, and
the group (two of two paid) is confirmed — the whole asynchronous path, on a real server."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from liveloop.commerce.groupbuy import service as groupbuy
from liveloop.commerce.groupbuy.models import GroupBuyGroup
from liveloop.commerce.groupbuy.schemas import CampaignCreate
from liveloop.commerce.payments import service as payments_service
from liveloop.commerce.payments.providers.demo import DemoProvider
from liveloop.core.database import Database
from liveloop.core.jobs import queue
from liveloop.core.settings import Settings
from liveloop.models import Base
from liveloop.shops.service import system_actor
from tests import factories
from tests.commerce.payments.test_demo_flow import start_server
from tests.pages.phone_codes import texted_code
from tests.pages.test_console_browser import CHROMIUM, HAVE_CHROMIUM, SECRET_KEY, free_port
from tests.pages.test_live_viewer import chromium_page
from tests.servers import wait_ready


async def seed_open_group(url: str, var_dir: Path) -> dict[str, object]:
    """A two-person group whose leader has paid (through a signed demo notification)."""
    # The seed commits for real, so its after-commit jobs need a queue (on the same file).
    queue.configure(
        Settings(
            var_dir=var_dir,
            database_url=url,
            queue_backend="immediate",
            secret_key=SECRET_KEY,
            log_level="warning",
        )
    )
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = await factories.make_shop(session, name="茶语小铺")
        tea = await factories.make_product(
            session, shop_id=shop.id, name="凤凰单丛", price_fen=9900
        )
        campaign = await groupbuy.create_campaign(
            session=session,
            actor=system_actor(shop.id),
            data=CampaignCreate(
                title="两人团", sku_id=tea.skus[0].id, group_price_fen=5900, group_size=2
            ),
        )
        leader = await factories.make_customer(session, shop_id=shop.id, name="张伟")
        address = await factories.make_address(session, shop_id=shop.id, customer_id=leader.id)
        purchase = await groupbuy.open_group(
            session=session,
            shop_id=shop.id,
            campaign_id=campaign.id,
            customer_id=leader.id,
            address_id=address.id,
            display_name="张伟",
        )
        payment = await payments_service.create_payment(
            session=session, shop_id=shop.id, order_id=purchase.order.id, provider="demo",
            idempotency_key=None, return_url="", client_ip=None,
        )  # fmt: skip
        demo = DemoProvider(secret=SECRET_KEY, shop_id=shop.id, public_url="")
        headers, body = demo.build_notification(
            out_trade_no=payment.number, amount_fen=payment.amount_fen
        )
        await payments_service.handle_notification(
            session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
        )
        await session.commit()
        seeded = {"code": purchase.group.code, "group_id": purchase.group.id}
    await database.dispose()
    return seeded


async def group_status(url: str, group_id: int) -> tuple[str, int]:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            row = (
                await session.execute(
                    select(GroupBuyGroup.status, GroupBuyGroup.paid_count).where(
                        GroupBuyGroup.id == group_id
                    )
                )
            ).one()
            return row[0], row[1]
    finally:
        await database.dispose()


@pytest.fixture
async def group_server(tmp_path: Path) -> AsyncIterator[dict[str, object]]:
    """Uvicorn with its embedded job consumer (a real queue, as in the payments' demo flow), so
    the demo bank's notification is posted back by a job, not inside the request."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'group.db'}"
    seeded = await seed_open_group(url, tmp_path / "seed-var")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LIVELOOP_VAR_DIR": str(tmp_path / "var"),
        "LIVELOOP_DATABASE_URL": url,
        "LIVELOOP_SECRET_KEY": SECRET_KEY,
        "LIVELOOP_QUEUE_BACKEND": "sqlite",
        "LIVELOOP_BUS_BACKEND": "memory",
        "LIVELOOP_BASE_URL": base,
        "LIVELOOP_LOG_LEVEL": "warning",
    }
    for name in ("LIVELOOP_REDIS_URL", "LIVELOOP_PII_KEY"):
        env.pop(name, None)
    log_path = tmp_path / "uvicorn.log"
    process = start_server(env, port, log_path)
    try:
        await wait_ready(process, base, log_path)
        yield {**seeded, "base": base, "url": url}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_a_friend_joins_pays_and_the_group_is_confirmed(group_server) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    base, code = group_server["base"], group_server["code"]
    async with chromium_page() as page:
        await page.goto(f"{base}/group/{code}")
        await expect(page.locator("#llg-members .llg-member").first).to_contain_text("张**")
        await expect(page.locator("#llg-countdown")).to_have_text(re.compile(r"^\D*23\D+59\D"))
        await page.fill("input[name=recipient_name]", "李娜")
        await page.fill("input[name=phone]", "13911112222")
        await page.fill("#llg-phone-code .llpc-code", await texted_code(page, "#llg-phone-code"))
        await page.fill("input[name=region]", "广东省")
        await page.fill("input[name=city]", "潮州市")
        await page.fill("input[name=detail]", "凤凰镇 1 号")
        await page.click("#llg-join-button")
        await page.wait_for_url("**/pay/demo/**")
        await page.click("[data-testid=confirm-pay]")
        status = ("open", 1)
        for _ in range(200):  # the notification is applied by a job; wait for it, not a timing
            status = await group_status(str(group_server["url"]), int(group_server["group_id"]))
            if status[0] != "open":
                break
            await asyncio.sleep(0.1)
        assert status == ("confirmed", 2)
        await page.goto(f"{base}/group/{code}")
        await expect(page.locator("#llg-group")).to_have_attribute("data-status", "confirmed")
        await expect(page.locator("#llg-members .llg-member.paid")).to_have_count(2)
        assert page.problems == []
