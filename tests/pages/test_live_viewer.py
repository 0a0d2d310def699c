"""The viewer page /live/{code}: rendered through the app, then in a real Chromium against a real
Uvicorn server, fed by another real WebSocket client."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from liveloop.core.database import Database
from liveloop.live import controls as room_controls
from liveloop.models import Base
from liveloop.shops.service import actor_for_staff
from tests import factories
from tests.factories.live import make_live_session
from tests.pages.phone_codes import texted_code
from tests.pages.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HAVE_CHROMIUM,
    SCREENSHOTS,
    free_port,
    start_uvicorn,
)
from tests.servers import wait_ready

PHONE = {"width": 375, "height": 667}
CONFIG = re.compile(r'<script type="application/json" id="room-config">(.*?)</script>', re.S)


def page_config(html: str) -> dict:  # type: ignore[type-arg]
    match = CONFIG.search(html)
    assert match, "the page has no room config"
    return json.loads(match.group(1))


async def test_viewer_page_shows_the_room_and_what_the_script_needs(
    anon_client, session, shop
) -> None:
    tea = await factories.make_product(session, shop_id=shop.id, name="明前龙井", price_fen=12900)
    live = await make_live_session(
        session, shop_id=shop.id, title="秋茶专场", status="live", product_ids=[tea.id]
    )
    response = await anon_client.get(f"/live/{live.code}?src=grp-1&share=bad%20code<")
    assert response.status_code == 200
    assert response.headers["content-language"] == "zh-CN"
    assert "<title>秋茶专场 · " in response.text
    assert ">分享</button>" in response.text  # zh_CN by default
    config = page_config(response.text)
    assert config["live_session_id"] == live.id
    assert config["status"] == "live"
    assert config["ws_path"] == f"/ws/live/{live.id}"
    assert config["token_url"] == f"/api/v1/public/live/{live.code}/token"
    assert config["src"] == "grp-1"
    assert config["share"] == ""  # not a link code: dropped, never echoed
    assert [p["name"] for p in config["room"]["lineup"]] == ["明前龙井"]
    assert config["room"]["lineup"][0]["price_fen"] == 12900
    assert set(config["i18n"]) >= {"buy", "sold_out", "reconnecting", "gone_kicked"}


async def test_viewer_page_escapes_what_staff_typed(anon_client, session, shop, actor) -> None:
    live = await make_live_session(
        session, shop_id=shop.id, title="<script>alert(1)</script>", status="live"
    )
    await room_controls.set_announcement(
        session=session,
        actor=actor,
        live_session_id=live.id,
        text="</script><img src=x onerror=alert(2)>",
    )
    response = await anon_client.get(f"/live/{live.code}")
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.text
    assert "<img src=x" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    config = page_config(response.text)  # the JSON survives intact inside its script tag
    assert config["room"]["announcement"] == "</script><img src=x onerror=alert(2)>"


async def test_scheduled_room_offers_a_reservation_and_english_on_request(
    anon_client, session, shop
) -> None:
    live = await make_live_session(session, shop_id=shop.id, title="明晚上新", status="scheduled")
    response = await anon_client.get(f"/live/{live.code}", headers={"Accept-Language": "en-US"})
    assert response.status_code == 200
    assert response.headers["content-language"] == "en"
    assert 'id="reserve-form"' in response.text
    assert ">Reserve</button>" in response.text
    assert page_config(response.text)["status"] == "scheduled"


async def test_unknown_room_is_a_page_saying_so(anon_client) -> None:
    response = await anon_client.get("/live/nosuchroom")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "nosuchroom" in response.text


async def test_viewer_page_language_switch_comes_back_to_the_room(
    anon_client, session, shop
) -> None:
    live = await make_live_session(session, shop_id=shop.id, status="live")
    page = await anon_client.get(f"/live/{live.code}?src=kol7")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = await anon_client.post(
        "/console/language",
        data={
            "csrf_token": token.group(1),
            "language": "en",
            "next": f"/live/{live.code}?src=kol7",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/live/{live.code}?src=kol7"
    again = await anon_client.get(response.headers["location"])
    assert again.headers["content-language"] == "en"


# ------------------------------------------------------------------ in a real Chromium


@dataclass
class LiveServer:
    base: str
    database_url: str
    code: str
    scheduled_code: str
    live_session_id: int
    api_key: str
    anchor_email: str
    product_ids: list[int]
    process: ServerProcess

    async def api(self, method: str, path: str, json_body: object = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base, timeout=15) as client:
            headers = {"Authorization": f"Bearer {self.api_key}"}
            return await client.request(method, path, json=json_body, headers=headers)


async def seed_live_room(url: str) -> dict[str, object]:
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = await factories.make_shop(session, name="茶语小铺")
        owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
        anchor = await factories.make_staff(session, shop_id=shop.id, role="anchor")
        tea = await factories.make_product(
            session,
            shop_id=shop.id,
            name="明前龙井",
            skus=[
                {"price_fen": 12900, "stock": 30, "specs": {"规格": "100g"}},
                {"price_fen": 23900, "stock": 12, "specs": {"规格": "250g"}},
            ],
        )
        cup = await factories.make_product(session, shop_id=shop.id, name="青瓷杯", price_fen=5900)
        live = await make_live_session(
            session, shop_id=shop.id, title="秋茶专场", status="live", product_ids=[tea.id, cup.id]
        )
        tomorrow = await make_live_session(
            session, shop_id=shop.id, title="明晚上新", status="scheduled"
        )
        api_key = await factories.make_api_key(session, actor=actor_for_staff(owner))
        await session.commit()
        seeded: dict[str, object] = {
            "code": live.code,
            "scheduled_code": tomorrow.code,
            "live_session_id": live.id,
            "api_key": api_key,
            "anchor_email": anchor.email,
            "product_ids": [tea.id, cup.id],
        }
    await database.dispose()
    return seeded


class ServerProcess:
    """One Uvicorn subprocess serving `url` on a port; can be stopped and started again."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url, self.tmp_path = url, tmp_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "uvicorn.log"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = start_uvicorn(self.url, self.port, self.tmp_path / "var", self.log_path)
        await wait_ready(self.process, self.base, self.log_path)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process = None


