"""The red packet's room card and its messages, with the throttle of "x left" updates.

`{"type": "red_packet", "card": {...}}` goes out when a packet starts, when it closes (state
ended/stopped, with the grabbed count, `show_until` a few seconds after the close) and, while
it runs, at most once a second per packet and process as shares are grabbed (the first grab of
a second goes at once, the last one of the second when the second is over).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import after_commit, utcnow
from liveloop.live.outbox import send_now

if TYPE_CHECKING:
    from liveloop.live.redpackets.models import RedPacket

SHOW_AFTER_END_S = 8  # the result stays on the phones this long after the close
TICK_SECONDS = 1.0


def show_until(packet: RedPacket) -> dt.datetime:
    end = packet.closed_at or packet.ends_at
    return end + dt.timedelta(seconds=SHOW_AFTER_END_S)


def state_at(packet: RedPacket, now: dt.datetime) -> str:
    """scheduled / open / ended / stopped: what a phone is shown."""
    if packet.status != "active":
        return packet.status
    if now >= packet.ends_at:
        return "ended"
    return "scheduled" if now < packet.starts_at else "open"


def card(
    packet: RedPacket, *, grabbed_count: int, now: dt.datetime | None = None
) -> dict[str, Any]:
    now = now or utcnow()
    condition = {k: v for k, v in (packet.condition or {}).items() if v is not None}
    return {
        "id": packet.id,
        "state": state_at(packet, now),
        "greeting": packet.greeting,
        "total_fen": packet.total_fen,
        "count": packet.count,
        "split": packet.split,
        "grabbed_count": grabbed_count,
        "remaining_count": max(packet.count - grabbed_count, 0),
        "condition": condition or {"kind": "none"},
        "starts_at": packet.starts_at.isoformat(),
        "ends_at": packet.ends_at.isoformat(),
        "closed_at": packet.closed_at.isoformat() if packet.closed_at else None,
        "show_until": show_until(packet).isoformat(),
        "server_time": now.isoformat(),
    }


def message(room_card: dict[str, Any]) -> dict[str, Any]:
    return {"type": "red_packet", "card": room_card}


class GrabTicker:
    """At most one progress message per packet per `interval` in this process."""

    def __init__(self, interval: float = TICK_SECONDS) -> None:
        self.interval = interval
        self._last: dict[int, float] = {}
        self._pending: dict[int, tuple[int, dict[str, Any]]] = {}
        self._finished: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent: list[tuple[int, dict[str, Any]]] = []  # what went out (tests read it)

    def note_after_commit(
        self, session: AsyncSession, *, live_session_id: int, packet_id: int, card: dict[str, Any]
    ) -> None:
        after_commit(
            session,
            lambda: self.note(live_session_id=live_session_id, packet_id=packet_id, card=card),
        )

    def finish_after_commit(self, session: AsyncSession, packet_id: int) -> None:
        after_commit(session, lambda: self.finish(packet_id))

    def note(self, *, live_session_id: int, packet_id: int, card: dict[str, Any]) -> None:
        if packet_id in self._finished:
            return
        now = time.monotonic()
        waited = now - self._last.get(packet_id, float("-inf"))
        if waited >= self.interval and packet_id not in self._pending:
            self._last[packet_id] = now
            self._send(live_session_id, card)
            return
        newer = self._pending.get(packet_id)
        if newer is None or int(newer[1]["grabbed_count"]) <= int(card["grabbed_count"]):
            self._pending[packet_id] = (live_session_id, card)
        if newer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            loop.call_later(max(self.interval - waited, 0.0), self._flush, packet_id)

    def finish(self, packet_id: int) -> None:
        """The packet closed: its end card is the last word, a pending tick is dropped."""
        self._pending.pop(packet_id, None)
        self._last.pop(packet_id, None)
        self._finished.add(packet_id)
        if len(self._finished) > 10_000:
            self._finished.clear()

    def _flush(self, packet_id: int) -> None:
        pending = self._pending.pop(packet_id, None)
        if pending is None or packet_id in self._finished:
            return
        self._last[packet_id] = time.monotonic()
        self._send(*pending)

    def _send(self, live_session_id: int, room_card: dict[str, Any]) -> None:
        self.sent.append((live_session_id, room_card))
        del self.sent[:-100]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(
            send_now(live_session_id=live_session_id, message=message(room_card))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


ticker = GrabTicker()
