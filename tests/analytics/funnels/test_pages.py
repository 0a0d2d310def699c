"""The console's funnel and converted pages show the API's figures; one-click segments."""

from __future__ import annotations

import re

from sqlalchemy import select

from liveloop.customers.segments.models import Segment
from tests.web.conftest import console, post_form  # noqa: F401  (console: a fixture)


async def test_funnel_page_shows_counts_and_drop_lists(console, funnel_session) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    live_id = funnel_session["live"].id
    response = await console.get(
        "/console/analytics/funnels", params={"live_session_id": live_id, "breakdown": "tier"}
    )
    assert response.status_code == 200, response.text
    html = response.text
    found = dict(re.findall(r'data-step="([a-z_]+)" data-count="(\d+)"', html))
    assert found == {"entered_room": "5", "viewed_product": "4", "added_to_cart": "2",
                     "placed_order": "2", "paid": "1"}  # fmt: skip
    assert 'data-group="金卡"' in html and 'id="funnel-chart"' in html
    # reasons of C (sold out pot, no coupon, left after the push) are on the page
    assert 'data-reason="sold_out"' in html and 'data-reason="left_after_push"' in html
    assert 'data-reason="order_expired"' in html  # B
    assert "阿紫" in html  # the owner may reveal names


async def test_funnel_page_bad_input_and_english(console, funnel_session) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    live_id = funnel_session["live"].id
    response = await console.get(
        "/console/analytics/funnels", params={"live_session_id": live_id, "steps": "paid"}
    )
    assert response.status_code == 422 and 'id="funnel-error"' in response.text
    response = await console.get(
        "/console/analytics/funnels",
        params={"live_session_id": live_id},
        headers={"Accept-Language": "en"},
    )
    assert "Who dropped where" in response.text
    response = await console.get("/console/analytics/funnels")
    assert response.status_code == 200 and "购买漏斗" in response.text


async def test_segment_button_makes_a_segment(console, session, funnel_session) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    live_id = funnel_session["live"].id
    response = await post_form(
        console,
        "/console/analytics/funnels/segment",
        {"step": "added_to_cart", "steps": "entered_room,viewed_product,added_to_cart",
         "window_seconds": "86400", "live_session_id": str(live_id)},
    )  # fmt: skip
    assert response.status_code == 303
    segment_id = int(response.headers["location"].rsplit("/", 1)[1])
    segment = await session.get(Segment, segment_id)
    assert segment is not None and segment.cached_count == 1 and segment.kind == "static"


async def test_converted_page_and_its_segments(console, session, funnel_session) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    live_id = funnel_session["live"].id
    response = await console.get(f"/console/analytics/funnels/live/{live_id}/converted")
    assert response.status_code == 200, response.text
    counts = re.findall(r'data-count="(\d+)"', response.text)
    assert counts == ["2", "4"]
    response = await post_form(
        console,
        f"/console/analytics/funnels/live/{live_id}/converted/segment",
        {"group": "converted"},
    )
    assert response.status_code == 303
    names = (await session.execute(select(Segment.cached_count))).scalars().all()
    assert names == [2]
