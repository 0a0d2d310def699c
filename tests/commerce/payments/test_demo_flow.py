"""The demo provider end to end over real HTTP: a Uvicorn server with its embedded job consumer,
a viewer who pays, the pay page's job posting the signed notification back to the server's
notify URL, and the order turning paid. Then the same in a real Chromium on the pay page."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from liveloop.core.database import Database
from liveloop.core.settings import Settings
from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from liveloop.models import Base
from tests import factories
from tests.pages.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HAVE_CHROMIUM,
    SECRET_KEY,
    free_port,
)
from tests.servers import stop_server, wait_ready

ROOT = Path(__file__).parents[3]


async def seed(url: str) -> dict[str, Any]:
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = await factories.make_shop(session, name="茶语小铺")
        buyer = await factories.make_customer(session, shop_id=shop.id, name="王芳")
        product = await factories.make_product(session, shop_id=shop.id, price_fen=12900, stock=9)
        orders = [
            await factories.make_order(
                session, shop_id=shop.id, customer_id=buyer.id, lines=[(product.skus[0].id, 1)]
            )
            for _ in range(2)
        ]
        await session.commit()
        seeded = {"shop_id": shop.id, "customer_id": buyer.id, "order_ids": [o.id for o in orders]}
        seeded["numbers"] = [o.number for o in orders]
    await database.dispose()
    return seeded


def start_server(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory",
             "tests.commerce.payments.server_app:create",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip


@pytest.fixture(params=["sqlite", "immediate"])
async def server(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pay.db'}"
    seeded = await seed(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LIVELOOP_VAR_DIR": str(tmp_path / "var"),
        "LIVELOOP_DATABASE_URL": url,
        "LIVELOOP_SECRET_KEY": SECRET_KEY,
        # a real queue (the job runs in the consumer thread), or jobs run inline (page tests)
        "LIVELOOP_QUEUE_BACKEND": request.param,
        "LIVELOOP_BUS_BACKEND": "memory",
        "LIVELOOP_BASE_URL": base,  # where the demo bank posts its notification
        "LIVELOOP_LOG_LEVEL": "warning",
    }
    for name in ("LIVELOOP_REDIS_URL", "LIVELOOP_PII_KEY"):
        env.pop(name, None)
    log_path = tmp_path / "uvicorn.log"
    process = start_server(env, port, log_path)
    try:
        await wait_ready(process, base, log_path)
        settings = Settings(secret_key=SECRET_KEY, var_dir=tmp_path / "var")
        claims = ViewerClaims(
            shop_id=seeded["shop_id"],
            live_session_id=None,
            customer_id=seeded["customer_id"],
            device_id="device-e2e",
            name="王*",
        )
        token = sign_viewer_token(settings, claims)
        yield {"base": base, "token": token, "log": log_path, "queue": request.param, **seeded}
    finally:
        stop_server(process)


async def open_payment(client: httpx.AsyncClient, server: dict[str, Any], order_id: int) -> str:
    response = await client.post(
        f"{server['base']}/api/v1/public/orders/{order_id}/payments",
        json={"provider": "demo", "return_url": "/healthz"},
        headers={
            "Authorization": f"Bearer {server['token']}",
            "Idempotency-Key": f"e2e-{order_id}",
        },
    )
    assert response.status_code == 201, response.text
    pay_url: str = response.json()["prepay"]["pay_url"]
    assert pay_url.startswith(server["base"] + "/pay/demo/")
    return pay_url


async def wait_until_paid(client: httpx.AsyncClient, pay_url: str) -> dict[str, Any]:
    status: dict[str, Any] = {}
    for _ in range(300):  # the job runs in the consumer thread; up to ~30 s
        status = (await client.get(f"{pay_url}/status")).json()
        if status["paid"]:
            break
        await asyncio.sleep(0.1)
    return status


async def test_confirming_on_the_pay_page_pays_the_order_through_a_real_notification(
    server: dict[str, Any],
) -> None:
    async with httpx.AsyncClient() as client:
        pay_url = await open_payment(client, server, server["order_ids"][0])
        page = await client.get(pay_url)
        assert server["numbers"][0] in page.text
        confirmed = await client.post(f"{pay_url}/confirm")
        assert confirmed.status_code == 303
        status = await wait_until_paid(client, pay_url)
        assert status == {
            "payment_status": "succeeded",
            "order_status": "paid",
            "paid": True,
            "return_url": "/healthz",
        }, server["log"].read_text()[-2000:]
        # A second click after paying sends nothing more and changes nothing.
        assert (await client.post(f"{pay_url}/confirm")).status_code == 303
        assert (await client.get(f"{pay_url}/status")).json()["order_status"] == "paid"


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_a_payer_confirms_in_chromium_and_returns_to_the_shop(
    server: dict[str, Any],
) -> None:
    if server["queue"] != "sqlite":
        pytest.skip("the browser flow runs once, against the real queue")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with httpx.AsyncClient() as client:
        pay_url = await open_payment(client, server, server["order_ids"][1])
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True
            )
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            expect = playwright_api.expect
            await page.goto(pay_url)
            await expect(page.locator("[data-testid=amount]")).to_have_text("¥129.00")
            await expect(page.locator("[data-testid=order-number]")).to_have_text(
                server["numbers"][1]
            )
            await page.click("[data-testid=confirm-pay]")
            # The page polls until the notification has been applied, then goes back.
            await expect(page).to_have_url(f"{server['base']}/healthz", timeout=30_000)
            assert problems == []
        finally:
            await browser.close()
    async with httpx.AsyncClient() as client:
        status = (await client.get(f"{pay_url}/status")).json()
    assert status["order_status"] == "paid"