@pytest.fixture
async def live_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """`liveloop` in a Uvicorn subprocess over a fresh SQLite file, with a room that is live."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    seeded = await seed_live_room(url)
    server = ServerProcess(url, tmp_path)
    try:
        await server.start()
        yield LiveServer(base=server.base, database_url=url, process=server, **seeded)  # type: ignore[arg-type]
    finally:
        server.stop()


class RoomClient:
    """Another viewer: a real WebSocket client holding a guest token."""

    def __init__(self, server: LiveServer, device_id: str) -> None:
        self.server = server
        self.device_id = device_id
        self.socket: ClientConnection | None = None

    async def __aenter__(self) -> RoomClient:
        async with httpx.AsyncClient(base_url=self.server.base) as client:
            answer = await client.post(
                f"/api/v1/public/live/{self.server.code}/token",
                json={"device_id": self.device_id, "nickname": "小王"},
            )
        answer.raise_for_status()
        ws_base = self.server.base.replace("http://", "ws://")
        self.socket = await connect(f"{ws_base}/ws/live/{self.server.live_session_id}")
        await self.send({"type": "join", "token": answer.json()["token"], "last_seq": None})
        await self.wait_for(lambda msg: msg["type"] == "snapshot")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.socket is not None
        await self.socket.close()

    async def send(self, message: dict[str, object]) -> None:
        assert self.socket is not None
        await self.socket.send(json.dumps(message, ensure_ascii=False))

    async def wait_for(self, matches: Callable[[dict], bool], within: float = 20) -> dict:  # type: ignore[type-arg]
        assert self.socket is not None
        async with asyncio.timeout(within):
            while True:
                frame = json.loads(await self.socket.recv())
                for msg in frame["msgs"]:
                    if matches(msg):
                        return msg  # type: ignore[no-any-return]


@asynccontextmanager
async def chromium_page(viewport: dict[str, int] | None = None) -> AsyncIterator[Any]:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                locale="zh-CN",
                viewport=viewport or PHONE,
                is_mobile=True,
                has_touch=True,
                reduced_motion="reduce",
            )
            page = await context.new_page()
            page.problems = []
            page.on("pageerror", lambda error: page.problems.append(str(error)))
            yield page
        finally:
            await browser.close()


async def open_room(page: Any, server: LiveServer) -> None:
    await page.goto(f"{server.base}/live/{server.code}")
    expect = pytest.importorskip("playwright.async_api").expect
    await expect(page.locator("#online-count")).not_to_have_text("0")  # joined: counted online
    await expect(page.locator("#connection")).to_be_hidden()


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_viewer_sees_danmaku_likes_and_a_pushed_product(live_server: LiveServer) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    async with chromium_page() as page:
        await open_room(page, live_server)
        await expect(page.locator("#room-title")).to_have_text("秋茶专场")
        await expect(page.locator("#bag-count")).to_have_text("2")
        await page.click("#bag-button")
        items = page.locator("#lineup .lineup-item")
        await expect(items).to_have_count(2)
        await expect(items.first.locator(".price")).to_have_text("¥129.00 – ¥239.00")
        await expect(items.nth(1)).to_contain_text("青瓷杯")
        await page.click("#drawer-close")
        await expect(page.locator("#drawer")).to_be_hidden()

        async with RoomClient(live_server, "device-other-viewer-1") as other:
            await other.send(
                {"type": "comment", "text": "主播好美，龙井多少钱？", "client_id": "c1"}
            )
            await other.send({"type": "like", "count": 7})
            line = page.locator("#danmaku .line-comment", has_text="主播好美，龙井多少钱？")
            await expect(line).to_have_count(1)
            await expect(line.locator(".line-name")).to_contain_text("小王")
            await expect(page.locator("#like-total")).to_have_attribute("data-total", "7")

            # The page's own taps go out batched and come back in the room's total.
            for _ in range(3):
                await page.click("#like-button")
            await other.wait_for(lambda m: m["type"] == "like_total" and m["total"] >= 10)

            tea_id = live_server.product_ids[0]
            pushed = await live_server.api(
                "POST", f"/api/v1/live/{live_server.live_session_id}/push", {"product_id": tea_id}
            )
            assert pushed.status_code == 200, pushed.text
            card = page.locator("#pushed")
            await expect(card).to_be_visible()
            await expect(page.locator("#pushed-name")).to_have_text("明前龙井")
            await expect(page.locator("#pushed-price")).to_have_text("¥129.00 – ¥239.00")
            await expect(page.locator("#pushed-stock")).to_have_attribute("data-stock", "42")

            await page.screenshot(path=str(SCREENSHOTS / "liveloop-viewer.png"))

            # Buy: choose a size, and the page hands over to checkout with the DOM event.
            await page.evaluate(
                "document.addEventListener('liveloop:buy', e => { window.__buy = e.detail; })"
            )
            await page.click("#pushed-skus .sku-chip >> text=250g")
            await expect(page.locator("#pushed-price")).to_have_text("¥239.00")
            await page.click("#pushed-buy")
            detail = await page.wait_for_function("window.__buy")
            bought = await detail.json_value()
            assert (
                bought["product_id"] == tea_id
                and bought["live_session_id"] == live_server.live_session_id
            )
            assert bought["sku_id"] is not None
            clicked = await other.wait_for(lambda m: m["type"] == "product_push")
            assert clicked["product"]["id"] == tea_id

            await live_server.api("POST", f"/api/v1/live/{live_server.live_session_id}/unpush")
            await expect(card).to_be_hidden()
        assert page.problems == []


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_html_in_a_comment_is_shown_as_text(live_server: LiveServer) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    async with chromium_page() as page:
        await open_room(page, live_server)
        async with RoomClient(live_server, "device-hostile-viewer") as other:
            await other.send({"type": "comment", "text": hostile, "client_id": "x1"})
            line = page.locator("#danmaku .line-comment .line-text").last
            await expect(line).to_have_text(hostile)
        assert await page.locator("#danmaku img, #danmaku script").count() == 0
        assert await page.evaluate("window.__pwned") is None
        # The page's own comment box takes the same road.
        await page.fill("#comment-input", "<b>粗体</b>")
        await page.press("#comment-input", "Enter")
        await expect(page.locator("#danmaku .line-mine .line-text").last).to_have_text(
            "<b>粗体</b>"
        )
        assert await page.locator("#danmaku b").count() == 0
        assert page.problems == []


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_guest_reserves_a_scheduled_session_and_shares_the_room(
    live_server: LiveServer,
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    async with chromium_page() as page:
        await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        await page.goto(f"{live_server.base}/live/{live_server.scheduled_code}")
        await expect(page.locator("#scheduled-card")).to_be_visible()
        await expect(page.locator("#countdown")).not_to_be_empty()
        await expect(page.locator("#video")).to_be_hidden()
        await page.fill("#reserve-phone", "12345")
        await page.click("#reserve-form button[type=submit]")
        await expect(page.locator("#reserve-error")).to_be_visible()
        await page.fill("#reserve-phone", "13800138000")
        await page.click("#reserve-form button[type=submit]")
        await expect(page.locator("#reserve-error")).to_contain_text("Get code")
        await page.fill("#reserve-code .llpc-code", await texted_code(page, "#reserve-code"))
        await page.click("#reserve-form button[type=submit]")
        await expect(page.locator("#reserve-done")).to_be_visible()
        await expect(page.locator("#reserve-form")).to_be_hidden()
        await page.screenshot(path=str(SCREENSHOTS / "liveloop-viewer-scheduled.png"))

        await page.click("#share-button")
        await expect(page.locator("#viewer-toast")).to_be_visible()
        copied = await page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith(f"{live_server.base}/live/{live_server.scheduled_code}?share=")
        assert page.problems == []
    reservations = await live_server.api("GET", "/api/v1/live?status=scheduled")
    (session,) = reservations.json()["items"]
    listed = await live_server.api("GET", f"/api/v1/live/{session['id']}/reservations")
    assert listed.json()["total"] == 1


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_video_plays_through_hls_js_and_falls_back_to_the_poster(
    live_server: LiveServer,
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    async with chromium_page() as page:
        await open_room(page, live_server)
        assert await page.evaluate("typeof window.Hls") == "function"  # served from /vendor
        await expect(page.locator("#poster")).to_have_attribute("data-reason", "no_stream")

        # A stream URL that does not answer: hls.js is attached, gives up, the poster returns.
        patched = await live_server.api(
            "PATCH",
            f"/api/v1/live/{live_server.live_session_id}",
            {"hls_url": "/media/missing/index.m3u8"},
        )
        assert patched.status_code == 200, patched.text
        await open_room(page, live_server)
        await expect(page.locator("#poster")).to_have_attribute(
            "data-reason", "unavailable", timeout=30_000
        )
        await expect(page.locator("#video")).to_be_hidden()
        assert page.problems == []


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_viewer_page_reconnects_by_itself_after_the_server_restarts(
    live_server: LiveServer,
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    async with chromium_page() as page:
        await open_room(page, live_server)
        live_server.process.stop()
        await expect(page.locator("#connection")).to_be_visible(timeout=15_000)
        await live_server.process.start()
        # Backoff with jitter: the page comes back on its own, within ~30 s at most.
        await expect(page.locator("#connection")).to_be_hidden(timeout=45_000)
        async with RoomClient(live_server, "device-after-restart") as other:
            await other.send({"type": "comment", "text": "又回来了", "client_id": "r1"})
            line = page.locator("#danmaku .line-comment", has_text="又回来了")
            await expect(line).to_have_count(1)
        assert page.problems == []
