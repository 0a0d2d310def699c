"""The hub and room inside one process: frames encoded once, comment sampling, history and
resume, sequence gaps, and the slow-viewer policy on a real socket that stops reading."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocketState

from liveloop.core.bus import MemoryBus
from liveloop.core.settings import Settings
from liveloop.live import protocol as p
from liveloop.live import ws
from liveloop.live.hub import RoomHub
from liveloop.live.room import Room
from liveloop.live.viewers import ROLE_STAFF, ViewerClaims
from tests.factories.live import make_live_session


class BoundDatabase:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        nested = await self.session.begin_nested()
        try:
            yield self.session
            await nested.commit()
        except BaseException:
            await nested.rollback()
            raise


class Collector:
    """A room peer that keeps the frames it is given (the room's side of a connection)."""

    def __init__(self, claims: ViewerClaims) -> None:
        self.claims = claims
        self.muted_until: float | None = None
        self.last_received = 0.0
        self.pending_likes = 0
        self.frames: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def send_frame(self, full: bytes, control: bytes | None) -> None:
        self.frames.append(full)

    def close_soon(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def msgs(self) -> list[dict[str, Any]]:
        return [m for f in self.frames for m in json.loads(f)["msgs"]]


def _claims(shop_id: int, room_id: int, device: str, *, staff: bool = False) -> ViewerClaims:
    return ViewerClaims(
        shop_id=shop_id,
        live_session_id=room_id,
        customer_id=None,
        device_id=device,
        name=device,
        role=ROLE_STAFF if staff else "viewer",
        staff_id=1 if staff else None,
    )


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(500):  # bounded wait for the room's own loops, not a timing assertion
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the room never got there")


@pytest.fixture
async def room(
    session: AsyncSession, shop: Any, settings: Settings
) -> AsyncIterator[tuple[RoomHub, Room]]:
    live = await make_live_session(session, shop_id=shop.id, status="live")
    hub = RoomHub(
        bus=MemoryBus(),
        database=BoundDatabase(session),  # type: ignore[arg-type]
        settings=settings.model_copy(update={"bus_backend": "memory"}),
    )
    opened = await hub.open_room(live.id)
    assert opened is not None
    try:
        yield hub, opened
    finally:
        await hub.stop()


async def test_frames_are_encoded_once_and_comments_sampled_for_viewers(
    room: tuple[RoomHub, Room],
) -> None:
    _, the_room = room
    viewers = [Collector(_claims(the_room.shop_id, the_room.id, f"v{i}")) for i in range(3)]
    staff = Collector(_claims(the_room.shop_id, the_room.id, "anchor", staff=True))
    for peer in [*viewers, staff]:
        the_room.add(peer)
    talker = viewers[0]
    shown = [
        the_room.submit(the_room.new_comment(talker, f"第{i}条", ""))  # type: ignore[arg-type]
        for i in range(100)
    ]
    the_room.submit(the_room.new_comment(staff, "主播说话", ""), always_show=True)  # type: ignore[arg-type]
    the_room.submit({"type": "announcement", "text": "公告"})
    await _until(lambda: any(m.get("text") == "公告" for m in viewers[0].msgs()))
    await _until(lambda: len([m for m in staff.msgs() if m["type"] == "comment"]) == 101)

    # One frame object for every viewer: encoded once, never per viewer.
    assert all(len(v.frames) == len(viewers[0].frames) for v in viewers)
    for frames in zip(*(v.frames for v in viewers), strict=True):
        assert all(frame is frames[0] for frame in frames)
    assert len(viewers[0].frames) < 101  # batched into frames, not one per message
    seen = [m for m in viewers[0].msgs() if m["type"] == "comment"]
    assert len(seen) == shown.count(True) + 1 < 100  # sampled to a readable rate, + the anchor
    assert "主播说话" in [m["text"] for m in seen]  # staff always shown
    assert all("author" not in m for m in seen)
    assert all("author" in m for m in staff.msgs() if m["type"] == "comment")
    seqs = [json.loads(f)["seq"] for f in staff.frames]
    assert seqs == sorted(seqs) and seqs[-1] == the_room.delivered_seq


async def test_resume_from_history_or_a_snapshot_when_it_is_gone(
    room: tuple[RoomHub, Room],
) -> None:
    _, the_room = room
    the_room.history = deque(maxlen=5)
    watcher = Collector(_claims(the_room.shop_id, the_room.id, "w"))
    the_room.add(watcher)
    start = the_room.delivered_seq
    for i in range(8):
        the_room.submit({"type": "announcement", "text": f"公告{i}"})
    await _until(lambda: the_room.delivered_seq == start + 8)
    missed = the_room.missed_since(start + 6, staff=False)
    assert [json.loads(m)["text"] for m in missed or []] == ["公告6", "公告7"]
    assert the_room.missed_since(start + 8, staff=False) == []
    assert the_room.missed_since(start + 1, staff=False) is None  # history starts at +4
    assert the_room.missed_since(start + 100, staff=False) is None
    assert the_room.snapshot()["state"]["announcement"] == "公告7"


async def test_messages_wait_for_a_sequence_gap_then_skip_it(room: tuple[RoomHub, Room]) -> None:
    _, the_room = room
    watcher = Collector(_claims(the_room.shop_id, the_room.id, "w"))
    the_room.add(watcher)
    base = the_room.delivered_seq
    the_room.accept_remote(base + 2, [[{"type": "announcement", "text": "二"}, True]])
    await asyncio.sleep(0.15)
    assert watcher.msgs() == []  # waiting for base + 1
    the_room.accept_remote(base + 1, [[{"type": "announcement", "text": "一"}, True]])
    await _until(lambda: len(watcher.msgs()) == 2)
    assert [m["text"] for m in watcher.msgs()] == ["一", "二"]

    the_room.accept_remote(base + 4, [[{"type": "announcement", "text": "四"}, True]])
    await _until(lambda: len(watcher.msgs()) == 3)  # base + 3 never comes: skipped
    assert watcher.msgs()[-1]["text"] == "四" and the_room.delivered_seq == base + 4


async def test_moderation_messages_act_on_matching_connections_only(
    room: tuple[RoomHub, Room],
) -> None:
    hub, the_room = room
    target = Collector(_claims(the_room.shop_id, the_room.id, "bad-device"))
    bystander = Collector(_claims(the_room.shop_id, the_room.id, "good-device"))
    the_room.add(target)
    the_room.add(bystander)
    await hub.publish(
        the_room.id,
        {"type": "_moderation", "action": "mute", "customer_id": None,
         "device_id": "bad-device", "until": None, "reason": ""},
    )  # fmt: skip
    assert target.muted_until == float("inf") and bystander.muted_until is None
    assert target.msgs()[-1]["code"] == "muted"
    await hub.publish(
        the_room.id,
        {"type": "_moderation", "action": "kick", "customer_id": None,
         "device_id": "bad-device", "until": None, "reason": ""},
    )  # fmt: skip
    assert target.closed == p.CLOSE_KICKED and bystander.closed is None
    assert bystander.msgs() == []


# -- the slow-viewer policy on a real socket ---------------------------------------------------


class StubWebSocket:
    """The ASGI side of a connection (only closing is used when writing to the transport)."""

    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.closed_with: tuple[int, str] | None = None

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)

    async def send_text(self, text: str) -> None:
        raise AssertionError("frames go straight to the transport")


def _parse_server_frames(data: bytes) -> list[dict[str, Any]]:
    """The messages of the complete server frames at the start of `data` (RFC 6455 §5.2)."""
    msgs, offset = [], 0
    while offset + 2 <= len(data):
        length, header = data[offset + 1] & 0x7F, 2
        if length == 126:
            header = 4
        elif length == 127:
            header = 10
        if offset + header > len(data):
            break
        if length == 126:
            (length,) = struct.unpack("!H", data[offset + 2 : offset + 4])
        elif length == 127:
            (length,) = struct.unpack("!Q", data[offset + 2 : offset + 10])
        start = offset + header
        if start + length > len(data):
            break  # the rest of this frame has not arrived yet
        msgs.extend(json.loads(data[start : start + length])["msgs"])
        offset = start + length
    return msgs


async def test_a_slow_viewer_loses_comments_not_control_messages_then_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accepted: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await accepted.put(reader)

    server = await asyncio.start_server(hold, "127.0.0.1", 0, limit=2**24)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    reader = await accepted.get()
    websocket = StubWebSocket()
    claims = _claims(1, 1, "slow")
    connection = ws.Connection(websocket, claims, transport=transport)  # type: ignore[arg-type]
    try:
        chatter = "好" * 700
        for i in range(300):
            stock = p.dumps({"type": "product_stock", "product_id": 7, "sku_id": 9, "stock": i})
            comment = p.dumps({"type": "comment", "id": f"c{i}", "text": chatter})
            connection.send_frame(p.encode_frame(i, [comment, stock]), p.encode_frame(i, [stock]))
        assert connection.dropped > 0 and websocket.closed_with is None

        received = b""
        while True:  # the viewer catches up: everything queued reaches it, in order
            received += await asyncio.wait_for(reader.read(2**20), 10)
            msgs = _parse_server_frames(received) if received else []
            stocks = [m["stock"] for m in msgs if m["type"] == "product_stock"]
            if len(stocks) == 300:
                break
        assert stocks == list(range(300))
        comments = [m for m in msgs if m["type"] == "comment"]
        assert 0 < len(comments) == 300 - connection.dropped

        # Stuck for longer than the policy allows: closed with 4408 and a reason.
        monkeypatch.setattr(ws, "STUCK_S", 0.0)
        monkeypatch.setattr(ws, "CLOSE_GRACE_S", 0.05)
        for i in range(300):
            frame = p.encode_frame(i, [p.dumps({"type": "comment", "text": chatter})])
            connection.send_frame(frame, None)
            if connection.closing:
                break
        await _until(lambda: websocket.closed_with is not None)
        assert websocket.closed_with == p.CLOSE_TOO_SLOW
        await _until(transport.is_closing)
    finally:
        transport.abort()
        server.close()


async def test_silent_viewers_are_timed_out(room: tuple[RoomHub, Room]) -> None:
    hub, the_room = room
    silent = Collector(_claims(the_room.shop_id, the_room.id, "silent"))
    talking = Collector(_claims(the_room.shop_id, the_room.id, "talking"))
    talking.last_received = asyncio.get_running_loop().time() + 10**6
    the_room.add(silent)
    the_room.add(talking)
    await hub.housekeeping(the_room)
    assert silent.closed == p.CLOSE_IDLE and talking.closed is None
