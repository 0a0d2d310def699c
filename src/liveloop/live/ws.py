"""The room socket `/ws/live/{live_session_id}` (docs/live-protocol.md): join, then a loop that
checks each client frame and hands it to the room. Nothing here awaits the database after the
join: interactions go to the hub's in-memory buffer.

Writing: a room frame is the same bytes for every viewer. Under Uvicorn the connection writes
the ready-made WebSocket frame straight to the socket's transport (one `write` per viewer, no
per-viewer task, no re-encoding, no per-message compression) and reads the transport's write
buffer to know when a viewer is slow. Elsewhere (test clients) it falls back to a queue and a
writer task using the ASGI `send`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from typing import Any

import structlog
from fastapi import APIRouter, WebSocket
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocketState

from liveloop.core.errors import Unauthenticated
from liveloop.live import promotions
from liveloop.live import protocol as p
from liveloop.live.hub import RoomHub, muted_message
from liveloop.live.room import Room, TokenBucket, until_timestamp
from liveloop.live.viewers import ViewerClaims, read_viewer_token

log = structlog.get_logger(__name__)

SLOW_BYTES = 64 * 1024  # more than this unsent: the viewer is behind, comments are dropped
MAX_BEHIND_BYTES = 1024 * 1024  # this far behind: disconnected at once
SLOW_FRAMES = 8  # the same two limits for the queued (fallback) writer, in frames
MAX_BEHIND_FRAMES = 256
STUCK_S = 15.0  # behind for this long: disconnected
CLOSE_GRACE_S = 5.0  # a close frame unanswered for this long: the transport is dropped
FLOOD_WINDOW_S = 5.0
FLOOD_FRAMES = 150  # frames per window (30/s sustained)
MAX_BAD_FRAMES = 20

_wire_cache: list[tuple[bytes, bytes]] = []


def _wire(payload: bytes) -> bytes:
    """The WebSocket frame for a payload; the last two are kept, as one frame goes to many."""
    for cached_payload, wire in _wire_cache:
        if cached_payload is payload:
            return wire
    wire = p.websocket_text_frame(payload)
    _wire_cache.insert(0, (payload, wire))
    del _wire_cache[2:]
    return wire


def _find_transport(send: Any) -> asyncio.Transport | None:
    """The asyncio transport behind a Uvicorn WebSocket's ASGI `send`, through the middleware
    wrappers (closures and bound methods); None for anything else."""
    stack, seen = [send], set[int]()
    while stack and len(seen) < 64:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        owner = getattr(obj, "__self__", None)
        if owner is not None and type(owner).__module__.startswith("uvicorn.protocols.websockets"):
            transport = getattr(owner, "transport", None)
            # uvloop's transports are not asyncio.Transport subclasses; check what is used.
            if all(
                hasattr(transport, name)
                for name in ("write", "get_write_buffer_size", "is_closing", "abort")
            ):
                return transport
        for cell in getattr(obj, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                if callable(cell.cell_contents):
                    stack.append(cell.cell_contents)
        if owner is not None:
            for value in vars(owner).values() if hasattr(owner, "__dict__") else ():
                if callable(value):
                    stack.append(value)
    return None


class Connection:
    """One viewer's socket, as a room `Peer`. Slotted: ten thousand of these per process."""

    __slots__ = (
        "_queue",
        "_slow_since",
        "_transport",
        "_wake",
        "_writer",
        "claims",
        "close_reason",
        "closing",
        "comments",
        "dropped",
        "entered_lottery",
        "joined_at",
        "last_received",
        "muted_until",
        "pending_likes",
        "websocket",
    )

    def __init__(self, websocket: WebSocket, claims: ViewerClaims, *, transport: Any) -> None:
        """`transport`: the socket's transport to write frames to directly, or None to send
        through the ASGI `send` from a writer task."""
        self.websocket = websocket
        self.claims = claims
        self.muted_until: float | None = None
        self.last_received = time.monotonic()
        self.joined_at = time.monotonic()
        self.pending_likes = 0
        self.comments = TokenBucket(1.0, 3.0)
        self.closing = False
        self.close_reason = ""
        self.dropped = 0  # frames sent without their comments (or not at all) while slow
        self.entered_lottery: int | None = None  # the lottery this socket was told it entered
        self._slow_since: float | None = None
        self._transport = transport
        self._queue: deque[tuple[bytes, bytes | None]] = deque()
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        if self._transport is None:
            self._wake = asyncio.Event()
            self._writer = asyncio.create_task(self._write_queued())

    # -- writing -----------------------------------------------------------------------------

    def send_frame(self, full: bytes, control: bytes | None) -> None:
        if self.closing:
            return
        transport = self._transport
        if transport is None:
            self._queue.append((full, control))
            if self._wake is not None:
                self._wake.set()
            return
        if transport.is_closing():
            return
        behind = transport.get_write_buffer_size()
        if behind <= SLOW_BYTES:
            self._slow_since = None
            transport.write(_wire(full))
            return
        if self._still_slow(behind > MAX_BEHIND_BYTES):
            return
        if control is not full:
            self.dropped += 1
        if control is not None:
            transport.write(_wire(control))

    def _still_slow(self, far_behind: bool) -> bool:
        """Note that the viewer is behind; True (and closing) when it has been for too long."""
        now = time.monotonic()
        if self._slow_since is None:
            self._slow_since = now
        if far_behind or now - self._slow_since > STUCK_S:
            log.info("live_viewer_too_slow", viewer=self.claims.viewer_key)
            self.close_soon(*p.CLOSE_TOO_SLOW)
            return True
        return False

    async def _write_queued(self) -> None:
        queue, wake = self._queue, self._wake
        assert wake is not None
        while not self.closing:
            await wake.wait()
            wake.clear()
            while queue and not self.closing:
                if len(queue) > MAX_BEHIND_FRAMES or (
                    len(queue) > SLOW_FRAMES and self._still_slow(False)
                ):
                    self.close_soon(*p.CLOSE_TOO_SLOW)
                    return
                full, control = queue.popleft()
                data: bytes | None = full
                if len(queue) >= SLOW_FRAMES:
                    data = control
                    if control is not full:
                        self.dropped += 1
                else:
                    self._slow_since = None
                if data is None:
                    continue
                try:
                    await self.websocket.send_text(data.decode())
                except Exception:
                    return

    # -- closing -----------------------------------------------------------------------------

    def close_soon(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.close_reason = reason
        asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        if self._writer is not None:
            self._writer.cancel()
        # What was queued before the close still goes out first (e.g. the "kicked" message).
        with contextlib.suppress(Exception):
            while self._queue:
                full, _ = self._queue.popleft()
                await asyncio.wait_for(self.websocket.send_text(full.decode()), 1.0)
        with contextlib.suppress(Exception):
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await asyncio.wait_for(self.websocket.close(code, reason), CLOSE_GRACE_S)
        if self._transport is not None:
            # A viewer that does not read never drains its buffer, so a plain close would wait
            # for ever; after the grace period the socket is dropped (a no-op once closed).
            await asyncio.sleep(CLOSE_GRACE_S)
            self._transport.abort()


async def _close_at_join(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code, reason)


async def live_socket(websocket: WebSocket) -> None:
    live_session_id: int = websocket.path_params["live_session_id"]
    hub: RoomHub = websocket.app.state.hub
    await websocket.accept()
    joined = await _join(hub, websocket, live_session_id)
    if joined is None:
        return
    room, connection = joined
    reason = "closed"
    try:
        reason = await _serve(hub, room, connection)
    finally:
        room.remove(connection)
        if connection._writer is not None:
            connection._writer.cancel()
        if not connection.claims.is_staff:  # staff at work are not audience
            watched = int(time.monotonic() - connection.joined_at)
            hub.buffer.add_event(
                connection.claims,
                room.id,
                "live_leave",
                {"watch_seconds": watched, "reason": connection.close_reason or reason},
            )
            hub.buffer.viewer_left(connection.claims, room.id, watched)


async def _join(
    hub: RoomHub, websocket: WebSocket, live_session_id: int
) -> tuple[Room, Connection] | None:
    try:
        message = await asyncio.wait_for(websocket.receive(), p.JOIN_TIMEOUT_S)
    except TimeoutError:
        await _close_at_join(websocket, *p.CLOSE_JOIN_REQUIRED)
        return None
    if message["type"] == "websocket.disconnect":
        return None
    try:
        frame = p.parse_client_frame(message.get("text") or message.get("bytes") or b"")
    except p.ProtocolError:
        frame = None
    if frame is None or frame.type != "join":
        await _close_at_join(websocket, *p.CLOSE_JOIN_REQUIRED)
        return None
    try:
        claims = read_viewer_token(hub.settings, frame.data["token"])
    except Unauthenticated as exc:
        await _close_at_join(websocket, p.CLOSE_TOKEN_INVALID, exc.code)
        return None
    if claims.live_session_id != live_session_id:
        await _close_at_join(websocket, p.CLOSE_TOKEN_INVALID, "token_mismatch")
        return None
    room = await hub.open_room(live_session_id)
    if room is None or room.shop_id != claims.shop_id:
        await _close_at_join(websocket, *p.CLOSE_NOT_FOUND)
        return None
    if room.state.get("status") in ("ended", "cancelled"):
        await _close_at_join(websocket, *p.CLOSE_ENDED)
        return None
    mute_until: str | None = None
    muted = False
    if not claims.is_staff:
        if room.restrictions.find("ban", claims) is not None:
            await _close_at_join(websocket, *p.CLOSE_BANNED)
            return None
        mute = room.restrictions.find("mute", claims)
        if mute is not None:
            muted = True
            mute_until = None if mute.until == math.inf else _iso(mute.until)
    connection = Connection(websocket, claims, transport=_find_transport(websocket._send))
    if muted:
        connection.muted_until = until_timestamp(mute_until)
    # No await from here to the personal frame: what the room delivers next follows it.
    room.add(connection)
    last_seq = frame.data.get("last_seq")
    missed = room.missed_since(last_seq, staff=claims.is_staff) if last_seq is not None else None
    joined = {
        "type": "joined",
        "you": hub.public_user(claims),
        "resumed": missed is not None,
    }
    first: list[dict[str, Any]] = [joined] if missed is not None else [joined, room.snapshot()]
    if muted:
        first.append(muted_message(mute_until))
    room.personal(connection, first, missed or [])
    if claims.is_staff:
        return room, connection
    hub.buffer.add_event(
        claims,
        live_session_id,
        "live_enter",
        {"source_code": claims.source_code, "share_code": claims.share_code, "role": claims.role},
    )
    hub.buffer.viewer_entered(claims, live_session_id)
    return room, connection


async def _serve(hub: RoomHub, room: Room, connection: Connection) -> str:
    """Read frames until the viewer leaves; returns why the loop ended."""
    websocket = connection.websocket
    window_start, frames, bad = time.monotonic(), 0, 0
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return "disconnected"
        now = time.monotonic()
        connection.last_received = now
        if connection.closing:
            continue
        frames += 1
        if now - window_start > FLOOD_WINDOW_S:
            window_start, frames = now, 1
        if frames > FLOOD_FRAMES:
            connection.close_soon(*p.CLOSE_FLOOD)
            continue
        try:
            frame = p.parse_client_frame(message.get("text") or message.get("bytes") or b"")
            _handle(hub, room, connection, frame)
        except p.ProtocolError as error:
            bad += 1
            if bad > MAX_BAD_FRAMES:
                connection.close_soon(*p.CLOSE_FLOOD)
                continue
            room.personal(connection, [p.system_message(error.code, error.text)])


def _say(room: Room, connection: Connection, code: str) -> None:
    room.personal(connection, [p.system_message(code, p.SYSTEM_TEXTS[code])])


def _handle(hub: RoomHub, room: Room, connection: Connection, frame: p.ClientFrame) -> None:
    claims, data = connection.claims, frame.data
    if frame.type == "ping":
        room.personal(connection, [{"type": "pong"}])
    elif frame.type == "join":
        _say(room, connection, "already_joined")
    elif frame.type == "comment":
        _comment(hub, room, connection, data["text"], data["client_id"])
    elif frame.type == "like":
        room.add_likes(connection, data["count"])
    elif frame.type == "gift":
        room.submit(
            {
                "type": "gift",
                "user": hub.public_user(claims),
                "gift": data["gift"],
                "count": data["count"],
            }
        )
        hub.buffer.add_event(
            claims, room.id, "live_gift", {"gift": data["gift"], "count": data["count"]}
        )
    elif frame.type == "product_click":
        product_id = data["product_id"]
        hub.buffer.add_event(
            claims, room.id, "live_product_click", {"product_id": product_id}, product_id=product_id
        )


def _comment(hub: RoomHub, room: Room, connection: Connection, text: str, client_id: str) -> None:
    staff = connection.claims.is_staff
    if not staff:
        if not room.state.get("comments_enabled", True):
            _say(room, connection, "comments_off")
            return
        if connection.muted_until is not None:
            if connection.muted_until > time.time():
                until = connection.muted_until
                iso = None if until == float("inf") else _iso(until)
                room.personal(connection, [muted_message(iso)])
                return
            connection.muted_until = None
        if not connection.comments.take():
            _say(room, connection, "rate_limited")
            return
    masked = False
    if room.word_filter is not None:
        result = room.word_filter.check(text)
        if result.blocked:
            hub.buffer.add_event(
                connection.claims,
                room.id,
                "live_comment",
                {"text": text, "comment_id": "", "shown": False, "blocked": True},
            )
            _say(room, connection, "comment_blocked")
            return
        masked = result.text != text
        text = result.text
    msg = room.new_comment(connection, text, client_id)
    shown = room.submit(msg, always_show=staff)
    hub.buffer.add_event(
        connection.claims,
        room.id,
        "live_comment",
        {"text": text, "comment_id": msg["id"], "shown": shown, "masked": masked},
    )
    hub.buffer.viewer_seen(connection.claims, room.id, comments=1)
    _lottery_entry(room, connection, text)


def _lottery_entry(room: Room, connection: Connection, text: str) -> None:
    """A comment (with the keyword) enters the room's running comment lottery: the draw reads
    it from the events; the viewer is told now, once (docs/live-protocol.md lottery_entry)."""
    card = room.promotions.cards.get("lottery")
    if not card or card.get("state") != "running" or connection.claims.is_staff:
        return
    condition = card.get("condition") or {}
    kind = condition.get("kind")
    if kind not in ("comment", "keyword") or connection.entered_lottery == card.get("id"):
        return
    if kind == "keyword" and str(condition.get("keyword") or "") not in text:
        return
    if promotions.is_past(card.get("ends_at")):
        return
    entered = connection.claims.customer_id is not None
    message: dict[str, Any] = {
        "type": "lottery_entry",
        "lottery_id": card.get("id"),
        "entered": entered,
    }
    if entered:
        connection.entered_lottery = card.get("id")
    else:
        message["code"] = "customer_required"
    room.personal(connection, [message])


def _iso(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


# A plain Starlette route: the app-wide HTTP dependencies (query-number checks) do not apply
# to a socket, and FastAPI would run them with no Request to give.
router = APIRouter()
router.routes.append(WebSocketRoute("/ws/live/{live_session_id:int}", live_socket))
