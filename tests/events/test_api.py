"""Reading events: listing with filters, one event, customer timelines, permissions."""

from __future__ import annotations

import datetime as dt

import pytest

from liveloop.core.errors import NotFound
from liveloop.events import service as events_service
from tests import factories

START = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


async def test_list_filters_and_pages(client, session, shop, other_shop) -> None:
    ana = await factories.make_customer(session, shop_id=shop.id, name="安娜")
    bo = await factories.make_customer(session, shop_id=shop.id, name="博")
    await factories.make_events(
        session,
        shop_id=shop.id,
        customer_id=ana.id,
        types=("view", "like"),
        n=4,
        live_session_id=9,
        start=START,
        step=MINUTE,
    )
    await factories.make_events(
        session, shop_id=shop.id, customer_id=bo.id, types=("pay",), n=2, start=START, step=MINUTE
    )
    await factories.make_events(session, shop_id=other_shop.id, n=5, start=START)

    async def listed(**params) -> list[tuple[str, int | None, int]]:
        response = await client.get("/api/v1/events", params=params)
        assert response.status_code == 200, response.text
        return [
            (e["type"], e["customer_id"], e["properties"]["n"]) for e in response.json()["items"]
        ]

    everything = await listed()
    assert len(everything) == 6
    assert everything[0][2] == 3  # newest first
    assert await listed(customer_id=bo.id) == [("pay", bo.id, 1), ("pay", bo.id, 0)]
    assert len(await listed(customer_id=[ana.id, bo.id])) == 6
    assert await listed(type="like") == [("like", ana.id, 3), ("like", ana.id, 1)]
    assert len(await listed(type=["like", "pay"])) == 4
    assert len(await listed(live_session_id=9)) == 4
    window = await listed(
        since=(START + MINUTE).isoformat(), until=(START + 3 * MINUTE).isoformat()
    )
    assert sorted(n for _, _, n in window) == [1, 1, 2]
    page = (await client.get("/api/v1/events", params={"per_page": 4, "page": 2})).json()
    assert (page["total"], page["pages"], len(page["items"])) == (6, 2, 2)
    naive = await client.get("/api/v1/events", params={"since": "2024-05-01T12:00:00"})
    assert naive.status_code == 422
    assert naive.json()["field"] == "since"


async def test_get_one_event_and_other_shops_are_not_found(
    client, session, shop, other_shop
) -> None:
    await factories.make_events(session, shop_id=shop.id, n=1)
    await factories.make_events(session, shop_id=other_shop.id, n=1)
    mine = (await events_service.list_events(session=session, shop_id=shop.id)).items[0]
    theirs = (await events_service.list_events(session=session, shop_id=other_shop.id)).items[0]
    response = await client.get(f"/api/v1/events/{mine.id}")
    assert response.status_code == 200
    assert response.json()["anonymous_id"] == "factory-visitor"
    missing = await client.get(f"/api/v1/events/{theirs.id}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "event_not_found"


async def test_customer_timeline_pages_by_keyset_across_merged_ids(
    session, shop, other_shop
) -> None:
    first = await factories.make_customer(session, shop_id=shop.id)
    second = await factories.make_customer(session, shop_id=shop.id)
    stranger = await factories.make_customer(session, shop_id=other_shop.id)
    await factories.make_events(
        session, shop_id=shop.id, customer_id=first.id, n=3, start=START, step=2 * MINUTE
    )
    await factories.make_events(
        session, shop_id=shop.id, customer_id=second.id, n=3, start=START + MINUTE, step=2 * MINUTE
    )
    # Two events at the same instant: the id breaks the tie, so paging never skips one.
    await factories.make_events(
        session,
        shop_id=shop.id,
        customer_id=first.id,
        n=2,
        start=START + 10 * MINUTE,
        step=dt.timedelta(0),
    )
    await factories.make_events(session, shop_id=other_shop.id, customer_id=stranger.id, n=2)

    timeline = await events_service.customer_timeline(
        session=session, shop_id=shop.id, customer_ids=[first.id, second.id], limit=3
    )
    seen = [e.id for e in timeline]
    while timeline:
        timeline = await events_service.customer_timeline(
            session=session,
            shop_id=shop.id,
            customer_ids=[first.id, second.id],
            limit=3,
            before_id=timeline[-1].id,
        )
        seen.extend(e.id for e in timeline)
    everything = await events_service.list_events(
        session=session, shop_id=shop.id, customer_ids=[first.id, second.id]
    )
    assert seen == [e.id for e in everything.items]
    assert len(seen) == 8
    times = [e.occurred_at for e in everything.items]
    assert times == sorted(times, reverse=True)
    assert (
        await events_service.customer_timeline(
            session=session, shop_id=shop.id, customer_ids=[stranger.id]
        )
        == []
    )
    other_event = (await events_service.list_events(session=session, shop_id=other_shop.id)).items[
        0
    ]
    with pytest.raises(NotFound):
        await events_service.customer_timeline(
            session=session, shop_id=shop.id, customer_ids=[first.id], before_id=other_event.id
        )


async def test_writing_needs_events_write_and_reading_events_read(client, session, actor) -> None:
    reader = await factories.make_api_key(session, actor=actor, permissions=["events.read"])
    writer = await factories.make_api_key(session, actor=actor, permissions=["events.write"])
    batch = {"events": [{"type": "view", "anonymous_id": "v"}]}
    as_reader = {"Authorization": f"Bearer {reader}"}
    as_writer = {"Authorization": f"Bearer {writer}"}
    assert (await client.post("/api/v1/events", json=batch, headers=as_reader)).status_code == 403
    assert (await client.post("/api/v1/events", json=batch, headers=as_writer)).status_code == 200
    assert (await client.get("/api/v1/events", headers=as_writer)).status_code == 403
    assert (await client.get("/api/v1/events", headers=as_reader)).json()["total"] == 1


async def test_anonymous_callers_are_refused(anon_client) -> None:
    response = await anon_client.post("/api/v1/events", json={"events": []})
    assert response.status_code == 401
