"""Behaviour events: batched ingestion with per-item errors, and reads for timelines."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, bindparam, delete, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.realtime import rollups
from liveloop.core.database import Page, after_commit, paginate, scoped, utcnow
from liveloop.core.errors import InvalidInput, LiveLoopError, NotFound
from liveloop.core.metrics import EVENTS_INGESTED
from liveloop.customers import service as customers_service
from liveloop.customers.models import STATUS_DELETED, Customer
from liveloop.events.items import MAX_BATCH, CheckedItem, ItemError, check_item
from liveloop.events.models import Event
from liveloop.events.store import Row, insert_event_rows

__all__ = [
    "MAX_BATCH",
    "IngestResult",
    "customer_timeline",
    "delete_customer_events",
    "get_event",
    "ingest_events",
    "list_events",
]


# last_active_at is kept to this precision (see `_mark_active`).
ACTIVITY_GRANULARITY = dt.timedelta(minutes=5)


@dataclass
class IngestResult:
    """`accepted` were stored, `duplicates` had a client event id already seen (stored once),
    `errors` were refused, by index into the batch; the three add up to the batch size."""

    accepted: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


async def ingest_events(
    *,
    session: AsyncSession,
    shop_id: int,
    items: Sequence[Any],
    mark_customers_active: bool = True,
) -> IngestResult:
    """Check and store up to 1,000 raw event dicts (the JSON items of `POST /api/v1/events`).

    A bad item is reported by index and the others are stored. Each item names who acted by
    `customer_id` (of this shop), `identity` {channel, value} (resolved, a new customer created
    when unknown) or `anonymous_id`. A `client_event_id` seen before in this shop, in this batch
    or earlier, is counted as a duplicate and stored once. Customers seen get their
    last_active_at moved forward unless `mark_customers_active` is False.
    """
    if len(items) > MAX_BATCH:
        raise InvalidInput(
            f"a batch holds at most {MAX_BATCH} events (got {len(items)}); split it",
            code="batch_too_large",
            field="events",
        )
    result = IngestResult()
    now = utcnow()
    checked: list[tuple[int, CheckedItem]] = []
    seen_ids: set[str] = set()
    for index, item in enumerate(items):
        try:
            event = check_item(item, now)
        except ItemError as error:
            result.errors.append(error.as_dict(index))
            continue
        if event.client_event_id is not None:
            if event.client_event_id in seen_ids:
                result.duplicates += 1
                continue
            seen_ids.add(event.client_event_id)
        checked.append((index, event))

    checked, activity = await _attach_customers(
        session, shop_id=shop_id, checked=checked, result=result
    )
    rows: list[Row] = [
        (
            shop_id,
            e.type,
            e.customer_id,
            e.anonymous_id,
            e.live_session_id,
            e.product_id,
            e.properties,
            e.occurred_at,
            now,
            e.client_event_id,
        )
        for _, e in checked
    ]
    room = [row for row in rows if _in_room(row)]
    keyed = any(row[9] is not None for row in room)
    stored_before = await _stored_client_ids(session, shop_id, rows) if keyed else set()
    inserted = await insert_event_rows(session, rows)
    if room:
        # The live dashboard's rollups take the room events now, in this transaction. Fewer
        # rows inserted than were new a moment ago: a concurrent batch stored some of the same
        # client ids first, and which of ours it took is not known, so the sessions are
        # rebuilt instead (never folded twice).
        new = [row for row in rows if row[9] is None or row[9] not in stored_before]
        await rollups.fold_ingested(
            session,
            shop_id=shop_id,
            rows=[row for row in new if _in_room(row)],
            complete=inserted == len(new),
        )
    result.accepted = inserted
    result.duplicates += len(rows) - inserted
    result.errors.sort(key=lambda error: error["index"])
    if mark_customers_active:
        await _mark_active(session, shop_id=shop_id, checked=checked, activity=activity)
    if inserted:
        after_commit(session, lambda: EVENTS_INGESTED.inc(inserted))
    return result


def _in_room(row: Row) -> bool:
    """A room event of a live session: the dashboard's rollups fold it."""
    return row[4] is not None and row[1] in rollups.ROOM_TYPES


