"""Checking one incoming event item: plain Python, no model object per item.

Ingestion runs at 100,000 items/s, so each check here is a few dict lookups and type tests;
an item that fails raises `ItemError` naming its field, and the batch goes on without it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import orjson

from liveloop.events.models import KNOWN_TYPES, TYPE_PATTERN

MAX_BATCH = 1000
MAX_PROPERTIES_BYTES = 16 * 1024
MAX_FUTURE = dt.timedelta(minutes=5)
MAX_ID_LENGTH = 64
ITEM_FIELDS = frozenset(
    {
        "type",
        "customer_id",
        "identity",
        "anonymous_id",
        "live_session_id",
        "product_id",
        "properties",
        "occurred_at",
        "client_event_id",
    }
)

_type_pattern = re.compile(TYPE_PATTERN)
_valid_types: set[str] = set(KNOWN_TYPES)  # grows with custom types seen, so the regex runs once


class ItemError(Exception):
    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message

    def as_dict(self, index: int) -> dict[str, Any]:
        field = f"events[{index}].{self.field}" if self.field else f"events[{index}]"
        return {"index": index, "code": self.code, "message": self.message, "field": field}


@dataclass(slots=True)
class CheckedItem:
    """A valid item, in column order; `identity` is resolved to customer_id later."""

    type: str
    customer_id: int | None
    identity: tuple[str, str] | None
    anonymous_id: str | None
    live_session_id: int | None
    product_id: int | None
    properties: str  # serialised JSON, ready for the database
    occurred_at: dt.datetime
    client_event_id: str | None


def _positive_id(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value <= 0:
        raise ItemError(name, "invalid_id", f"{name} must be a positive integer")
    return value


def _short_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if type(value) is not str or not value or len(value) > MAX_ID_LENGTH:
        raise ItemError(
            name, "invalid_string", f"{name} must be a string of 1 to {MAX_ID_LENGTH} characters"
        )
    if "\x00" in value:
        raise ItemError(name, "invalid_character", f"{name} contains a NUL character (\\u0000)")
    return value


def _check_type(value: Any) -> str:
    if value is None:
        raise ItemError("type", "missing", "type is required")
    if type(value) is not str or not _type_pattern.fullmatch(value):
        raise ItemError(
            "type",
            "invalid_type",
            f"type {str(value)[:70]!r} must be lower-case letters, digits, '_' or '.', "
            "2 to 64 characters, starting with a letter",
        )
    if len(_valid_types) < 10_000:
        _valid_types.add(value)
    return value


def _check_identity(value: Any) -> tuple[str, str]:
    if type(value) is not dict or value.keys() != {"channel", "value"}:
        raise ItemError(
            "identity", "invalid_identity", "identity must be an object {channel, value}"
        )
    channel, raw = value["channel"], value["value"]
    if type(channel) is not str or type(raw) is not str or not raw:
        raise ItemError(
            "identity", "invalid_identity", "identity channel and value must be strings"
        )
    if "\x00" in channel or "\x00" in raw:
        raise ItemError(
            "identity", "invalid_character", "identity contains a NUL character (\\u0000)"
        )
    return channel, raw


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(str(k)) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _check_properties(value: Any) -> str:
    if value is None:
        return "{}"
    if type(value) is not dict:
        raise ItemError("properties", "invalid_properties", "properties must be a JSON object")
    try:
        encoded = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        raise ItemError("properties", "invalid_properties", f"properties are not JSON: {exc}")
    if b"\\u0000" in encoded and _has_nul(value):
        # PostgreSQL cannot store U+0000 in JSONB (nor in text): refused here, not at INSERT.
        raise ItemError(
            "properties", "invalid_character", "properties contain a NUL character (\\u0000)"
        )
    if len(encoded) > MAX_PROPERTIES_BYTES:
        raise ItemError(
            "properties",
            "properties_too_large",
            f"properties take {len(encoded) / 1024:.1f} KB as JSON; the limit is "
            f"{MAX_PROPERTIES_BYTES // 1024} KB",
        )
    return encoded.decode()


def _check_occurred_at(value: Any, now: dt.datetime) -> dt.datetime:
    if value is None:
        return now
    if type(value) is str:
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ItemError(
                "occurred_at",
                "invalid_datetime",
                "occurred_at must be an ISO 8601 time such as 2024-05-01T20:15:00+08:00",
            )
    elif not isinstance(value, dt.datetime):
        raise ItemError("occurred_at", "invalid_datetime", "occurred_at must be an ISO 8601 time")
    offset = value.utcoffset()
    if offset is None:
        raise ItemError(
            "occurred_at", "naive_datetime", "occurred_at needs a time zone (…Z or …+08:00)"
        )
    if offset or value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    if value > now + MAX_FUTURE:
        raise ItemError(
            "occurred_at",
            "occurred_in_future",
            "occurred_at is more than 5 minutes in the future; check the sender's clock",
        )
    return value


def check_item(item: Any, now: dt.datetime) -> CheckedItem:
    """Validate one raw item; raises ItemError naming the first wrong field."""
    if type(item) is not dict:
        raise ItemError("", "invalid_event", "each event must be a JSON object")
    if not item.keys() <= ITEM_FIELDS:
        unknown = sorted(str(key) for key in item.keys() - ITEM_FIELDS)[0]
        raise ItemError(unknown, "unknown_field", f"unknown field {unknown!r}")
    get = item.get
    event_type = get("type")
    if event_type not in _valid_types:
        event_type = _check_type(event_type)
    customer_id = _positive_id(get("customer_id"), "customer_id")
    identity = get("identity")
    if identity is not None:
        identity = _check_identity(identity)
        if customer_id is not None:
            raise ItemError(
                "identity", "ambiguous_customer", "send customer_id or identity, not both"
            )
    anonymous_id = _short_text(get("anonymous_id"), "anonymous_id")
    if customer_id is None and identity is None and anonymous_id is None:
        raise ItemError(
            "customer_id",
            "missing_customer",
            "an event needs customer_id, identity {channel, value} or anonymous_id",
        )
    return CheckedItem(
        event_type,
        customer_id,
        identity,
        anonymous_id,
        _positive_id(get("live_session_id"), "live_session_id"),
        _positive_id(get("product_id"), "product_id"),
        _check_properties(get("properties")),
        _check_occurred_at(get("occurred_at"), now),
        _short_text(get("client_event_id"), "client_event_id"),
    )
