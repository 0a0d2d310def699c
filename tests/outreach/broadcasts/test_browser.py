"""In a real Chromium against a real Uvicorn: an operator opens a live session's page, presses
Invite, and sees each recipient's status; the e-mails are in the local mailbox file."""

from __future__ import annotations

import mailbox
import re
from collections.abc import AsyncIterator
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.outreach.channels import service as channel_service
from liveloop.outreach.channels.email import mailbox_path
from tests import factories
from tests.factories.live import make_live_session
from tests.outreach.conftest import without_quiet_hours
from tests.pages.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HAVE_CHROMIUM,
)
from tests.servers import seeded_server


async def seed(session: AsyncSession) -> dict[str, Any]:
    shop = await factories.make_shop(session)
    owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
    live = await make_live_session(session, shop_id=shop.id, title="周五春茶专场")
    emails = []
    for index in range(3):
        address = f"guest{index}@example.com"
        customer = await factories.make_customer(
            session, shop_id=shop.id, name=f"顾客{index}", email=address
        )
        customer.consent = {"email": True}
        emails.append(address)
    await without_quiet_hours(session, shop.id)
    await channel_service.create_channel(
        session=session, shop_id=shop.id, kind="email", name="演示邮箱",
        config={"transport": "mailbox", "from_addr": "shop@example.com"},
        rate_per_second=50,
    )  # fmt: skip
    return {"email": owner.email, "live_id": live.id, "addresses": emails}


@pytest.fixture
async def invite_server(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with seeded_server(tmp_path, seed, "invite") as server:
        yield {**server, "var_dir": tmp_path / "var"}


def subjects(path: Path) -> dict[str, str]:
    box = mailbox.mbox(path)
    try:
        return {str(m["To"]): str(make_header(decode_header(m["Subject"]))) for m in box}
    finally:
        box.close()


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_operator_invites_from_the_session_page(invite_server: dict[str, Any]) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    base, live_id = invite_server["base"], invite_server["live_id"]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await (await browser.new_context(locale="zh-CN")).new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            path = f"/console/live/{live_id}/edit"
            await page.goto(f"{base}/console/login?next={path}")
            await page.fill("input[name=email]", invite_server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}{path}")
            button = page.locator("#invite-button")
            await expect(button).to_have_text("一键邀请")
            await button.click()
            await expect(page).to_have_url(re.compile(r".*/console/outreach/broadcasts/\d+$"))
            rows = page.locator("#recipients tr[data-customer]")
            await expect(rows).to_have_count(3)
            reached = page.locator(
                "#recipients tr[data-status=sent], #recipients tr[data-status=delivered]"
            )
            await expect(reached).to_have_count(3, timeout=30_000)
            await expect(page.locator("#broadcast-status")).to_have_attribute("data-status", "sent")
            assert problems == []
        finally:
            await browser.close()
    sent = subjects(mailbox_path(invite_server["var_dir"]))
    assert sorted(sent) == sorted(invite_server["addresses"])
    assert set(sent.values()) == {"直播邀请：周五春茶专场"}
