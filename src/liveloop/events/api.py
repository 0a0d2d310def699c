"""JSON routes of behaviour events: batch ingestion and listing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput
from liveloop.core.schemas import PageOut
from liveloop.events import service
from liveloop.events.schemas import EventBatchIn, EventOut, IngestOut
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["events"], dependencies=[Depends(current_actor)])

EventsReader = Annotated[Actor, requires(P.EVENTS_READ)]
EventsWriter = Annotated[Actor, requires(P.EVENTS_WRITE)]


@router.post("/events", response_model=IngestOut)
async def ingest_events(data: EventBatchIn, session: DbSession, actor: EventsWriter) -> IngestOut:
    """Store a batch; bad items come back by index in `errors` and the rest are stored."""
    result = await service.ingest_events(session=session, shop_id=actor.shop_id, items=data.events)
    return IngestOut.model_validate(result)


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(
            f"{field} needs a time zone, e.g. 2024-05-01T20:00:00+08:00", field=field
        )
    return value


@router.get("/events", response_model=PageOut[EventOut])
async def list_events(
    session: DbSession,
    actor: EventsReader,
    customer_id: Annotated[list[int] | None, Query()] = None,
    type: Annotated[list[str] | None, Query()] = None,
    live_session_id: int | None = None,
    product_id: int | None = None,
    anonymous_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PageOut[EventOut]:
    """Newest first; repeat `customer_id` or `type` to match any of several."""
    result = await service.list_events(
        session=session,
        shop_id=actor.shop_id,
        customer_ids=customer_id,
        types=type,
        live_session_id=live_session_id,
        product_id=product_id,
        anonymous_id=anonymous_id,
        since=_aware(since, "since"),
        until=_aware(until, "until"),
        page=page,
        per_page=per_page,
    )
    return PageOut[EventOut].of(result, EventOut)


@router.get("/events/{event_id}", response_model=EventOut)
async def get_event(event_id: int, session: DbSession, actor: EventsReader) -> EventOut:
    return EventOut.model_validate(
        await service.get_event(session=session, shop_id=actor.shop_id, event_id=event_id)
    )
