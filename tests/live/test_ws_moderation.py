"""Room controls and moderation through the live API of a real server, seen by real sockets:
the messages go through the outbox after commit, the bus and the hub."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.live.wsutil import Viewer, make_token


def _token(server: dict[str, Any], room: int, **claims: Any) -> str:
    claims.setdefault("shop_id", server["shop"])
    return make_token(server["settings"], room=room, **claims)


def _api(server: dict[str, Any]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server["http"] + "/api/v1/live",
        headers={"Authorization": f"Bearer {server['api_key']}"},
        timeout=30,
    )


async def test_room_controls_reach_viewers_and_the_next_snapshot(
    server: dict[str, Any],
) -> None:
    room = server["rooms"][1]
    viewer = await Viewer.join(server["ws"], room, _token(server, room, device_id="controls"))
    try:
        await viewer.expect_type("snapshot")
        async with _api(server) as api:
            response = await api.put(f"/{room}/announcement", json={"text": "今晚 8 点抽奖"})
            assert response.status_code == 200, response.text
            await viewer.expect_type("announcement", text="今晚 8 点抽奖")
            response = await api.post(f"/{room}/push", json={"product_id": server["product"]})
            assert response.status_code == 200, response.text
            pushed = (await viewer.expect_type("product_push"))["product"]
            assert pushed["id"] == server["product"] and len(pushed["skus"]) == 2
            assert {s["stock"] for s in pushed["skus"]} == {80, 40}
            response = await api.put(f"/{room}/comments", json={"enabled": False})
            assert response.status_code == 200, response.text
            await viewer.expect_type("room_state", comments_enabled=False)
        await viewer.send({"type": "comment", "text": "还能说话吗"})
        await viewer.expect_type("system", code="comments_off")

        late = await Viewer.join(server["ws"], room, _token(server, room, device_id="late"))
        state = (await late.expect_type("snapshot"))["state"]
        assert state["announcement"] == "今晚 8 点抽奖"
        assert state["product"]["id"] == server["product"]
        assert state["comments_enabled"] is False
        await late.close()
        async with _api(server) as api:
            await api.put(f"/{room}/comments", json={"enabled": True})
        await viewer.expect_type("room_state", comments_enabled=True)
    finally:
        await viewer.close()


async def test_mute_then_kick_then_the_kicked_viewer_is_refused(
    server: dict[str, Any],
) -> None:
    room = server["rooms"][2]
    token = _token(server, room, customer_id=server["alice"], name="王芳", device_id="alice-1")
    alice = await Viewer.join(server["ws"], room, token)
    other = await Viewer.join(server["ws"], room, _token(server, room, device_id="other"))
    try:
        await alice.expect_type("snapshot")
        await other.expect_type("snapshot")
        async with _api(server) as api:
            response = await api.post(
                f"/{room}/mutes", json={"customer_id": server["alice"], "minutes": 5}
            )
            assert response.status_code == 201, response.text
            muted = await alice.expect_type("system", code="muted")
            assert muted["until"]
            await alice.send({"type": "comment", "text": "我被禁言了吗"})
            await alice.expect_type("system", code="muted")

            response = await api.post(f"/{room}/kicks", json={"device_id": "alice-1"})
            assert response.status_code == 201, response.text
        await alice.expect_type("system", code="kicked")
        assert await alice.closed() == (4008, "kicked")
        again = await Viewer.join(server["ws"], room, token)
        assert await again.closed() == (4003, "banned")
        # Nobody else was touched, and the muted comment never reached the room.
        await other.send({"type": "ping"})
        await other.expect_type("pong")
        assert [m for m in other.msgs if m.get("text") == "我被禁言了吗"] == []
    finally:
        await other.close()


async def test_sensitive_words_block_or_mask(server: dict[str, Any]) -> None:
    room = server["rooms"][3]
    talker = await Viewer.join(server["ws"], room, _token(server, room, device_id="words-1"))
    try:
        await talker.expect_type("snapshot")
        async with _api(server) as api:
            response = await api.post("/words", json={"words": ["微信号"], "action": "block"})
            assert response.status_code == 201, response.text
            response = await api.post("/words", json={"words": ["便宜"], "action": "mask"})
            assert response.status_code == 201, response.text
        # The hub reloads the shop's word list every few seconds: try until it applies.
        for _ in range(20):
            await talker.send({"type": "comment", "text": "加我微信号 abc"})
            answer = await talker.expect(
                lambda m: m.get("type") == "system" or "微信号" in str(m.get("text"))
            )
            if answer.get("code") == "comment_blocked":
                break
            await asyncio.sleep(1.1)
        else:
            raise AssertionError("the blocked word never applied")
        await asyncio.sleep(1.1)
        await talker.send({"type": "comment", "text": "真便宜"})
        masked = await talker.expect(lambda m: m.get("type") == "comment" and "真" in m["text"])
        assert "便宜" not in masked["text"]
    finally:
        await talker.close()
