"""Factories of the events domain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.events import service as events_service

__all__ = ["make_events"]


async def make_events(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_id: int | None = None,
    types: Sequence[str] = ("view", "like", "comment"),
    n: int = 3,
    live_session_id: int | None = None,
    product_id: int | None = None,
    start: dt.datetime | None = None,
    step: dt.timedelta = dt.timedelta(seconds=1),
) -> Any:
    """`n` events, types taken in turn, one `step` apart ending at `start` (default now - n
    steps); anonymous when no customer_id. Returns the IngestResult."""
    first = start or utcnow() - step * n
    items: list[dict[str, Any]] = []
    for index in range(n):
        item: dict[str, Any] = {
            "type": types[index % len(types)],
            "occurred_at": (first + step * index).isoformat(),
            "properties": {"n": index},
        }
        if customer_id is not None:
            item["customer_id"] = customer_id
        else:
            item["anonymous_id"] = "factory-visitor"
        if live_session_id is not None:
            item["live_session_id"] = live_session_id
        if product_id is not None:
            item["product_id"] = product_id
        items.append(item)
    result = await events_service.ingest_events(session=session, shop_id=shop_id, items=items)
    assert not result.errors, result.errors
    return result
