"""One live room in one process: its sequence, history, frames and local connections.

Messages enter a room from its own viewers (`submit`, numbered through the room figures and
then published on the bus for the other processes) or from the bus (`accept_remote`). Either
way they wait in `_pending` until their turn in sequence order (a gap is waited for up to
`GAP_WAIT_S`, then skipped), join the bounded history and go out in the next frame: at most one
frame per `TICK_S`, encoded once per variant (viewers, staff, control-only) and written as the
same bytes to every local connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from liveloop.live import protocol as p
from liveloop.live.presence import Counts, RoomFigures
from liveloop.live.promotions import MESSAGE_TYPES as PROMOTION_MESSAGES
from liveloop.live.promotions import RoomPromotions
from liveloop.live.viewers import ViewerClaims

if TYPE_CHECKING:
    from liveloop.live.hub import RoomHub

log = structlog.get_logger(__name__)

TICK_S = 0.08  # at most one frame per 80 ms per room
HISTORY_SIZE = 2000
GAP_WAIT_S = 0.3
DISPLAY_RATE = 15.0  # comments/s a person can follow; more are sampled for viewers
COUNTS_EVERY_S = 2.0
FIGURES_EVERY_S = 1.0
HOUSEKEEPING_EVERY_S = 5.0
ENDED_CLOSE_AFTER_S = 2.0
IDLE_ROOM_CLOSE_S = 60.0  # a room nobody here watches is closed (unsubscribed) after this
_comment_ids = itertools.count(1)


class Peer(Protocol):
    """A local connection as the room sees it (implemented by `ws.Connection`)."""

    claims: ViewerClaims
    muted_until: float | None
    last_received: float
    pending_likes: int

    def send_frame(self, full: bytes, control: bytes | None) -> None: ...

    def close_soon(self, code: int, reason: str) -> None: ...


@dataclass(slots=True)
class RoomMsg:
    seq: int
    kind: str
    msg: dict[str, Any]
    public: bytes | None  # None: a comment sampled out for viewers, or a staff-only message
    staff: bytes
    control: bool
    arrived: float


def encode_room_msg(seq: int, msg: dict[str, Any], shown: bool) -> RoomMsg:
    kind = msg.get("type", "")
    staff = p.dumps(msg)
    public: bytes | None = staff
    if "author" in msg:  # staff-only detail: who wrote it, for moderation
        public = p.dumps({k: v for k, v in msg.items() if k != "author"})
    if not shown or msg.get("to") == "staff":  # `"to": "staff"`: the anchor console only
        public = None
    control = kind not in p.DROPPABLE_TYPES
    return RoomMsg(seq, kind, msg, public, staff, control, time.monotonic())


@dataclass(slots=True)
class Restriction:
    kind: str  # "mute" or "ban"
    customer_id: int | None
    device_id: str
    until: float  # epoch seconds; infinity: until lifted

    def matches(self, claims: ViewerClaims) -> bool:
        return (self.customer_id is not None and self.customer_id == claims.customer_id) or bool(
            self.device_id and self.device_id == claims.device_id
        )


class Restrictions:
    """The room's mutes and bans in memory, so a join never waits on the database: loaded when
    the room opens, reloaded every few seconds, and updated at once by `_moderation` messages."""

    def __init__(self) -> None:
        self.items: list[Restriction] = []

    def add(self, kind: str, customer_id: int | None, device_id: str, until: float) -> None:
        self.items.append(Restriction(kind, customer_id, device_id, until))

    def remove(self, kind: str, customer_id: int | None, device_id: str) -> None:
        self.items = [
            r
            for r in self.items
            if not (
                r.kind == kind
                and (
                    (customer_id is not None and r.customer_id == customer_id)
                    or (device_id and r.device_id == device_id)
                )
            )
        ]

    def find(self, kind: str, claims: ViewerClaims) -> Restriction | None:
        now = time.time()
        found = [r for r in self.items if r.kind == kind and r.until > now and r.matches(claims)]
        return max(found, key=lambda r: r.until) if found else None


class TokenBucket:
    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Room:
    def __init__(
        self,
        hub: RoomHub,
        *,
        live_session_id: int,
        shop_id: int,
        state: dict[str, Any],
        figures: RoomFigures,
        first_seq: int,
    ) -> None:
        self.hub = hub
        self.id = live_session_id
        self.shop_id = shop_id
        self.state = state  # the snapshot state, kept current by the messages that pass
        # Promotion cards on show: apart from `state`, which a reload from the database replaces.
        self.promotions = RoomPromotions()
        self.figures = figures
        self.channel = f"room:{live_session_id}"
        self.word_filter: Any = None
        self.restrictions = Restrictions()
        self.viewers: set[Peer] = set()
        self.staff: set[Peer] = set()
        self.key_counts: dict[str, int] = {}
        self._gone_keys: set[str] = set()
        self.history: deque[RoomMsg] = deque(maxlen=HISTORY_SIZE)
        self.delivered_seq = first_seq  # seq of the last message given to local connections
        self.max_seq = first_seq
        self._pending: dict[int, RoomMsg] = {}
        self._outgoing: list[tuple[dict[str, Any], bool]] = []
        self._state_msgs: dict[str, bytes] = {}
        self._display = TokenBucket(DISPLAY_RATE, DISPLAY_RATE)
        self._like_delta = 0
        self._likers: set[Peer] = set()
        self._counts = Counts(0, int(state.get("peak", 0)), int(state.get("total", 0)))
        self._dirty = asyncio.Event()
        self._outgoing_ready = asyncio.Event()
        self._last_frame = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self.idle_since: float | None = time.monotonic()
        self.frames_sent = 0  # frames written to sockets (for the bench)
        self.msgs_sent = 0  # messages written to sockets, summed over sockets

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for loop in (self._frame_loop, self._publish_loop, self._figures_loop):
            self._tasks.append(asyncio.create_task(loop(), name=f"room-{self.id}-{loop.__name__}"))

    async def stop(self, code: tuple[int, str] = p.CLOSE_GOING_AWAY) -> None:
        for peer in list(self.viewers | self.staff):
            peer.close_soon(*code)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    # -- connections -------------------------------------------------------------------------

    def add(self, peer: Peer) -> None:
        self.idle_since = None
        if peer.claims.is_staff:  # staff moderate; they are not counted as viewers
            self.staff.add(peer)
            return
        self.viewers.add(peer)
        key = peer.claims.viewer_key
        self.key_counts[key] = self.key_counts.get(key, 0) + 1
        self._gone_keys.discard(key)

    def remove(self, peer: Peer) -> None:
        group = self.staff if peer.claims.is_staff else self.viewers
        if peer not in group:
            return
        group.discard(peer)
        self._likers.discard(peer)
        if not self.viewers and not self.staff:
            self.idle_since = time.monotonic()
        if group is self.staff:
            return
        key = peer.claims.viewer_key
        left = self.key_counts.get(key, 1) - 1
        if left <= 0:
            self.key_counts.pop(key, None)
            self._gone_keys.add(key)
        else:
            self.key_counts[key] = left

    @property
    def connections(self) -> int:
        return len(self.viewers) + len(self.staff)

    def snapshot(self) -> dict[str, Any]:
        state = dict(self.state)
        state.update(
            online=self._counts.online or len(self.key_counts),
            peak=max(self._counts.peak, len(self.key_counts)),
            total=self._counts.total,
            promotions=self.promotions.current(),
        )
        return {"type": "snapshot", "state": state}

    def missed_since(self, last_seq: int, *, staff: bool) -> list[bytes] | None:
        """Encoded messages after `last_seq`, or None when the history no longer reaches back."""
        if last_seq > self.delivered_seq:
            return None  # a sequence from before a restart of the room's numbering
        if last_seq == self.delivered_seq:
            return []
        if not self.history or self.history[0].seq > last_seq + 1:
            return None
        found: list[bytes] = []
        for item in self.history:
            if item.seq <= last_seq:
                continue
            part = item.staff if staff else item.public
            if part is not None:
                found.append(part)
        return found

    def personal(self, peer: Peer, msgs: list[dict[str, Any]], extra: list[bytes] = ()) -> None:  # type: ignore[assignment]
        """A frame for one connection only (not numbered, not in the history)."""
        frame = p.encode_frame(self.delivered_seq, [p.dumps(m) for m in msgs] + list(extra))
        peer.send_frame(frame, frame)

    # -- messages in -------------------------------------------------------------------------

    def submit(self, msg: dict[str, Any], *, always_show: bool = False) -> bool:
        """A message from this process (a local viewer, or the outbox): number it, show it here
        at once, and publish it for the other processes. False: a comment sampled out for
        viewers (staff still see it)."""
        shown = True
        if msg.get("type") == "comment" and not always_show:
            shown = self._display.take()
        self._outgoing.append((msg, shown))
        self._outgoing_ready.set()
        return shown

    def new_comment(self, peer: Peer, text: str, client_id: str) -> dict[str, Any]:
        claims = peer.claims
        msg: dict[str, Any] = {
            "type": "comment",
            "id": f"c-{self.hub.node_id[:6]}-{next(_comment_ids)}",
            "user": self.hub.public_user(claims),
            "text": text,
            "at": int(time.time() * 1000),
            "author": {"customer_id": claims.customer_id, "device_id": claims.device_id},
        }
        if client_id:
            msg["client_id"] = client_id
        return msg

    def add_likes(self, peer: Peer, count: int) -> None:
        self._like_delta += count
        peer.pending_likes += count
        self._likers.add(peer)

    def accept_remote(self, first_seq: int, items: list[list[Any]]) -> None:
        self._accept([(first_seq + i, msg, bool(shown)) for i, (msg, shown) in enumerate(items)])

    def _accept(self, entries: list[tuple[int, dict[str, Any], bool]]) -> None:
        for seq, msg, shown in entries:
            if seq <= self.delivered_seq or seq in self._pending:
                continue  # late after its gap was skipped, or a repeat
            self._pending[seq] = encode_room_msg(seq, msg, shown)
            self.max_seq = max(self.max_seq, seq)
        self._dirty.set()

    def set_state_msg(self, msg: dict[str, Any]) -> None:
        """like_total / viewer_count: the latest value goes in the next frame (not numbered)."""
        self._state_msgs[msg["type"]] = p.dumps(msg)
        self._dirty.set()

    # -- loops -------------------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        while True:
            await self._outgoing_ready.wait()
            self._outgoing_ready.clear()
            batch, self._outgoing = self._outgoing, []
            if not batch:
                continue
            last = await self.figures.next_seq(len(batch), floor=self.max_seq)
            first = last - len(batch) + 1
            self._accept([(first + i, msg, shown) for i, (msg, shown) in enumerate(batch)])
            payload = p.dumps({"o": self.hub.node_id, "s": first, "m": batch})
            await self.hub.bus_publish(self.channel, payload)

    async def _frame_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._dirty.wait()
            delay = self._last_frame + TICK_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._dirty.clear()
            self._last_frame = loop.time()
            try:
                self._flush()
            except Exception:  # one bad message must not stop the room
                log.exception("room_flush_failed", live_session_id=self.id)

    def _take_deliverable(self) -> list[RoomMsg]:
        ready: list[RoomMsg] = []
        pending = self._pending
        while pending:
            item = pending.pop(self.delivered_seq + 1, None)
            if item is not None:
                ready.append(item)
                self.delivered_seq = item.seq
                continue
            oldest = min(pending)
            waited = time.monotonic() - pending[oldest].arrived
            if waited < GAP_WAIT_S:
                asyncio.get_running_loop().call_later(GAP_WAIT_S - waited, self._dirty.set)
                break
            log.warning("room_seq_gap_skipped", live_session_id=self.id, missing=oldest - 1)
            self.delivered_seq = oldest - 1
        return ready

    def _flush(self) -> None:
        ready = self._take_deliverable()
        for item in ready:
            self.history.append(item)
            if item.control:
                self._apply(item.msg)
        state_parts = list(self._state_msgs.values())
        self._state_msgs.clear()
        if not ready and not state_parts:
            return
        seq = self.delivered_seq
        viewer_parts = [m.public for m in ready if m.public is not None] + state_parts
        control_parts = [m.public for m in ready if m.control and m.public is not None]
        control_parts += state_parts
        if self.viewers and viewer_parts:
            full = p.encode_frame(seq, viewer_parts)
            if len(control_parts) == len(viewer_parts):
                control: bytes | None = full
            else:
                control = p.encode_frame(seq, control_parts) if control_parts else None
            for peer in list(self.viewers):
                peer.send_frame(full, control)
            self.frames_sent += len(self.viewers)
            self.msgs_sent += len(viewer_parts) * len(self.viewers)
        if self.staff:
            staff_full = p.encode_frame(seq, [m.staff for m in ready] + state_parts)
            for peer in list(self.staff):
                peer.send_frame(staff_full, staff_full)

    def _apply(self, msg: dict[str, Any]) -> None:
        """Keep the snapshot state current with the control messages that pass."""
        kind, state = msg.get("type"), self.state
        if kind in PROMOTION_MESSAGES:
            self.promotions.apply(msg)
        elif kind == "announcement":
            state["announcement"] = msg.get("text", "")
        elif kind == "pinned":
            state["pinned"] = msg.get("message")
        elif kind == "product_push":
            state["product"] = msg.get("product")
        elif kind == "product_unpush":
            product = state.get("product")
            if product and product.get("id") == msg.get("product_id"):
                state["product"] = None
        elif kind == "product_stock":
            _apply_stock(state.get("product"), msg)
        elif kind == "room_state":
            state["status"] = msg.get("status", state.get("status"))
            state["comments_enabled"] = msg.get("comments_enabled", state.get("comments_enabled"))
            if state["status"] in ("ended", "cancelled"):
                asyncio.get_running_loop().call_later(ENDED_CLOSE_AFTER_S, self._close_ended)

    def _close_ended(self) -> None:
        for peer in list(self.viewers | self.staff):
            peer.close_soon(*p.CLOSE_ENDED)

    async def _figures_loop(self) -> None:
        last_counts = 0.0
        last_housekeeping = time.monotonic()
        while True:
            await asyncio.sleep(FIGURES_EVERY_S)
            try:
                await self._update_figures(refresh_counts=time.monotonic() - last_counts >= 2)
                if time.monotonic() - last_counts >= COUNTS_EVERY_S:
                    last_counts = time.monotonic()
                if time.monotonic() - last_housekeeping >= HOUSEKEEPING_EVERY_S:
                    last_housekeeping = time.monotonic()
                    await self.hub.housekeeping(self)
            except Exception:
                log.exception("room_figures_failed", live_session_id=self.id)

    async def _update_figures(self, *, refresh_counts: bool) -> None:
        buffer = self.hub.buffer
        # Every second, even without likes here: other processes' likes change the total too.
        delta, self._like_delta = self._like_delta, 0
        total = await self.figures.add_likes(delta)
        changed = total != self.state.get("like_total")
        if changed:
            self.state["like_total"] = total
            self.set_state_msg({"type": "like_total", "total": total})
        likers, self._likers = self._likers, set()
        for peer in likers:
            count, peer.pending_likes = peer.pending_likes, 0
            if count:
                buffer.add_event(peer.claims, self.id, "live_like", {"count": count})
                buffer.viewer_seen(peer.claims, self.id, likes=count)
        if refresh_counts:
            gone, self._gone_keys = self._gone_keys, set()
            counts = await self.figures.refresh(list(self.key_counts), gone=gone)
            if counts != self._counts:
                changed = True
                self._counts = counts
                self.set_state_msg(
                    {
                        "type": "viewer_count",
                        "online": counts.online,
                        "peak": counts.peak,
                        "total": counts.total,
                    }
                )
        if changed:  # the session row keeps the figures across restarts
            counts = self._counts
            buffer.session_figures(
                self.shop_id,
                self.id,
                peak=counts.peak,
                total=counts.total,
                like_total=int(self.state.get("like_total") or 0),
            )

    def peers_matching(self, customer_id: int | None, device_id: str) -> list[Peer]:
        """Local connections of this customer (when given) or this device (when given)."""
        found = []
        for peer in self.viewers | self.staff:
            claims = peer.claims
            if (customer_id is not None and claims.customer_id == customer_id) or (
                device_id and claims.device_id == device_id
            ):
                found.append(peer)
        return found


def _apply_stock(product: dict[str, Any] | None, msg: dict[str, Any]) -> None:
    if not product or product.get("id") != msg.get("product_id"):
        return
    skus = product.get("skus") or []
    for sku in skus:
        if sku.get("id") == msg.get("sku_id"):
            sku["stock"] = msg.get("stock")
    if skus:
        product["stock"] = sum(int(s.get("stock") or 0) for s in skus)


def until_timestamp(until: str | None) -> float:
    """ISO time → epoch seconds (infinity for None: for the whole session)."""
    if not until:
        return math.inf
    import datetime as dt

    return dt.datetime.fromisoformat(until).timestamp()
