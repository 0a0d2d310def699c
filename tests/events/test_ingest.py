"""Event ingestion: per-item errors, deduplication, identities, limits and bookkeeping."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from liveloop.core.database import utcnow
from liveloop.core.metrics import EVENTS_INGESTED
from liveloop.customers.models import Customer
from liveloop.events import service as events_service
from liveloop.events.models import Event
from tests import factories


async def _stored(session, shop_id: int) -> list[Event]:
    statement = select(Event).where(Event.shop_id == shop_id).order_by(Event.id)
    return list((await session.execute(statement)).scalars())


async def test_bad_items_come_back_by_index_and_good_ones_are_stored(
    client, session, shop, other_shop
) -> None:
    mine = await factories.make_customer(session, shop_id=shop.id)
    theirs = await factories.make_customer(session, shop_id=other_shop.id)
    future = (utcnow() + dt.timedelta(minutes=10)).isoformat()
    events = [
        {"type": "like", "customer_id": mine.id, "live_session_id": 7},  # 0 ok
        {"type": "Like!", "customer_id": mine.id},  # 1
        {"type": "view"},  # 2 nobody
        {"type": "view", "anonymous_id": "a1", "colour": "red"},  # 3
        {"type": "view", "anonymous_id": "a1", "occurred_at": future},  # 4
        {"type": "view", "anonymous_id": "a1", "occurred_at": "2024-05-01T20:00:00"},  # 5
        {"type": "view", "anonymous_id": "a1", "properties": {"x": "汉" * 6000}},  # 6
        {"type": "view", "anonymous_id": "a1", "properties": [1, 2]},  # 7
        {"type": "view", "customer_id": theirs.id},  # 8 another shop's customer
        "not an object",  # 9
        {"type": "view", "customer_id": "12"},  # 10
        {"type": "view", "anonymous_id": "a2", "client_event_id": "x" * 65},  # 11
        {"type": "live.gift_sent", "anonymous_id": "a3", "properties": {"礼物": "花"}},  # 12 ok
        {"type": "view", "anonymous_id": "a4", "occurred_at": "yesterday"},  # 13
    ]
    response = await client.post("/api/v1/events", json={"events": events})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert [(e["index"], e["code"], e["field"]) for e in body["errors"]] == [
        (1, "invalid_type", "events[1].type"),
        (2, "missing_customer", "events[2].customer_id"),
        (3, "unknown_field", "events[3].colour"),
        (4, "occurred_in_future", "events[4].occurred_at"),
        (5, "naive_datetime", "events[5].occurred_at"),
        (6, "properties_too_large", "events[6].properties"),
        (7, "invalid_properties", "events[7].properties"),
        (8, "customer_not_found", "events[8].customer_id"),
        (9, "invalid_event", "events[9]"),
        (10, "invalid_id", "events[10].customer_id"),
        (11, "invalid_string", "events[11].client_event_id"),
        (13, "invalid_datetime", "events[13].occurred_at"),
    ]
    assert all(error["message"] for error in body["errors"])
    stored = await _stored(session, shop.id)
    assert [(e.type, e.customer_id, e.live_session_id) for e in stored] == [
        ("like", mine.id, 7),
        ("live.gift_sent", None, None),
    ]
    assert stored[1].properties == {"礼物": "花"}
    assert stored[1].anonymous_id == "a3"


async def test_client_event_ids_are_stored_once(client, session, shop) -> None:
    first = [
        {"type": "view", "anonymous_id": "v", "client_event_id": "e-1"},
        {"type": "view", "anonymous_id": "v", "client_event_id": "e-2"},
        {"type": "like", "anonymous_id": "v", "client_event_id": "e-1"},
        {"type": "like", "anonymous_id": "v"},
        {"type": "like", "anonymous_id": "v"},
    ]
    body = (await client.post("/api/v1/events", json={"events": first})).json()
    assert (body["accepted"], body["duplicates"], body["errors"]) == (4, 1, [])
    retry = [*first[:2], {"type": "share", "anonymous_id": "v", "client_event_id": "e-3"}]
    body = (await client.post("/api/v1/events", json={"events": retry})).json()
    assert (body["accepted"], body["duplicates"]) == (1, 2)
    stored = await _stored(session, shop.id)
    assert [(e.type, e.client_event_id) for e in stored] == [
        ("view", "e-1"),
        ("view", "e-2"),
        ("like", None),
        ("like", None),
        ("share", "e-3"),
    ]


async def test_same_client_event_id_in_two_shops_is_two_events(session, shop, other_shop) -> None:
    item = {"type": "view", "anonymous_id": "v", "client_event_id": "shared"}
    for shop_id in (shop.id, other_shop.id):
        result = await events_service.ingest_events(session=session, shop_id=shop_id, items=[item])
        assert (result.accepted, result.duplicates) == (1, 0)


async def test_batch_limit(client, session, shop) -> None:
    too_many = [{"type": "view", "anonymous_id": "v"}] * 1001
    response = await client.post("/api/v1/events", json={"events": too_many})
    assert response.status_code == 422
    assert response.json()["field"] == "events"
    full = (await client.post("/api/v1/events", json={"events": too_many[:1000]})).json()
    assert full["accepted"] == 1000
    not_a_list = await client.post("/api/v1/events", json={"events": {"type": "view"}})
    assert not_a_list.status_code == 422
    assert not_a_list.json()["field"] == "events"


async def test_identities_resolve_to_customers_and_bad_ones_are_item_errors(
    client, session, shop
) -> None:
    known = await factories.make_customer(session, shop_id=shop.id, phone="13812345678")
    events = [
        {"type": "view", "identity": {"channel": "phone", "value": "+86 138-1234-5678"}},
        {"type": "view", "identity": {"channel": "wecom", "value": "wm-new-friend"}},
        {"type": "like", "identity": {"channel": "wecom", "value": "wm-new-friend"}},
        {"type": "view", "identity": {"channel": "phone", "value": "12345"}},
        {"type": "view", "identity": {"channel": "fax", "value": "123"}},
        {"type": "view", "identity": {"channel": "wecom"}},
        {"type": "view", "customer_id": known.id, "identity": {"channel": "wecom", "value": "x"}},
    ]
    body = (await client.post("/api/v1/events", json={"events": events})).json()
    assert body["accepted"] == 3
    assert [(e["index"], e["code"], e["field"]) for e in body["errors"]] == [
        (3, "invalid_phone", "events[3].identity.value"),
        (4, "unknown_channel", "events[4].identity.value"),
        (5, "invalid_identity", "events[5].identity"),
        (6, "ambiguous_customer", "events[6].identity"),
    ]
    stored = await _stored(session, shop.id)
    assert stored[0].customer_id == known.id
    assert stored[1].customer_id == stored[2].customer_id != known.id
    created = await session.get(Customer, stored[1].customer_id)
    assert created is not None and created.shop_id == shop.id


async def test_times_are_utc_default_now_and_customers_marked_active(session, shop) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id)
    before = utcnow()
    result = await events_service.ingest_events(
        session=session,
        shop_id=shop.id,
        items=[
            {
                "type": "view",
                "customer_id": customer.id,
                "occurred_at": "2024-05-01T20:00:00+08:00",
            },
            {"type": "like", "customer_id": customer.id},
            {"type": "like", "anonymous_id": "x", "occurred_at": "2024-05-01T12:00:00Z"},
        ],
    )
    assert result.accepted == 3
    view, like, anonymous = await _stored(session, shop.id)
    assert view.occurred_at == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert anonymous.occurred_at == view.occurred_at
    assert before <= like.occurred_at <= utcnow()
    assert like.received_at == view.received_at >= before
    last_active = (
        await session.execute(select(Customer.last_active_at).where(Customer.id == customer.id))
    ).scalar_one()
    assert last_active == like.occurred_at


async def test_counter_counts_after_commit(session, shop) -> None:
    before = EVENTS_INGESTED._value.get()
    await factories.make_events(session, shop_id=shop.id, n=4)
    assert EVENTS_INGESTED._value.get() == before
    await session.commit()
    assert EVENTS_INGESTED._value.get() == before + 4


async def test_delete_customer_events(session, shop) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id)
    await factories.make_events(session, shop_id=shop.id, customer_id=customer.id, n=3)
    await factories.make_events(session, shop_id=shop.id, n=2)
    deleted = await events_service.delete_customer_events(
        session=session, shop_id=shop.id, customer_ids=[customer.id]
    )
    assert deleted == 3
    assert [e.customer_id for e in await _stored(session, shop.id)] == [None, None]


item_strategy = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["view", "like", "x", "Bad"]), "anonymous_id": st.just("a")},
        optional={
            "client_event_id": st.sampled_from(["c1", "c2", "c3", ""]),
            "properties": st.one_of(
                st.dictionaries(st.text(max_size=3), st.integers()), st.just(1)
            ),
            "product_id": st.integers(-1, 3),
        },
    ),
    st.integers(),
    st.none(),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(item_strategy, max_size=12), min_size=1, max_size=3))
async def test_every_item_is_accounted_for_once(session, batches) -> None:
    """accepted + duplicates + errors == batch size; stored rows == accepted; no client event
    id is stored twice."""
    shop = await factories.make_shop(session)
    accepted = 0
    for items in batches:
        result = await events_service.ingest_events(session=session, shop_id=shop.id, items=items)
        assert result.accepted + result.duplicates + len(result.errors) == len(items)
        assert [e["index"] for e in result.errors] == sorted({e["index"] for e in result.errors})
        accepted += result.accepted
    stored = await _stored(session, shop.id)
    assert len(stored) == accepted
    ids = [e.client_event_id for e in stored if e.client_event_id is not None]
    assert len(ids) == len(set(ids))
    count = (
        await session.execute(select(func.count()).where(Event.shop_id == shop.id))
    ).scalar_one()
    assert count == accepted


async def test_nul_characters_are_refused_per_item(session) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL cannot store U+0000 in JSONB or text: such an item is refused with its field
    (before, the whole batch's transaction failed on PostgreSQL), and the others are stored."""
    shop = await factories.make_shop(session)
    items = [
        {"type": "view", "anonymous_id": "a", "properties": {"k\x00": 1}},
        {"type": "view", "anonymous_id": "a", "properties": {"k": ["x", {"y": "z\x00"}]}},
        {"type": "view", "anonymous_id": "a\x00b"},
        {"type": "view", "anonymous_id": "a", "client_event_id": "c\x00"},
        {"type": "view", "identity": {"channel": "phone", "value": "138\x00"}},
        {"type": "view", "anonymous_id": "a", "properties": {"text": "\\u0000 is fine as text"}},
    ]
    result = await events_service.ingest_events(session=session, shop_id=shop.id, items=items)
    assert [(e["index"], e["field"], e["code"]) for e in result.errors] == [
        (0, "events[0].properties", "invalid_character"),
        (1, "events[1].properties", "invalid_character"),
        (2, "events[2].anonymous_id", "invalid_character"),
        (3, "events[3].client_event_id", "invalid_character"),
        (4, "events[4].identity", "invalid_character"),
    ]
    assert result.accepted == 1
    (stored,) = await _stored(session, shop.id)
    assert stored.properties == {"text": "\\u0000 is fine as text"}
