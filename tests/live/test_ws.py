"""The room socket against a real Uvicorn server (SQLite file; Redis bus when
LIVELOOP_TEST_REDIS_URL is set) with real WebSocket clients."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.live.wsutil import Viewer, make_token, of_type


def _token(server: dict[str, Any], room: int, **claims: Any) -> str:
    claims.setdefault("shop_id", server["shop"])
    return make_token(server["settings"], room=room, **claims)


async def test_join_gets_a_snapshot_then_comments_likes_and_counts(
    server: dict[str, Any],
) -> None:
    room = server["rooms"][1]
    alice = await Viewer.join(
        server["ws"], room, _token(server, room, customer_id=server["alice"], name="王芳")
    )
    bob = await Viewer.join(server["ws"], room, _token(server, room, device_id="bob-phone"))
    try:
        joined = await alice.expect_type("joined")
        assert joined["resumed"] is False and joined["you"]["name"] == "王芳"
        assert not joined["you"]["key"].startswith("c:")  # no customer id shown to others
        snapshot = (await alice.expect_type("snapshot"))["state"]
        assert snapshot["status"] == "live" and snapshot["comments_enabled"] is True
        assert [p["name"] for p in snapshot["lineup"]] == ["真丝围巾"]
        await bob.expect_type("snapshot")

        await alice.send(
            {"type": "comment", "text": "  好看 <script>x</script> ", "client_id": "a1"}
        )
        comment = await bob.expect_type("comment")
        assert comment["text"] == "好看 <script>x</script>"  # plain text, trimmed; pages escape
        assert comment["user"] == joined["you"] and "author" not in comment
        assert "client_id" in comment and comment["client_id"] == "a1"
        mine = await alice.expect_type("comment")
        assert mine["id"] == comment["id"]

        await bob.send({"type": "like", "count": 5})
        await bob.send({"type": "like", "count": 2})
        await alice.expect(lambda m: m.get("type") == "like_total" and m["total"] == 7)
        counts = await alice.expect(lambda m: m.get("type") == "viewer_count" and m["online"] == 2)
        assert counts["peak"] >= 2 and counts["total"] >= 2

        await alice.send({"type": "ping"})
        await alice.expect_type("pong")
        await bob.send({"type": "gift", "gift": "rose", "count": 1})
        gift = await alice.expect_type("gift")
        assert gift["gift"] == "rose" and gift["count"] == 1
    finally:
        await alice.close()
        await bob.close()


async def test_staff_see_who_wrote_a_comment(server: dict[str, Any]) -> None:
    room = server["rooms"][2]
    staff = await Viewer.join(
        server["ws"], room, _token(server, room, staff_id=server["anchor"], name="主播小美")
    )
    viewer = await Viewer.join(
        server["ws"], room, _token(server, room, customer_id=server["bob"], name="李娜")
    )
    try:
        await staff.expect_type("snapshot")
        await viewer.expect_type("snapshot")
        await viewer.send({"type": "comment", "text": "有红色吗"})
        seen = await staff.expect_type("comment")
        assert seen["author"] == {"customer_id": server["bob"], "device_id": "dev-1"}
        await staff.send({"type": "comment", "text": "有的，2 号链接"})
        answer = await viewer.expect(lambda m: m.get("type") == "comment" and "2 号" in m["text"])
        assert answer["user"]["role"] == "staff"
    finally:
        await staff.close()
        await viewer.close()


async def test_bad_frames_get_a_system_message_and_the_socket_stays(
    server: dict[str, Any],
) -> None:
    room = server["rooms"][3]
    viewer = await Viewer.join(server["ws"], room, _token(server, room, device_id="bad-frames"))
    try:
        await viewer.expect_type("snapshot")
        cases = [
            ("{not json", "bad_frame"),
            ("[1, 2]", "bad_frame"),
            ({"type": "dance"}, "unknown_type"),
            ({"type": "comment", "text": "长" * 201}, "too_long"),
            ({"type": "comment", "text": "   "}, "empty"),
            ({"type": "comment", "text": "x" * 5000}, "too_long"),
            ({"type": "like", "count": 0}, "bad_frame"),
            ({"type": "like", "count": "5"}, "bad_frame"),
            ({"type": "gift", "gift": "<b>", "count": 1}, "bad_frame"),
            ({"type": "product_click", "product_id": -1}, "bad_frame"),
            ({"type": "join", "token": "again", "last_seq": None}, "already_joined"),
        ]
        for frame, code in cases:
            await viewer.send(frame)
            message = await viewer.expect_type("system")
            assert message["code"] == code, (frame, message)
        await viewer.send({"type": "comment", "text": "还在"})
        assert (await viewer.expect_type("comment"))["text"] == "还在"
    finally:
        await viewer.close()


async def test_comments_are_rate_limited_per_viewer(server: dict[str, Any]) -> None:
    room = server["rooms"][3]
    viewer = await Viewer.join(server["ws"], room, _token(server, room, device_id="fast-typer"))
    try:
        await viewer.expect_type("snapshot")
        for i in range(6):
            await viewer.send({"type": "comment", "text": f"第{i}条"})
        await viewer.expect_type("system", code="rate_limited")
        await asyncio.sleep(0.5)  # let every answer arrive before counting them
        await viewer.send({"type": "ping"})
        await viewer.expect_type("pong")
        mine = [m for m in of_type(viewer.msgs, "comment") if m["text"].startswith("第")]
        limited = of_type(viewer.msgs, "system")
        assert len(mine) + len([m for m in limited if m["code"] == "rate_limited"]) == 6
        assert 3 <= len(mine) <= 4  # burst 3 (+1 if a second passed while sending)
    finally:
        await viewer.close()


async def test_resume_gets_exactly_what_was_missed(server: dict[str, Any]) -> None:
    room = server["rooms"][4]
    staff_token = _token(server, room, staff_id=server["anchor"], name="主播")
    talker = await Viewer.join(server["ws"], room, staff_token)
    token = _token(server, room, device_id="resumer")
    listener = await Viewer.join(server["ws"], room, token)
    try:
        await talker.expect_type("snapshot")
        await listener.expect_type("snapshot")
        await talker.send({"type": "comment", "text": "第一条"})
        await listener.expect(lambda m: m.get("text") == "第一条")
        last_seq = listener.last_seq
        await listener.close()
        for text in ("错过一", "错过二", "错过三"):
            await talker.send({"type": "comment", "text": text})
        await talker.expect(lambda m: m.get("text") == "错过三")

        back = await Viewer.join(server["ws"], room, token, last_seq=last_seq)
        joined = await back.expect_type("joined")
        assert joined["resumed"] is True
        await back.expect(lambda m: m.get("text") == "错过三")
        texts = [m["text"] for m in of_type(back.msgs, "comment")]
        assert texts == ["错过一", "错过二", "错过三"]
        assert of_type(back.msgs, "snapshot") == []
        await back.close()

        far = await Viewer.join(server["ws"], room, token, last_seq=10**9)
        assert (await far.expect_type("joined"))["resumed"] is False
        await far.expect_type("snapshot")
        await far.close()
    finally:
        await talker.close()


@pytest.mark.parametrize(
    ("claims", "room_key", "code", "reason"),
    [
        ({"device_id": "banned-device"}, 0, 4003, "banned"),
        ({}, "ended", 4010, "ended"),
        ({"shop_id": "other_shop"}, "other_room_as_mine", 4004, "not_found"),
        ({}, "wrong_room", 4001, "token_mismatch"),
    ],
)
async def test_refused_joins_close_with_a_clear_code(
    server: dict[str, Any], claims: dict[str, Any], room_key: Any, code: int, reason: str
) -> None:
    claims = dict(claims)
    if claims.get("shop_id") == "other_shop":
        claims["shop_id"] = server["shop"]  # a token of this shop for another shop's room
    if room_key == "other_room_as_mine":
        room = token_room = server["other_room"]
    elif room_key == "wrong_room":
        room, token_room = server["rooms"][5], server["rooms"][4]
    elif room_key == "ended":
        room = token_room = server["ended"]
    else:
        room = token_room = server["rooms"][room_key]
    viewer = await Viewer.join(server["ws"], room, _token(server, token_room, **claims))
    assert await viewer.closed() == (code, reason)


async def test_forged_expired_and_missing_tokens(server: dict[str, Any]) -> None:
    room = server["rooms"][5]
    good = _token(server, room)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    viewer = await Viewer.join(server["ws"], room, forged)
    assert await viewer.closed() == (4001, "token_invalid")

    from websockets.asyncio.client import connect

    async with connect(f"{server['ws']}/ws/live/{room}") as ws:
        await ws.send('{"type": "comment", "text": "没有加入"}')
        await asyncio.wait_for(ws.wait_closed(), 15)
        assert (ws.close_code, ws.close_reason) == (4000, "join_required")


async def test_floods_of_bad_frames_close_the_socket(server: dict[str, Any]) -> None:
    room = server["rooms"][5]
    viewer = await Viewer.join(server["ws"], room, _token(server, room, device_id="flooder"))
    await viewer.expect_type("snapshot")
    for _ in range(25):
        await viewer.send("not json at all")
    assert await viewer.closed() == (4029, "flood")


async def test_visits_reach_the_events_table_and_live_viewers(server: dict[str, Any]) -> None:
    from sqlalchemy import select

    from liveloop.core.database import Database
    from liveloop.events.models import Event
    from liveloop.live.models import LiveSession, LiveViewer

    room = server["rooms"][5]
    token = _token(server, room, customer_id=server["bob"], device_id="bob-2", source_code="grp9")
    viewer = await Viewer.join(server["ws"], room, token)
    await viewer.expect_type("snapshot")
    await viewer.send({"type": "comment", "text": "记下来"})
    await viewer.expect_type("comment")
    await viewer.send({"type": "product_click", "product_id": server["product"]})
    await viewer.send({"type": "like", "count": 9})
    await viewer.expect(lambda m: m.get("type") == "like_total" and m["total"] >= 9)
    await viewer.close()

    database = Database(server["url"])
    try:
        for _ in range(100):  # the buffer writes every second; wait for it (bounded)
            async with database.sessionmaker() as session:
                events = list(
                    (
                        await session.execute(
                            select(Event.type, Event.properties).where(
                                Event.live_session_id == room, Event.customer_id == server["bob"]
                            )
                        )
                    ).all()
                )
                row = (
                    await session.execute(
                        select(LiveViewer).where(
                            LiveViewer.live_session_id == room,
                            LiveViewer.viewer_key == f"c:{server['bob']}",
                        )
                    )
                ).scalar_one_or_none()
                live = await session.get(LiveSession, room)
            types = {t for t, _ in events}
            if "live_leave" in types and row is not None and row.likes == 9 and live.like_total:
                break
            await asyncio.sleep(0.2)
        assert {"live_enter", "live_comment", "live_like", "live_product_click"} <= types
        assert "live_leave" in types
        assert row is not None and row.source_code == "grp9"
        assert (row.comments, row.likes, row.entries) == (1, 9, 1)
        assert live is not None and live.like_total >= 9 and live.total_viewers >= 1
    finally:
        await database.dispose()
