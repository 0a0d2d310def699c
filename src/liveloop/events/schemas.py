"""API shapes of behaviour events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from liveloop.core.schemas import OutModel, StrictModel
from liveloop.events.items import MAX_BATCH


class EventBatchIn(StrictModel):
    """Items are checked one by one by the service (a bad item must not sink the batch), so
    here they are only 'JSON values'; see `IngestOut.errors` for what was refused."""

    events: list[Any] = Field(
        max_length=MAX_BATCH,
        description=(
            "Up to 1,000 events: {type, customer_id | identity {channel, value} | anonymous_id, "
            "live_session_id?, product_id?, properties? (object, ≤ 16 KB), occurred_at? "
            "(ISO 8601 with zone, ≤ 5 min ahead; default now), client_event_id? (≤ 64)}"
        ),
    )


class ItemErrorOut(OutModel):
    index: int
    code: str
    message: str
    field: str


class IngestOut(OutModel):
    accepted: int = Field(description="Stored now.")
    duplicates: int = Field(description="Client event id already seen; stored once.")
    errors: list[ItemErrorOut] = Field(description="Refused items, by index in the batch.")


class EventOut(OutModel):
    id: int
    type: str
    customer_id: int | None
    anonymous_id: str | None
    live_session_id: int | None
    product_id: int | None
    properties: dict[str, Any]
    occurred_at: dt.datetime
    received_at: dt.datetime
    client_event_id: str | None
