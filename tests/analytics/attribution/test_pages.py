"""The console's attribution page shows the API's figures for every model; bad input is a
422 page with the error, another shop's session a 404."""

from __future__ import annotations

import re

from tests.factories.live import make_live_session
from tests.web.conftest import console, post_form  # noqa: F401  (console: a fixture)


async def test_page_shows_every_model_per_channel(console, attribution_session) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    live_id = attribution_session["live"].id
    response = await console.get(
        "/console/analytics/attribution", params={"live_session_id": live_id}
    )
    assert response.status_code == 200, response.text
    html = response.text
    assert 'id="attribution-chart"' in html and 'data-revenue="18001"' in html
    cells = re.findall(r'<tr data-key="([a-z_]+)">', html)
    assert set(cells) == {"channel_code", "broadcast", "kol", "share", "live_session"}
    linear = dict(re.findall(r'<tr data-key="([a-z_]+)">.*?data-model="linear" data-fen="(\d+)"',
                             html, flags=re.S))  # fmt: skip
    # the hand-worked linear credits of test_service
    assert linear == {"live_session": "7333", "channel_code": "3334", "broadcast": "3333",
                      "kol": "2500", "share": "1501"}  # fmt: skip
    assert "直播场次" in html or "Live sessions" in html


async def test_page_bad_input_english_and_other_shop(console, session, other_shop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    response = await console.get(
        "/console/analytics/attribution", params={"from": "2026-12-05", "to": "2026-12-01"}
    )
    assert response.status_code == 422 and 'id="attribution-error"' in response.text
    response = await console.get(
        "/console/analytics/attribution", params={"lookback_days": "abc", "from": "2026-12-01"}
    )
    assert response.status_code == 422
    empty = await console.get("/console/analytics/attribution", headers={"Accept-Language": "en"})
    assert empty.status_code == 200 and "Attribution" in empty.text
    theirs = await make_live_session(session, shop_id=other_shop.id, status="ended")
    response = await console.get(
        "/console/analytics/attribution", params={"live_session_id": theirs.id}
    )
    assert response.status_code == 404
