"""Report routes: JSON, regenerate, CSV (audited), the console page, permissions, 404s."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from liveloop.analytics.models import LiveReport
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.factories.live import make_live_session
from tests.web.conftest import console, post_form  # noqa: F401  (console: a fixture)


async def test_the_report_is_generated_on_first_read_then_kept(
    client, session, fixture_session
) -> None:  # type: ignore[no-untyped-def]
    live_id = fixture_session["live"].id
    response = await client.get(f"/api/v1/live/{live_id}/report")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["live_session_id"] == live_id and body["generations"] == 1
    assert body["viewing"]["retention"] == [2, 2, 3, 3, 2, 1, 1, 2, 2, 3]
    assert body["consumption"]["gmv_fen"] == 47700
    again = (await client.get(f"/api/v1/live/{live_id}/report")).json()
    assert again["generations"] == 1 and again["generated_at"] == body["generated_at"]
    rebuilt = await client.post(f"/api/v1/live/{live_id}/report/regenerate")
    assert rebuilt.status_code == 200 and rebuilt.json()["generations"] == 2
    stored = (await session.execute(select(LiveReport))).scalars().all()
    assert [r.live_session_id for r in stored] == [live_id]


async def test_csv_has_every_figure_and_is_audited(client, session, shop, fixture_session) -> None:  # type: ignore[no-untyped-def]
    live_id = fixture_session["live"].id
    response = await client.get(f"/api/v1/live/{live_id}/report.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["section", "figure", "key", "value"]
    values = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert values[("viewing", "uv", "")] == "5"
    assert values[("viewing", "retention", "2")] == "3"
    assert values[("consumption", "gmv_fen", "")] == "47700"
    assert values[("interaction", "keyword", "链接")] == "3"
    tea = fixture_session["tea"]
    assert values[("product", "units", f"{tea.id} 明前龙井")] == "3"
    audit = (
        await session.execute(
            select(AuditEntry).where(
                AuditEntry.shop_id == shop.id, AuditEntry.action == "analytics.live_report.export"
            )
        )
    ).scalars().all()  # fmt: skip
    assert [a.target_id for a in audit] == [str(live_id)]


async def test_another_shops_session_and_unknown_ids_are_404(client, session, other_shop) -> None:  # type: ignore[no-untyped-def]
    theirs = await make_live_session(session, shop_id=other_shop.id, status="ended")
    for method, url in (
        ("GET", f"/api/v1/live/{theirs.id}/report"),
        ("POST", f"/api/v1/live/{theirs.id}/report/regenerate"),
        ("GET", f"/api/v1/live/{theirs.id}/report.csv"),
        ("GET", "/api/v1/live/999999/report"),
    ):
        response = await client.request(method, url)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["code"] == "live_session_not_found"
    bad = await client.get("/api/v1/live/not-a-number/report")
    assert bad.status_code == 422


async def test_reading_needs_the_analytics_permission(client, session, actor, shop) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, status="ended")
    key = await factories.make_api_key(session, actor=actor, permissions=["live.manage"])
    response = await client.get(
        f"/api/v1/live/{live.id}/report", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 403


async def test_console_page_shows_the_figures_and_regenerates(
    console,  # noqa: F811  (the fixture)
    session,
    fixture_session,
) -> None:  # type: ignore[no-untyped-def]
    live_id = fixture_session["live"].id
    page = await console.get(f"/console/live/{live_id}/report")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-figure="viewing.uv" data-value="5"' in html
    assert 'data-figure="consumption.gmv_fen" data-value="47700"' in html
    assert "¥477.00" in html and "retention-chart" in html and "@media print" not in html
    assert '"retention": [2, 2, 3, 3, 2, 1, 1, 2, 2, 3]' in html
    edit = await console.get(f"/console/live/{live_id}/edit")
    assert f'href="/console/live/{live_id}/report"' in edit.text
    listing = await console.get("/console/live")
    assert f'href="/console/live/{live_id}/report"' in listing.text
    assert 'href="/console/analytics/live-compare"' in listing.text
    done = await post_form(console, f"/console/live/{live_id}/report/regenerate")
    assert done.status_code == 303
    csv_page = await console.get(f"/console/live/{live_id}/report.csv")
    assert csv_page.status_code == 200 and "viewing,uv,,5" in csv_page.text
