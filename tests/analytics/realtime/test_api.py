"""The dashboard's JSON route, its Server-Sent Events stream and its console page."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from liveloop.analytics.realtime import api, service
from liveloop.core.deps import get_session_opener
from tests import factories
from tests.analytics.conftest import event, ingest
from tests.factories.live import make_live_session
from tests.web.conftest import log_in


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch, worked: dict[str, Any]) -> dict[str, Any]:
    """The routes read the worked session at NOW, as test_snapshot does."""
    monkeypatch.setattr(service, "utcnow", lambda: worked["now"])
    return worked


async def test_realtime_route_gives_the_snapshot(client, session, shop, frozen) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(f"/api/v1/analytics/live/{frozen['live'].id}/realtime")
    assert response.status_code == 200, response.text
    body = response.json()
    expected = await service.realtime_snapshot(
        session=session, shop_id=shop.id, live_session_id=frozen["live"].id, now=frozen["now"]
    )
    assert body == orjson.loads(orjson.dumps(expected))
    figures = body["figures"]
    assert (figures["online"], figures["peak_online"], figures["viewers"]) == (3, 4, 6)
    assert (figures["gmv_fen"], figures["paying_customers"], figures["conversion_rate"]) == (
        49700, 3, 0.5,
    )  # fmt: skip


async def test_realtime_needs_analytics_read(app, session, shop, actor) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, status="live")
    key = await factories.make_api_key(session, actor=actor, permissions=["live.manage"])
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as http:
        for path in ("realtime", "realtime/stream"):
            response = await http.get(f"/api/v1/analytics/live/{live.id}/{path}")
            assert response.status_code == 403, response.text


async def test_another_shops_session_is_not_found(client, session, other_shop) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=other_shop.id, status="live")
    for path in ("realtime", "realtime/stream"):
        response = await client.get(f"/api/v1/analytics/live/{live.id}/{path}")
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "live_session_not_found"


async def test_stream_pushes_fresh_snapshots_until_the_client_goes(  # type: ignore[no-untyped-def]
    app, monkeypatch, session, shop, frozen
) -> None:
    """Two snapshots, a like recorded between them shows in the second, then the client
    disconnects and the stream ends."""
    monkeypatch.setattr(api, "STREAM_INTERVAL_S", 0.05)
    live = frozen["live"]
    gone = asyncio.Event()

    async def disconnected() -> bool:
        return gone.is_set()

    stream = api.snapshot_events(
        open_session=app.dependency_overrides[get_session_opener](),
        shop_id=shop.id,
        live_session_id=live.id,
        online=lambda: None,
        disconnected=disconnected,
    )
    messages = []
    async for message in stream:
        messages.append(message)
        if len(messages) == 1:
            await ingest(session, shop.id, live.id, [event("live_like", frozen["t0"], 580,
                                                           frozen["a"].id, count=4)])  # fmt: skip
        else:
            gone.set()
    assert len(messages) == 2
    bodies = []
    for number, message in enumerate(messages, start=1):
        head, data = message.decode().split("\ndata: ")
        assert head == f"event: snapshot\nid: {number}"
        bodies.append(orjson.loads(data))
    assert [b["figures"]["likes"] for b in bodies] == [18, 22]
    assert bodies[0]["figures"]["viewers"] == bodies[1]["figures"]["viewers"] == 6


async def test_stream_route_is_an_event_stream(client, monkeypatch, frozen) -> None:  # type: ignore[no-untyped-def]
    """Through the app: the in-process test client only returns when the stream ends, so the
    route is read with the client gone after the first snapshot: it answers one and stops."""
    from starlette.requests import Request

    monkeypatch.setattr(api, "STREAM_INTERVAL_S", 0.01)
    calls = {"n": 0}

    async def disconnected_after_first(self: Any) -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    monkeypatch.setattr(Request, "is_disconnected", disconnected_after_first)
    response = await client.get(f"/api/v1/analytics/live/{frozen['live'].id}/realtime/stream")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = response.text.split("\n\n")
    assert chunks[0].startswith("event: snapshot\nid: 1\ndata: {")
    assert orjson.loads(chunks[0].split("data: ", 1)[1])["figures"]["viewers"] == 6


async def test_dashboard_page(anon_client, session, shop, owner, frozen) -> None:  # type: ignore[no-untyped-def]
    await log_in(anon_client, owner.email)
    live_id = frozen["live"].id
    page = await anon_client.get(f"/console/live/{live_id}/dashboard")
    assert page.status_code == 200, page.text
    assert f"/api/v1/analytics/live/{live_id}/realtime/stream" in page.text
    assert 'data-figure="gmv_fen" data-format="money" data-value="49700"' in page.text
    assert "¥497.00" in page.text
    for path in (f"/console/live/{live_id}", f"/console/live/{live_id}/report"):
        linking = await anon_client.get(path)
        assert f'href="/console/live/{live_id}/dashboard"' in linking.text, path


async def test_dashboard_page_of_another_shop_is_not_found(  # type: ignore[no-untyped-def]
    anon_client, session, owner, other_shop
) -> None:
    live = await make_live_session(session, shop_id=other_shop.id, status="live")
    await log_in(anon_client, owner.email)
    assert (await anon_client.get(f"/console/live/{live.id}/dashboard")).status_code == 404