async def _stored_client_ids(session: AsyncSession, shop_id: int, rows: list[Row]) -> set[str]:
    """The client event ids of these rows already stored (duplicates the insert will skip)."""
    ids = sorted({row[9] for row in rows if row[9] is not None})
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        statement = select(Event.client_event_id).where(
            Event.shop_id == shop_id, Event.client_event_id.in_(ids[start : start + 500])
        )
        found.update(str(value) for (value,) in await session.execute(statement))
    return found


async def _attach_customers(
    session: AsyncSession,
    *,
    shop_id: int,
    checked: list[tuple[int, CheckedItem]],
    result: IngestResult,
) -> tuple[list[tuple[int, CheckedItem]], dict[int, dt.datetime | None]]:
    """Resolve identities to customer ids and check customer ids belong to this shop; items
    that fail move to `result.errors`. Also returns each customer's last_active_at."""
    identities = {e.identity for _, e in checked if e.identity is not None}
    refused: dict[tuple[str, str], LiveLoopError] = {}
    for channel, value in identities:
        try:
            customers_service.normalize_identity(channel, value)
        except LiveLoopError as error:
            refused[(channel, value)] = error
    resolved: dict[tuple[str, str], int] = {}
    if len(refused) < len(identities):
        resolved = await customers_service.resolve_identities(
            session=session,
            shop_id=shop_id,
            identities=sorted(identities - refused.keys()),
            create_missing=True,
        )
    given = {e.customer_id for _, e in checked if e.customer_id is not None}
    activity = await _customer_activity(
        session, shop_id=shop_id, customer_ids=given | set(resolved.values())
    )
    kept: list[tuple[int, CheckedItem]] = []
    for index, event in checked:
        if event.identity is not None:
            if event.identity in refused:
                cause = refused[event.identity]
                result.errors.append(
                    ItemError("identity.value", cause.code, cause.message).as_dict(index)
                )
                continue
            event.customer_id = resolved[event.identity]
        elif event.customer_id is not None and event.customer_id not in activity:
            result.errors.append(
                ItemError(
                    "customer_id",
                    "customer_not_found",
                    f"customer {event.customer_id} was not found",
                ).as_dict(index)
            )
            continue
        kept.append((index, event))
    return kept, activity


async def _customer_activity(
    session: AsyncSession, *, shop_id: int, customer_ids: set[int]
) -> dict[int, dt.datetime | None]:
    """{customer id: last_active_at} for those of `customer_ids` that are this shop's
    customers and not deleted.

    One read of two columns of `customers`, with the ids as one array (PostgreSQL) or one
    JSON parameter (SQLite): the customers service offers no bulk check this cheap, and an
    IN list of ~1,000 parameters costs more to compile than the whole query takes to run.
    """
    if not customer_ids:
        return {}
    ids = sorted(customer_ids)
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # IN (SELECT unnest(array)): a semi-join, never `= ANY(array)` tested row by row.
        id_filter = Customer.id.in_(
            select(func.unnest(bindparam("ids", ids, type_=ARRAY(BigInteger))))
        )
    else:
        id_filter = Customer.id.in_(
            select(literal_column("value")).select_from(func.json_each(json.dumps(ids)))
        )
    statement = scoped(Customer, shop_id, Customer.id, Customer.last_active_at).where(
        id_filter, Customer.status != STATUS_DELETED
    )
    return {customer_id: at for customer_id, at in await session.execute(statement)}


async def _mark_active(
    session: AsyncSession,
    *,
    shop_id: int,
    checked: list[tuple[int, CheckedItem]],
    activity: dict[int, dt.datetime | None],
) -> None:
    """Move last_active_at forward, to the minute-ish: a customer already marked active less
    than ACTIVITY_GRANULARITY before their latest event here is left alone, so a live room's
    regulars cost one UPDATE every few minutes, not one per batch."""
    latest: dict[int, dt.datetime] = {}
    for _, event in checked:
        customer_id = event.customer_id
        if customer_id is not None:
            seen = latest.get(customer_id)
            if seen is None or event.occurred_at > seen:
                latest[customer_id] = event.occurred_at
    stale = {}
    for customer_id, at in latest.items():
        marked = activity.get(customer_id)
        if marked is None or marked < at - ACTIVITY_GRANULARITY:
            stale[customer_id] = at
    if stale:
        await customers_service.mark_customers_active(
            session=session, shop_id=shop_id, activity=stale
        )


