"""The simulated demo audience: its room bookkeeping, and real WebSocket viewers in a real room."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
import uvicorn
from sqlalchemy import func, select

from liveloop.app import create_app
from liveloop.core.database import Database
from liveloop.core.settings import Settings
from liveloop.demo.audience import (
    PHRASES,
    DemoAudience,
    Rates,
    RoomView,
    ViewerContext,
    chat_like_click,
    comment_text,
    find_demo_room,
    local_base_url,
    poll_until,
    serve_with_audience,
    websocket_url,
)
from liveloop.demo.seed import DEMO_SHOP_NAME
from liveloop.events.models import Event
from liveloop.models import Base
from tests import factories
from tests.factories.live import make_live_session
from tests.pages.test_console_browser import SECRET_KEY, free_port
from tests.pages.test_live_viewer import LiveServer, RoomClient, live_server

__all__ = ["live_server"]  # the real server fixture, shared with the page tests

TEA = {"id": 7, "name": "明前龙井", "skus": []}


def context(room: RoomView, sent: list[dict], seed: int = 1) -> ViewerContext:  # type: ignore[type-arg]
    async def send(message: dict) -> None:  # type: ignore[type-arg]
        sent.append(message)

    return ViewerContext(
        number=1,
        device_id="demo-device-1",
        nickname="小鹿1",
        rng=random.Random(seed),
        room=room,
        send=send,
        tick_seconds=1.0,
        base_url="http://127.0.0.1:8000",
    )


def test_room_view_follows_snapshot_push_unpush_and_state() -> None:
    room = RoomView()
    room.apply(
        {
            "type": "snapshot",
            "state": {
                "status": "live",
                "comments_enabled": False,
                "product": None,
                "lineup": [TEA],
            },
        }
    )
    assert (room.status, room.comments_enabled, room.lineup) == ("live", False, [TEA])
    room.apply({"type": "product_push", "product": TEA})
    assert room.product == TEA
    room.apply({"type": "product_unpush", "product_id": 8})
    assert room.product == TEA  # another product's take-down leaves this one up
    room.apply({"type": "product_unpush", "product_id": 7})
    assert room.product is None
    room.apply({"type": "room_state", "status": "ended", "comments_enabled": True})
    assert (room.status, room.comments_enabled) == ("ended", True)


async def test_default_step_talks_likes_and_clicks_the_pushed_product_once() -> None:
    sent: list[dict] = []  # type: ignore[type-arg]
    room = RoomView(product=TEA, lineup=[TEA])
    ctx = context(room, sent)
    step = chat_like_click(Rates(comment=1.0, like_burst=1.0, click_pushed=1.0, gift=0.0))
    for _ in range(3):
        await step(ctx)
    kinds = [m["type"] for m in sent]
    assert kinds.count("comment") == 3
    assert kinds.count("product_click") == 1  # once per pushed product
    assert all(1 <= m["count"] <= 100 for m in sent if m["type"] == "like")
    assert all(0 < len(m["text"]) <= 200 for m in sent if m["type"] == "comment")

    sent.clear()
    room.status = "ended"
    await step(ctx)
    assert sent == []  # nothing is said in a room that has closed
    room.status, room.comments_enabled = "live", False
    await step(ctx)
    assert "comment" not in [m["type"] for m in sent]


def test_comments_are_chinese_and_some_name_the_products() -> None:
    ctx = context(RoomView(product=TEA, lineup=[TEA]), [], seed=3)
    texts = [comment_text(ctx) for _ in range(200)]
    assert any("明前龙井" in text for text in texts)
    assert any(text in PHRASES for text in texts)
    assert len(set(texts)) > 20
    bare = context(RoomView(), [], seed=3)
    assert all(comment_text(bare) in PHRASES for _ in range(50))


def test_urls_of_the_servers_own_room() -> None:
    assert websocket_url("http://127.0.0.1:8000/", 12) == "ws://127.0.0.1:8000/ws/live/12"
    assert websocket_url("https://live.example.com", 3) == "wss://live.example.com/ws/live/3"
    assert local_base_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert local_base_url("::1", 9000) == "http://[::1]:9000"


async def test_demo_room_is_the_demo_shops_live_session(session) -> None:
    assert await find_demo_room(session) is None
    demo = await factories.make_shop(session, name=DEMO_SHOP_NAME)
    other = await factories.make_shop(session, name="别家小店")
    await make_live_session(session, shop_id=other.id, status="live")
    await make_live_session(session, shop_id=demo.id, status="scheduled")
    assert await find_demo_room(session) is None
    live = await make_live_session(session, shop_id=demo.id, status="live")
    assert await find_demo_room(session) == (live.code, live.id)


async def product_clicks(database_url: str) -> int:
    database = Database(database_url)
    try:
        async with database.sessionmaker() as session:
            statement = (
                select(func.count()).select_from(Event).where(Event.type == "live_product_click")
            )
            return int((await session.execute(statement)).scalar_one())
    finally:
        await database.dispose()


async def test_simulated_viewers_fill_a_real_room_and_leave_cleanly(
    live_server: LiveServer,
) -> None:
    audience = DemoAudience(
        base_url=live_server.base,
        code=live_server.code,
        live_session_id=live_server.live_session_id,
        size=4,
        ramp_seconds=0.5,
        mean_watch_seconds=3600,
        tick_seconds=0.25,
        steps=[chat_like_click(Rates(comment=0.6, like_burst=0.5, click_pushed=2.0, gift=0.0))],
        seed=11,
    )
    async with RoomClient(live_server, "device-observer-01") as observer:
        audience.start()
        try:
            await observer.wait_for(lambda m: m["type"] == "viewer_count" and m["online"] >= 5)
            speakers: set[str] = set()

            def from_two_viewers(msg: dict) -> bool:  # type: ignore[type-arg]
                if msg["type"] == "comment":
                    speakers.add(msg["user"]["key"])
                return len(speakers) >= 2

            await observer.wait_for(from_two_viewers)
            await observer.wait_for(lambda m: m["type"] == "like_total" and m["total"] > 0)
            tea = live_server.product_ids[0]
            pushed = await live_server.api(
                "POST", f"/api/v1/live/{live_server.live_session_id}/push", {"product_id": tea}
            )
            assert pushed.status_code == 200, pushed.text
            for _ in range(200):  # the room writes events in batches; wait for the clicks
                if await product_clicks(live_server.database_url) > 0:
                    break
                await asyncio.sleep(0.1)
            assert await product_clicks(live_server.database_url) > 0
            # The anchor ends the show: the simulated viewers leave and nobody new comes.
            ended = await live_server.api("POST", f"/api/v1/live/{live_server.live_session_id}/end")
            assert ended.status_code == 200, ended.text
            await asyncio.wait_for(poll_until(lambda: audience.room_over, every=0.1), timeout=30)
            await asyncio.wait_for(poll_until(lambda: audience.online == 0, every=0.1), timeout=30)
        finally:
            await audience.stop()
        assert audience.online == 0


@pytest.mark.parametrize("size", [0])
async def test_an_empty_audience_starts_and_stops(size: int) -> None:
    audience = DemoAudience(base_url="http://127.0.0.1:9", code="x", live_session_id=1, size=size)
    audience.start()
    await asyncio.sleep(0)
    await audience.stop()
    assert audience.online == 0


async def test_liveloop_run_fills_the_demo_room_and_empties_it_before_stopping(tmp_path) -> None:
    """What `liveloop run` does: serve, find the demo's live session, send viewers, stop."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        demo = await factories.make_shop(session, name=DEMO_SHOP_NAME)
        live = await make_live_session(session, shop_id=demo.id, status="live")
        await session.commit()
        code = live.code
    await database.dispose()

    settings = Settings(
        var_dir=tmp_path / "var",
        database_url=url,
        secret_key=SECRET_KEY,
        queue_backend="immediate",
        bus_backend="memory",
        log_level="warning",
    )
    application = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(
        serve_with_audience(server, database=application.state.database, size=3)
    )
    observer = RoomClient(
        LiveServer(
            base=f"http://127.0.0.1:{port}",
            database_url=url,
            code=code,
            scheduled_code="",
            live_session_id=live.id,
            api_key="",
            anchor_email="",
            product_ids=[],
            process=None,  # type: ignore[arg-type]
        ),
        "device-demo-observer",
    )
    try:
        await asyncio.wait_for(poll_until(lambda: server.started, every=0.1), timeout=30)
        async with observer:
            # Three simulated viewers ramp in over ~20 s, besides the observer.
            await observer.wait_for(
                lambda m: m["type"] == "viewer_count" and m["online"] >= 4, within=60
            )
        server.should_exit = True  # what Ctrl+C does: the audience leaves, then the server stops
        await asyncio.wait_for(serving, timeout=60)
    finally:
        server.should_exit = True
        if not serving.done():
            await asyncio.wait_for(serving, timeout=60)
    assert serving.exception() is None


