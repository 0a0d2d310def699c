"""The room's wire format (docs/live-protocol.md): client frames in, server messages and frames out.

Server messages are encoded to JSON once, as bytes, when they enter a room; a frame is the
concatenation of already-encoded messages, so fan-out never re-encodes per viewer. The raw
WebSocket frame header is built here too, for writing one encoded frame to many sockets.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any

import orjson

# Limits (the numbers the docs promise).
MAX_FRAME_BYTES = 4096
MAX_COMMENT_CHARS = 200
MAX_LIKES_PER_FRAME = 100
MAX_GIFTS_PER_FRAME = 99
JOIN_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 60.0

# Close codes (docs §6): (code, reason text).
CLOSE_GOING_AWAY = (1001, "going_away")
CLOSE_JOIN_REQUIRED = (4000, "join_required")
CLOSE_TOKEN_INVALID = 4001
CLOSE_BANNED = (4003, "banned")
CLOSE_NOT_FOUND = (4004, "not_found")
CLOSE_KICKED = (4008, "kicked")
CLOSE_ENDED = (4010, "ended")
CLOSE_IDLE = (4012, "idle")
CLOSE_FLOOD = (4029, "flood")
CLOSE_TOO_SLOW = (4408, "too_slow")

_GIFT_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")
CLIENT_TYPES = frozenset({"join", "comment", "like", "gift", "product_click", "ping"})
# Messages that may be sampled out or dropped for a slow viewer; everything else is control.
DROPPABLE_TYPES = frozenset({"comment"})


class ProtocolError(Exception):
    """A bad client frame: answered with a `system` message of this code, socket kept."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass(frozen=True)
class ClientFrame:
    type: str
    data: dict[str, Any]


def _int_field(data: dict[str, Any], name: str, low: int, high: int) -> int:
    value = data.get(name)
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError(
            "bad_frame", f"{name} must be a whole number from {low} to {high} (got {value!r})"
        )
    return value


def _str_field(data: dict[str, Any], name: str, max_len: int, *, required: bool = True) -> str:
    value = data.get(name, None if required else "")
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ProtocolError("bad_frame", f"{name} must be a string")
    if len(value) > max_len:
        raise ProtocolError("bad_frame", f"{name} is at most {max_len} characters")
    return value


def parse_client_frame(raw: str | bytes) -> ClientFrame:
    """Check one client frame against docs §2; `ProtocolError` says what is wrong."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_FRAME_BYTES:
        raise ProtocolError(
            "too_long", f"a frame is at most {MAX_FRAME_BYTES} bytes (this one is {size})"
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError("bad_frame", "the frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_frame", "a frame must be a JSON object")
    kind = data.get("type")
    if kind not in CLIENT_TYPES:
        raise ProtocolError("unknown_type", f"unknown frame type {kind!r}")
    if kind == "join":
        _str_field(data, "token", 2048)
        last_seq = data.get("last_seq")
        if last_seq is not None and (type(last_seq) is not int or last_seq < 0):
            raise ProtocolError("bad_frame", "last_seq must be a whole number or null")
    elif kind == "comment":
        text = _str_field(data, "text", MAX_FRAME_BYTES).strip()
        if not text:
            raise ProtocolError("empty", "the comment is empty")
        if len(text) > MAX_COMMENT_CHARS:
            raise ProtocolError(
                "too_long",
                f"a comment is at most {MAX_COMMENT_CHARS} characters (this one is {len(text)})",
            )
        data["text"] = text
        data["client_id"] = _str_field(data, "client_id", 64, required=False)
    elif kind == "like":
        _int_field(data, "count", 1, MAX_LIKES_PER_FRAME)
    elif kind == "gift":
        gift = _str_field(data, "gift", 32)
        if not _GIFT_CODE.fullmatch(gift):
            raise ProtocolError(
                "bad_frame", "gift must be a gift code: lower-case letters, digits and '_'"
            )
        _int_field(data, "count", 1, MAX_GIFTS_PER_FRAME)
    elif kind == "product_click":
        _int_field(data, "product_id", 1, 2**63 - 1)
    return ClientFrame(kind, data)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (Chinese kept as is: a third of the bytes of \\u escapes)."""
    return orjson.dumps(value)


def encode_frame(seq: int, encoded_msgs: list[bytes]) -> bytes:
    """`{"seq":N,"msgs":[...]}` from messages encoded once by `dumps`."""
    return b'{"seq":%d,"msgs":[%b]}' % (seq, b",".join(encoded_msgs))


def websocket_text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented, uncompressed server text frame (RFC 6455 §5.2).

    Uncompressed frames are valid even when permessage-deflate was negotiated (RFC 7692 §6:
    RSV1 clear means the message is not compressed)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload


def system_message(code: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "system", "code": code, "text": text, **extra}


# System texts: Chinese for the room, English after it for integrators and English speakers.
SYSTEM_TEXTS = {
    "muted": "你已被禁言 / you are muted",
    "unmuted": "你已被解除禁言 / you may comment again",
    "kicked": "你已被移出直播间 / you were removed from the room",
    "banned": "你已被禁止进入直播间 / you are banned from this room",
    "rate_limited": "发言太快了，请稍后再试 / at most 1 comment per second (burst 3)",
    "comment_blocked": "评论包含不允许的内容，未发送 / the comment contains a blocked word",
    "comments_off": "直播间已关闭评论 / comments are switched off in this room",
    "already_joined": "已经加入直播间 / this socket has already joined",
}