async def get_event(*, session: AsyncSession, shop_id: int, event_id: int) -> Event:
    event = (
        await session.execute(scoped(Event, shop_id).where(Event.id == event_id))
    ).scalar_one_or_none()
    if event is None:
        raise NotFound(f"event {event_id} was not found", code="event_not_found", field="id")
    return event


def _filtered(
    shop_id: int,
    *,
    customer_ids: Sequence[int] | None,
    types: Sequence[str] | None,
    live_session_id: int | None,
    product_id: int | None,
    anonymous_id: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> Any:
    statement = scoped(Event, shop_id)
    if customer_ids is not None:
        statement = statement.where(Event.customer_id.in_(list(customer_ids)))
    if types:
        statement = statement.where(Event.type.in_(list(types)))
    if live_session_id is not None:
        statement = statement.where(Event.live_session_id == live_session_id)
    if product_id is not None:
        statement = statement.where(Event.product_id == product_id)
    if anonymous_id is not None:
        statement = statement.where(Event.anonymous_id == anonymous_id)
    if since is not None:
        statement = statement.where(Event.occurred_at >= since)
    if until is not None:
        statement = statement.where(Event.occurred_at < until)
    return statement


async def list_events(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_ids: Sequence[int] | None = None,
    types: Sequence[str] | None = None,
    live_session_id: int | None = None,
    product_id: int | None = None,
    anonymous_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Event]:
    """Events of the shop, newest first; `since` is inclusive, `until` exclusive."""
    statement = _filtered(
        shop_id,
        customer_ids=customer_ids,
        types=types,
        live_session_id=live_session_id,
        product_id=product_id,
        anonymous_id=anonymous_id,
        since=since,
        until=until,
    ).order_by(Event.occurred_at.desc(), Event.id.desc())
    return await paginate(session, statement, page=page, per_page=per_page)


async def customer_timeline(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_ids: Sequence[int],
    limit: int = 50,
    before_id: int | None = None,
    types: Sequence[str] | None = None,
) -> list[Event]:
    """What these customers did (pass every id merged into one person), newest first.

    Keyset pages: pass the id of the last event shown as `before_id` for the next page.
    """
    if not customer_ids:
        return []
    statement = _filtered(
        shop_id,
        customer_ids=customer_ids,
        types=types,
        live_session_id=None,
        product_id=None,
        anonymous_id=None,
        since=None,
        until=None,
    )
    if before_id is not None:
        cursor = (
            await session.execute(
                scoped(Event, shop_id, Event.occurred_at).where(Event.id == before_id)
            )
        ).scalar_one_or_none()
        if cursor is None:
            raise NotFound(
                f"event {before_id} was not found", code="event_not_found", field="before_id"
            )
        statement = statement.where(tuple_(Event.occurred_at, Event.id) < tuple_(cursor, before_id))
    statement = statement.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(
        min(max(limit, 1), 500)
    )
    return list((await session.execute(statement)).scalars())


async def delete_customer_events(
    *, session: AsyncSession, shop_id: int, customer_ids: Sequence[int]
) -> int:
    """Erase what these customers did (a customer's erasure request); returns rows deleted."""
    if not customer_ids:
        return 0
    result = await session.execute(
        delete(Event)
        .where(Event.shop_id == shop_id, Event.customer_id.in_(list(customer_ids)))
        .execution_options(synchronize_session=False)
    )
    await rollups.mark_shop_for_rebuild(session, shop_id=shop_id)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def shift_events(
    *,
    session: AsyncSession,
    shop_id: int,
    client_event_ids: Sequence[str],
    shift: dt.timedelta,
) -> int:
    """Move these events in time (demo history and back-dated imports, whose events were
    recorded as they were written); returns rows moved."""
    if not client_event_ids:
        return 0
    # Row by row: date arithmetic in SQL differs between SQLite (text) and PostgreSQL.
    statement = select(Event).where(
        Event.shop_id == shop_id, Event.client_event_id.in_(list(client_event_ids))
    )
    moved = 0
    for found in (await session.execute(statement)).scalars():
        found.occurred_at = found.occurred_at + shift
        moved += 1
    await session.flush()
    if moved:
        await rollups.mark_shop_for_rebuild(session, shop_id=shop_id)
    return moved
