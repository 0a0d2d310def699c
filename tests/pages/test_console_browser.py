"""The console in a real headless Chromium against a real Uvicorn server on a SQLite file.

Logs in, opens the customer list, filters it by a tag (an HTMX swap), and opens a customer.
Screenshots of the dashboard and the customer list are left in the system temp directory.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from liveloop.core.database import Database
from liveloop.models import Base
from tests import factories
from tests.servers import wait_ready

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET_KEY = "test-secret-key-not-for-production"  # the factories' PII cipher uses the same
SCREENSHOTS = Path(tempfile.gettempdir())
HAVE_CHROMIUM = os.path.exists(CHROMIUM)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}; apt-get install chromium"
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def seed(url: str) -> dict[str, str]:
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = await factories.make_shop(session, name="茶语小铺")
        owner = await factories.make_staff(session, shop_id=shop.id, email="owner@example.com")
        vip = await factories.make_tag(session, shop_id=shop.id, name="VIP会员")
        await factories.make_tag(session, shop_id=shop.id, name="沉睡客户")
        await factories.make_customer(
            session, shop_id=shop.id, name="王芳", phone="13800138000", tags=[vip], city="杭州"
        )
        for name, source in (("李娜", "wecom"), ("张伟", "douyin"), ("刘洋", "wecom")):
            await factories.make_customer(
                session, shop_id=shop.id, name=name, source_channel=source
            )
        await session.commit()
        email = owner.email
    await database.dispose()
    return {"email": email}


def start_uvicorn(url: str, port: int, var_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LIVELOOP_VAR_DIR": str(var_dir),
        "LIVELOOP_DATABASE_URL": url,
        "LIVELOOP_SECRET_KEY": SECRET_KEY,
        "LIVELOOP_QUEUE_BACKEND": "immediate",
        "LIVELOOP_BUS_BACKEND": "memory",
        "LIVELOOP_LOG_LEVEL": "warning",
    }
    for name in ("LIVELOOP_REDIS_URL", "LIVELOOP_PII_KEY", "LIVELOOP_BASE_URL"):
        env.pop(name, None)
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "liveloop.app:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2],
        )  # fmt: skip


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """`liveloop` served by Uvicorn in a subprocess, over a fresh SQLite file."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"
    accounts = await seed(url)
    port = free_port()
    log_path = tmp_path / "uvicorn.log"
    process = start_uvicorn(url, port, tmp_path / "var", log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(process, base, log_path)
        yield {"base": base, **accounts}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_log_in_filter_customers_by_tag_and_open_one(server: dict[str, str]) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    base = server["base"]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                locale="zh-CN", viewport={"width": 1360, "height": 900}, reduced_motion="reduce"
            )
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            expect = playwright_api.expect

            await page.goto(f"{base}/console/customers")
            await expect(page).to_have_url(f"{base}/console/login?next=/console/customers")
            await page.fill("input[name=email]", server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}/console/customers")

            await page.click("a[data-nav=dashboard]")
            await expect(page.locator("h1")).to_have_text("首页")
            await expect(page.locator("[data-figure='1']")).to_have_text("4")
            await expect(page.locator("#new-customers-chart svg")).to_have_count(1)
            await page.screenshot(path=str(SCREENSHOTS / "liveloop-dashboard.png"), full_page=True)

            await page.click("a[data-nav=customers]")
            rows = page.locator("#customer-results tr[data-customer]")
            await expect(rows).to_have_count(4)
            await page.select_option("select[name=tag]", label="VIP会员")
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text("王芳")
            await expect(rows.first).to_contain_text("138****8000")
            await expect(page).to_have_url(re.compile(r"tag=\d+"))
            await page.screenshot(path=str(SCREENSHOTS / "liveloop-customers.png"), full_page=True)

            await rows.first.locator("a").click()
            await expect(page.locator("#customer-name")).to_have_text("王芳")
            await expect(page.locator("#customer-tags")).to_contain_text("VIP会员")
            await expect(page.locator(".identity-value")).to_have_text("138****8000")
            await page.click("#reveal-button")
            await expect(page.locator(".identity-value")).to_have_text("13800138000")
            assert problems == []
        finally:
            await browser.close()
