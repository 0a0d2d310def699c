"""The simulated audience asks to go on mic while it is open, and asks the shop a question."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from liveloop.core.database import Database
from liveloop.demo.audience import DemoAudience
from liveloop.demo.mic_demo import ask_the_shop, ask_to_go_on_mic
from liveloop.live.mic.models import MicRequest
from liveloop.live.servicechat.models import ServiceMessage
from tests.pages.test_live_viewer import LiveServer, live_server  # noqa: F401  (fixture)


async def test_the_simulated_audience_asks_for_the_mic_and_the_shop(
    live_server: LiveServer,  # noqa: F811  (the fixture)
) -> None:
    opened = await live_server.api(
        "PUT", f"/api/v1/live/{live_server.live_session_id}/mic", {"is_open": True, "max_guests": 1}
    )
    assert opened.status_code == 200, opened.text
    audience = DemoAudience(
        base_url=live_server.base,
        code=live_server.code,
        live_session_id=live_server.live_session_id,
        size=3,
        ramp_seconds=0.5,
        mean_watch_seconds=3600,
        tick_seconds=0.25,
        steps=[
            ask_to_go_on_mic(interest=1.0, rate=2.0, withdraw_rate=0.0),
            ask_the_shop(interest=1.0, rate=2.0),
        ],
        seed=11,
    )
    audience.start()
    database = Database(live_server.database_url)
    try:
        for _ in range(300):
            async with database.sessionmaker() as session:
                asked = await session.scalar(
                    select(func.count())
                    .select_from(MicRequest)
                    .where(MicRequest.live_session_id == live_server.live_session_id)
                )
                questions = await session.scalar(select(func.count()).select_from(ServiceMessage))
            if (asked or 0) >= 2 and (questions or 0) >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await audience.stop()
        await database.dispose()
    assert (asked or 0) >= 2 and (questions or 0) >= 2
    panel = (await live_server.api("GET", f"/api/v1/live/{live_server.live_session_id}/mic")).json()
    assert len(panel["queue"]) >= 2 and all(r["status"] == "requested" for r in panel["queue"])
