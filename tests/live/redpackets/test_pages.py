"""The red packet panel renders in the anchor console and the widget in the viewer page; the
console's session (cookie + CSRF) can use the red packet API as the panel does."""

from __future__ import annotations

import pytest

from tests.factories.live import make_live_session
from tests.web.conftest import log_in


@pytest.fixture
async def console(anon_client, owner):  # type: ignore[no-untyped-def]
    anon_client.csrf = await log_in(anon_client, owner.email)
    return anon_client


async def test_console_panel_and_viewer_widget_render(console, session, shop) -> None:
    live = await make_live_session(session, shop_id=shop.id, status="live")
    page = await console.get(f"/console/live/{live.id}")
    assert page.status_code == 200
    assert 'id="redpacket-console"' in page.text
    assert f'data-live-session-id="{live.id}"' in page.text
    assert "live/tools/redpacket_console.js" in page.text
    topped = await console.post(
        "/api/v1/red-packet-budget/top-ups",
        json={"amount_fen": 1200},
        headers={"X-CSRF-Token": console.csrf, "Idempotency-Key": "panel-1"},
    )
    assert topped.status_code == 201, topped.text
    assert topped.json()["balance_fen"] == 1200
    viewer = await console.get(f"/live/{live.code}")
    assert viewer.status_code == 200
    assert 'id="llrp"' in viewer.text and 'id="llrp-phone-code"' in viewer.text
    assert "live/tools/redpacket_viewer.js" in viewer.text
