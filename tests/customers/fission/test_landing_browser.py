"""A friend opens an invite link on a phone-sized Chromium (375×667), accepts with a phone
number, the inviter's goal is reached, and the friend gets their own link and poster."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from liveloop.core.database import Database
from liveloop.core.jobs import queue
from liveloop.core.settings import Settings
from liveloop.customers import crypto
from liveloop.customers.fission.models import FissionInvite, FissionReward
from liveloop.models import Base
from tests import factories
from tests.commerce.payments.test_demo_flow import start_server
from tests.customers.fission.helpers import make_campaign, make_inviter
from tests.pages.phone_codes import texted_code
from tests.pages.test_console_browser import CHROMIUM, HAVE_CHROMIUM, SECRET_KEY, free_port
from tests.pages.test_live_viewer import PHONE, chromium_page
from tests.servers import stop_server, wait_ready


async def seed(url: str, var_dir: Path) -> dict[str, object]:
    settings = Settings(
        var_dir=var_dir, database_url=url, queue_backend="immediate", secret_key=SECRET_KEY,
        log_level="warning",
    )  # fmt: skip
    queue.configure(settings)
    crypto.configure_cipher(settings)
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = await factories.make_shop(session, name="茶语小铺")
        campaign = await make_campaign(
            session, shop.id, invitees_needed=1, poster={"color": "#1a7f5a"}
        )
        inviter = await make_inviter(session, shop.id, campaign.id)
        await session.commit()
        seeded = {"code": inviter.code, "participant_id": inviter.id, "name": campaign.name}
    await database.dispose()
    return seeded


@pytest.fixture
async def fission_server(tmp_path: Path) -> AsyncIterator[dict[str, object]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fission.db'}"
    seeded = await seed(url, tmp_path / "seed-var")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LIVELOOP_VAR_DIR": str(tmp_path / "var"),
        "LIVELOOP_DATABASE_URL": url,
        "LIVELOOP_SECRET_KEY": SECRET_KEY,
        "LIVELOOP_QUEUE_BACKEND": "immediate",
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
        stop_server(process)


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_a_friend_accepts_an_invite_and_gets_their_own_link(fission_server) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    base, code = fission_server["base"], fission_server["code"]
    assert PHONE == {"width": 375, "height": 667}
    async with chromium_page(PHONE) as page:
        await page.goto(f"{base}/f/{code}")
        await expect(page.locator("#llf-title")).to_have_text(str(fission_server["name"]))
        await expect(page.locator("#llf-inviter")).to_contain_text("张**")
        await page.fill("input[name=name]", "李娜")
        await page.fill("input[name=phone]", "13911112222")
        await page.fill("#llf-phone-code .llpc-code", await texted_code(page, "#llf-phone-code"))
        await page.click("#llf-submit")
        result = page.locator("#llf-result")
        await expect(result).to_be_visible()
        await expect(result).to_have_attribute("data-status", "counted")
        await page.click("#llf-join-button")
        await expect(page.locator("#llf-mine")).to_be_visible()
        link = await page.locator("#llf-link").input_value()
        assert link.startswith(f"{base}/f/") and not link.endswith(f"/f/{code}")
        await expect(page.locator("#llf-progress")).to_contain_text("0")
        poster = page.locator("#llf-poster")
        await expect(poster).to_have_attribute("src", f"/f/{link.rsplit('/', 1)[1]}/poster.svg")
        await page.wait_for_function(
            "document.getElementById('llf-poster').complete"
            " && document.getElementById('llf-poster').naturalWidth > 0"
        )
        # Nothing wider than the phone: no sideways scrolling.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        assert page.problems == []
    database = Database(str(fission_server["url"]))
    try:
        async with database.sessionmaker() as session:
            invite = (
                await session.execute(
                    select(FissionInvite).where(
                        FissionInvite.participant_id == fission_server["participant_id"]
                    )
                )
            ).scalar_one()
            reward = (
                await session.execute(
                    select(FissionReward.status).where(
                        FissionReward.participant_id == fission_server["participant_id"]
                    )
                )
            ).scalar_one()
    finally:
        await database.dispose()
    assert (invite.status, invite.invitee_was_new, reward) == ("counted", True, "granted")
