"""At most one results card a second per poll, however many votes arrive.

Each committed vote hands the throttle the card it counted (from the votes, in its own
transaction). The first card of a quiet poll goes out at once; cards offered within the
interval after a send are coalesced: only the newest (the one with the most voters) goes out,
once, when the interval has passed. The closing card bypasses the throttle (`forget`).

The throttle is per process: with several web processes each sends at most one card a second
per poll. `sent` and `coalesced` count what it did (the tests read them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)

Sender = Callable[[int, dict[str, Any]], Coroutine[Any, Any, None]]


async def _send_now(live_session_id: int, message: dict[str, Any]) -> None:
    from liveloop.live.outbox import send_now

    await send_now(live_session_id=live_session_id, message=message)


class CardThrottle:
    def __init__(
        self,
        interval_s: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sender: Sender | None = None,
    ) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.sender: Sender = sender or _send_now
        self.sent = 0
        self.coalesced = 0
        self._last_sent: dict[int, float] = {}
        self._pending: dict[int, tuple[int, dict[str, Any]]] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def offer(self, key: int, live_session_id: int, message: dict[str, Any]) -> None:
        """A card after a vote: sent now, or kept to be sent when the interval has passed."""
        now = self.clock()
        last = self._last_sent.get(key)
        if key not in self._pending and (last is None or now - last >= self.interval_s):
            self._send(key, live_session_id, message)
            return
        self.coalesced += 1
        current = self._pending.get(key)
        if current is None or _voters(message) >= _voters(current[1]):
            self._pending[key] = (live_session_id, message)
        if key not in self._timers:
            delay = max(self.interval_s - (now - (last or now)), 0.0)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (a script): `flush` sends it
            self._timers[key] = loop.call_later(delay, self.flush, key)

    def flush(self, key: int) -> bool:
        """Send the kept card of `key` now (the timer calls it); False when none was kept."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        pending = self._pending.pop(key, None)
        if pending is None:
            return False
        self._send(key, *pending)
        return True

    def forget(self, key: int) -> None:
        """The poll closed: drop what was kept (the closing card says it all)."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._pending.pop(key, None)
        self._last_sent.pop(key, None)

    def _send(self, key: int, live_session_id: int, message: dict[str, Any]) -> None:
        self._last_sent[key] = self.clock()
        self.sent += 1
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.sender(live_session_id, message))
            return
        task = loop.create_task(self.sender(live_session_id, message))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("poll_card_publish_failed", error=repr(task.exception()))


def _voters(message: dict[str, Any]) -> int:
    card = message.get("card") or {}
    return int(card.get("voters") or 0)