async def test_the_simulated_audience_enters_a_keyword_lottery(live_server: LiveServer) -> None:
    """Viewers verify a phone (demo SMS), join again as customers and comment the keyword;
    the draw finds them among the entrants."""
    from liveloop.demo.interaction import take_part_in_lotteries
    from liveloop.live.lottery import service as lottery_service
    from liveloop.live.lottery import verify
    from liveloop.live.lottery.models import Lottery

    audience = DemoAudience(
        base_url=live_server.base,
        code=live_server.code,
        live_session_id=live_server.live_session_id,
        size=3,
        ramp_seconds=0.5,
        mean_watch_seconds=3600,
        tick_seconds=0.25,
        steps=[take_part_in_lotteries(interest=1.0, rate=2.0)],
        seed=5,
    )
    audience.start()
    try:
        started = await live_server.api(
            "POST",
            f"/api/v1/live/{live_server.live_session_id}/lotteries",
            {"title": "福袋", "prize_kind": "points", "prize_points": 5, "winner_count": 2,
             "duration_seconds": 10, "condition": {"kind": "keyword", "keyword": "福袋来了"}},
        )  # fmt: skip
        assert started.status_code == 201, started.text
        lottery_id = started.json()["id"]
        database = Database(live_server.database_url)
        try:
            for _ in range(300):  # until the window closed and the draw (due) has run
                async with database.sessionmaker() as session:
                    record = await lottery_service.public_draw(
                        session=session, lottery_id=lottery_id
                    )
                    if record["status"] != "running":
                        break
                    shop_id = (await session.get(Lottery, lottery_id)).shop_id  # type: ignore[union-attr]
                    await lottery_service.draw_lottery(
                        session=session, shop_id=shop_id, lottery_id=lottery_id
                    )
                    await session.commit()
                await asyncio.sleep(0.1)
            async with database.sessionmaker() as session:
                record = await lottery_service.public_draw(session=session, lottery_id=lottery_id)
        finally:
            await database.dispose()
    finally:
        await audience.stop()
    assert record["status"] == "drawn"
    assert len(record["entrants"]) >= 2  # simulated viewers who became customers and commented
    assert verify.check(record) == []


