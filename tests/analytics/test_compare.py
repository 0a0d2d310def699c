"""Comparing sessions: the figures of two hand-worked sessions side by side (API and page),
and the picker's bad input.

The first session is conftest's (its figures are derived in test_report). The second ran
180 s (3 minutes):

  viewer  visit            watch   orders
  H  c    0 → 120          120     one tea, 12,900 paid
  K  d    30 → 180         150

  retention at 0, 60, 120 s: H; H+K; K  → [1, 2, 1]; peak 2 first at 30 s
  average (120 + 150) / 2 = 135.0 = median; conversion 1 paying / 2 viewers
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics import service
from liveloop.core.database import utcnow
from tests import factories
from tests.analytics.conftest import event, ingest
from tests.commerce.growth_helpers import pay
from tests.factories.live import make_live_session
from tests.web.conftest import console  # noqa: F401  (console: a fixture)

FIRST = {
    "uv": 5, "pv": 7, "peak_online": 3, "watch_seconds_avg": 256.0,
    "watch_seconds_median": 180.0, "comments": 6, "likes": 18, "shares": 1,
    "interaction_rate": 0.8, "gmv_fen": 47700, "refunded_fen": 11900, "paid_orders": 3,
    "aov_fen": 15900, "paying_customers": 3, "conversion_rate": 0.6, "coupon_cost_fen": 2000,
}  # fmt: skip
SECOND = {
    "uv": 2, "pv": 2, "peak_online": 2, "watch_seconds_avg": 135.0,
    "watch_seconds_median": 135.0, "comments": 0, "likes": 0, "shares": 0,
    "interaction_rate": 0.0, "gmv_fen": 12900, "refunded_fen": 0, "paid_orders": 1,
    "aov_fen": 12900, "paying_customers": 1, "conversion_rate": 0.5, "coupon_cost_fen": 0,
}  # fmt: skip


async def build_second_session(session: AsyncSession, *, shop_id: int, tea: Any) -> Any:
    live = await make_live_session(session, shop_id=shop_id, title="周日茶会", status="ended")
    t0 = (utcnow() - dt.timedelta(days=1)).replace(microsecond=0)
    live.started_at, live.ended_at = t0, t0 + dt.timedelta(seconds=180)
    h = await factories.make_customer(session, shop_id=shop_id, name="阿红")
    await ingest(
        session,
        shop_id,
        live.id,
        [
            event("live_enter", t0, 0, h.id, source_code="", share_code=""),
            event("live_leave", t0, 120, h.id, watch_seconds=120),
            event("live_enter", t0, 30, "d:guest-k", source_code="", share_code=""),
            event("live_leave", t0, 180, "d:guest-k", watch_seconds=150),
        ],
    )
    order = await factories.make_order(
        session, shop_id=shop_id, customer_id=h.id, lines=[(tea.skus[0].id, 1)],
        live_session_id=live.id,
    )  # fmt: skip
    await pay(session, order)
    await session.flush()
    return live


@pytest.fixture
async def two_sessions(session, shop, fixture_session) -> tuple[Any, Any]:  # type: ignore[no-untyped-def]
    second = await build_second_session(session, shop_id=shop.id, tea=fixture_session["tea"])
    return fixture_session["live"], second


async def test_compare_lines_up_both_sessions(session, shop, two_sessions) -> None:  # type: ignore[no-untyped-def]
    first, second = two_sessions
    result = await service.compare_live_reports(
        session=session, shop_id=shop.id, live_session_ids=[second.id, first.id]
    )
    assert result["figures"] == list(FIRST)
    one, two = result["sessions"]
    assert (one["live_session_id"], two["live_session_id"]) == (second.id, first.id)
    assert one["figures"] == SECOND and two["figures"] == FIRST
    assert one["retention"] == [1, 2, 1]
    assert two["retention"] == [2, 2, 3, 3, 2, 1, 1, 2, 2, 3]
    assert (one["title"], one["duration_seconds"]) == ("周日茶会", 180)


async def test_compare_api(client, two_sessions) -> None:  # type: ignore[no-untyped-def]
    first, second = two_sessions
    response = await client.get(
        f"/api/v1/analytics/live-reports/compare?ids={first.id},{second.id}"
    )
    assert response.status_code == 200, response.text
    sessions = response.json()["sessions"]
    assert [s["figures"] for s in sessions] == [FIRST, SECOND]
    repeated = await client.get(
        "/api/v1/analytics/live-reports/compare",
        params=[("ids", str(first.id)), ("ids", str(second.id)), ("ids", str(first.id))],
    )
    assert [s["live_session_id"] for s in repeated.json()["sessions"]] == [first.id, second.id]


async def test_compare_api_refuses_bad_ids(client, session, other_shop, two_sessions) -> None:  # type: ignore[no-untyped-def]
    first, _second = two_sessions
    url = "/api/v1/analytics/live-reports/compare"
    for ids, code in (
        (f"{first.id},abc", "not_a_session_id"),
        (f"{first.id}", "too_few_sessions"),
        (f"{first.id},{first.id}", "too_few_sessions"),
        (",".join(str(n) for n in range(1, 8)), "too_many_sessions"),
    ):
        response = await client.get(url, params={"ids": ids})
        assert response.status_code == 422, (ids, response.text)
        assert response.json()["code"] == code and response.json()["field"] == "ids"
    assert (await client.get(url)).status_code == 422  # no ids at all
    theirs = await make_live_session(session, shop_id=other_shop.id, status="ended")
    for ids in (f"{first.id},{theirs.id}", f"{first.id},999999"):
        response = await client.get(url, params={"ids": ids})
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "live_session_not_found"


async def test_compare_page(console, session, other_shop, two_sessions) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    first, second = two_sessions
    picker = await console.get("/console/analytics/live-compare")
    assert picker.status_code == 200
    assert f'id="compare-pick-{first.id}"' in picker.text
    assert f'id="compare-pick-{second.id}"' in picker.text
    assert "compare-figures" not in picker.text
    page = await console.get(
        "/console/analytics/live-compare", params=[("ids", str(first.id)), ("ids", str(second.id))]
    )
    assert page.status_code == 200, page.text
    html = page.text
    for live, figures in ((first, FIRST), (second, SECOND)):
        for key in ("uv", "gmv_fen", "watch_seconds_avg", "conversion_rate"):
            assert f'data-session="{live.id}" data-value="{figures[key]}"' in html
    assert "¥477.00" in html and "¥129.00" in html and "60.0%" in html and "4:16" in html
    assert '"data": [1, 2, 1]' in html and "compare-chart" in html
    too_few = await console.get("/console/analytics/live-compare", params={"ids": str(first.id)})
    assert too_few.status_code == 422 and 'id="compare-error"' in too_few.text
    theirs = await make_live_session(session, shop_id=other_shop.id, status="ended")
    foreign = await console.get(
        "/console/analytics/live-compare", params={"ids": f"{first.id},{theirs.id}"}
    )
    assert foreign.status_code == 404
