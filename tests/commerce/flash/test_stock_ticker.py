"""flash_stock messages are coalesced: a burst of changes is one message with the last figure."""

from __future__ import annotations

import asyncio
from typing import Any

from liveloop.commerce.flash import room


async def test_a_burst_of_changes_sends_one_message_with_the_latest_figure(monkeypatch) -> None:
    sent: list[tuple[int, dict[str, Any]]] = []
    both = asyncio.Event()

    async def record(*, live_session_id: int, message: dict[str, Any]) -> None:
        sent.append((live_session_id, message))
        if len(sent) == 2:
            both.set()

    monkeypatch.setattr(room, "send_now", record)
    ticker = room.StockTicker(interval=0.01)
    for remaining in range(100, -1, -1):  # 101 changes without yielding to the loop
        ticker.update(live_session_id=7, flash_sale_id=3, remaining=remaining)
    ticker.update(live_session_id=7, flash_sale_id=4, remaining=9)
    await asyncio.wait_for(both.wait(), timeout=10)
    await asyncio.sleep(0.05)  # room for a wrong third message to show up
    assert sorted((m["flash_sale_id"], m["remaining"]) for _, m in sent) == [(3, 0), (4, 9)]
    assert all(room == 7 and m["type"] == "flash_stock" for room, m in sent)