async def test_the_simulated_audience_grabs_red_packets(live_server: LiveServer) -> None:
    """Viewers become customers and tap the red packet while it is open; their grabs are in
    the console's record of the packet."""
    from liveloop.demo.interaction import grab_red_packets

    audience = DemoAudience(
        base_url=live_server.base,
        code=live_server.code,
        live_session_id=live_server.live_session_id,
        size=3,
        ramp_seconds=0.5,
        mean_watch_seconds=3600,
        tick_seconds=0.25,
        steps=[grab_red_packets(interest=1.0, rate=2.0)],
        seed=7,
    )
    audience.start()
    try:
        topped = await live_server.api(
            "POST", "/api/v1/red-packet-budget/top-ups", {"amount_fen": 1000}
        )
        assert topped.status_code == 201, topped.text
        started = await live_server.api(
            "POST",
            f"/api/v1/live/{live_server.live_session_id}/red-packets",
            {"total_fen": 300, "count": 5, "duration_seconds": 60},
        )
        assert started.status_code == 201, started.text
        packet_id = started.json()["id"]
        grabbed: list[dict[str, Any]] = []
        for _ in range(300):
            detail = await live_server.api("GET", f"/api/v1/red-packets/{packet_id}")
            grabbed = detail.json()["grabs"]
            if len(grabbed) >= 2:
                break
            await asyncio.sleep(0.2)
    finally:
        await audience.stop()
    assert len(grabbed) >= 2
    assert len({g["customer_id"] for g in grabbed}) == len(grabbed)
    assert all(g["amount_fen"] >= 1 for g in grabbed)
