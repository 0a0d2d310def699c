"""The room side: progress messages are throttled (first at once, the latest after the
interval, nothing after the end card) and the room card a reopening room loads."""

from __future__ import annotations

import asyncio
from typing import Any

from liveloop.live.redpackets import room


def _card(grabbed: int) -> dict[str, Any]:
    return {"id": 7, "state": "open", "grabbed_count": grabbed}


async def test_grab_progress_is_throttled(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    published: list[dict[str, Any]] = []

    async def fake_send(*, live_session_id: int, message: dict[str, Any]) -> None:
        published.append(message)

    monkeypatch.setattr(room, "send_now", fake_send)
    ticker = room.GrabTicker(interval=0.05)
    for grabbed in range(1, 21):
        ticker.note(live_session_id=1, packet_id=7, card=_card(grabbed))
    await asyncio.sleep(0.3)
    counts = [m["card"]["grabbed_count"] for m in published]
    assert counts == [1, 20]  # twenty grabs, two messages: the first and the latest
    assert all(m["type"] == "red_packet" for m in published)

    ticker.note(live_session_id=1, packet_id=7, card=_card(21))
    ticker.note(live_session_id=1, packet_id=7, card=_card(22))
    ticker.finish(7)
    await asyncio.sleep(0.3)
    ticker.note(live_session_id=1, packet_id=7, card=_card(23))
    await asyncio.sleep(0.1)
    assert [m["card"]["grabbed_count"] for m in published][2:] in ([], [21])
    assert 22 not in [m["card"]["grabbed_count"] for m in published]
    assert 23 not in [m["card"]["grabbed_count"] for m in published]
