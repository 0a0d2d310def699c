"""The demo's follow-for-welfare: the seed puts an offer up into the VIP group, and simulated
viewers against a real server see it, tap it, follow their links and join the group."""

from __future__ import annotations

import asyncio

from liveloop.demo.audience import DemoAudience
from liveloop.demo.welfare_demo import POPUP_TEXT, join_for_welfare, seed_welfare
from liveloop.live.welfare import service
from tests.factories.live import make_live_session
from tests.live.welfare.conftest import make_community
from tests.pages.test_live_viewer import LiveServer, live_server

__all__ = ["live_server"]  # the real server fixture


async def test_the_seed_runs_an_offer_into_the_vip_group(session, actor, shop) -> None:  # type: ignore[no-untyped-def]
    room = await make_live_session(session, shop_id=shop.id, status="live")
    assert await seed_welfare(session, actor=actor, live_session_id=room.id) is None  # no VIP
    vip = await make_community(session, shop.id)
    seeded = await seed_welfare(session, actor=actor, live_session_id=room.id)
    assert seeded is not None and seeded.community_id == vip.id
    card = await service.current_room_card(
        session=session, shop_id=shop.id, live_session_id=room.id
    )
    assert card is not None and card["id"] == seeded.offer_id
    assert card["popup_text"] == POPUP_TEXT and card["reward"]["kind"] == "coupon"


async def test_simulated_viewers_join_the_group_through_the_offer(live_server: LiveServer) -> None:
    community = await live_server.api(
        "POST", "/api/v1/communities", {"name": "VIP会员群", "kind": "vip"}
    )
    assert community.status_code == 201, community.text
    audience = DemoAudience(
        base_url=live_server.base,
        code=live_server.code,
        live_session_id=live_server.live_session_id,
        size=3,
        ramp_seconds=0.5,
        mean_watch_seconds=3600,
        tick_seconds=0.25,
        steps=[join_for_welfare(interest=1.0, tap_rate=4.0, join_rate=4.0, follow_through=1.0)],
        seed=5,
    )
    audience.start()
    try:
        started = await live_server.api(
            "POST",
            f"/api/v1/live/{live_server.live_session_id}/welfare-offers",
            {"community_id": community.json()["id"], "popup_text": "进群领积分",
             "reward_kind": "points", "reward_points": 10},
        )  # fmt: skip
        assert started.status_code == 201, started.text
        offer_id = started.json()["id"]
        detail: dict = {}  # type: ignore[type-arg]
        for _ in range(150):
            detail = (await live_server.api("GET", f"/api/v1/welfare-offers/{offer_id}")).json()
            if detail["figures"]["rewarded"] >= 3:
                break
            await asyncio.sleep(0.2)
    finally:
        await audience.stop()
    figures = detail["figures"]
    assert figures["shown"] >= 3 and figures["tapped"] == 3
    assert figures["joined"] == figures["rewarded"] == 3
    assert {claim["outcome"] for claim in detail["claims"]} == {"rewarded"}
