"""Console pages of live sessions: they render in zh_CN and en, and their forms work."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from liveloop.core.database import utcnow
from liveloop.live import moderation
from liveloop.live import service as live_service
from liveloop.live.models import LiveSession
from tests import factories
from tests.factories.live import make_live_session
from tests.web.conftest import log_in, post_form

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
async def console(anon_client, owner):  # type: ignore[no-untyped-def]
    """Logged in as the owner through the real login form (as tests/web does)."""
    anon_client.csrf = await log_in(anon_client, owner.email)
    return anon_client


@pytest.fixture
async def live(session, shop):  # type: ignore[no-untyped-def]
    tea = await factories.make_product(session, shop_id=shop.id, name="<b>大红袍</b>")
    return await make_live_session(
        session, shop_id=shop.id, title="<script>x</script>秋茶", product_ids=[tea.id]
    )


@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_pages_render_in_both_languages(console, live, language) -> None:
    await console.post("/console/language", data={"language": language, "csrf_token": console.csrf})
    expected = {"zh_CN": "直播", "en": "Live sessions"}[language]
    for url in (
        "/console/live",
        "/console/live/new",
        f"/console/live/{live.id}/edit",
        f"/console/live/{live.id}/links",
        "/console/live/words",
    ):
        response = await console.get(url)
        assert response.status_code == 200, url
        assert "<script>x</script>" not in response.text  # titles are escaped
        assert "<b>大红袍</b>" not in response.text
    listing = await console.get("/console/live")
    assert expected in listing.text and live.code in listing.text


async def test_schedule_a_session_with_a_cover(console, session, shop) -> None:
    response = await console.post(
        "/console/live",
        data={
            "csrf_token": console.csrf,
            "title": "周末专场",
            "planned_start": "2030-01-04T20:00",
            "planned_end": "2030-01-04T22:00",
            "hls_url": "",
            "notice": "满199包邮",
            "anchor_id": "",
        },
        files={"cover": ("c.png", PNG, "image/png")},
    )
    assert response.status_code == 303, response.text
    created = (
        await session.execute(select(LiveSession).where(LiveSession.title == "周末专场"))
    ).scalar_one()
    # 20:00 in Asia/Shanghai is 12:00 UTC.
    assert created.planned_start == dt.datetime(2030, 1, 4, 12, 0, tzinfo=dt.UTC)
    assert created.cover_path is not None
    assert response.headers["location"] == f"/console/live/{created.id}/edit"


async def test_a_bad_form_shows_the_error_and_keeps_nothing(console, session, shop) -> None:
    response = await console.post(
        "/console/live",
        data={
            "csrf_token": console.csrf,
            "title": "坏封面",
            "planned_start": "2030-01-04T20:00",
        },
        files={"cover": ("c.txt", b"not an image", "text/plain")},
    )
    assert response.status_code == 422
    assert "PNG, JPEG" in response.text and "坏封面" in response.text
    found = await session.execute(select(LiveSession).where(LiveSession.title == "坏封面"))
    assert found.scalar_one_or_none() is None
    late = await console.post(
        "/console/live",
        data={
            "csrf_token": console.csrf,
            "title": "时间反了",
            "planned_start": "2030-01-04T20:00",
            "planned_end": "2030-01-04T19:00",
        },
    )
    assert late.status_code == 422 and "planned_end" in late.text


async def test_edit_lineup_and_transitions(console, session, shop, live) -> None:
    cup = await factories.make_product(session, shop_id=shop.id, name="茶杯")
    base = f"/console/live/{live.id}"
    await post_form(console, f"{base}/lineup", {"product_id": str(cup.id), "move": "add"})
    ids = await live_service.lineup_ids(session=session, live_session=live)
    assert ids[-1] == cup.id
    await post_form(console, f"{base}/lineup", {"product_id": str(cup.id), "move": "up"})
    assert (await live_service.lineup_ids(session=session, live_session=live))[0] == cup.id
    await post_form(console, f"{base}/lineup", {"product_id": str(cup.id), "move": "remove"})
    assert cup.id not in await live_service.lineup_ids(session=session, live_session=live)
    saved = await post_form(
        console,
        f"{base}/edit",
        {"title": "新标题", "planned_start": "2030-02-01T19:30", "notice": "", "hls_url": ""},
    )
    assert saved.status_code == 303
    assert live.title == "新标题"
    started = await post_form(console, f"{base}/status", {"action": "start"})
    assert started.headers["location"] == base and live.status == "live"
    again = await post_form(console, f"{base}/status", {"action": "cancel"})
    assert again.status_code == 303 and live.status == "live"
    page = await console.get(again.headers["location"])
    assert "it cannot be cancelled" in page.text  # the refusal is flashed on the page


async def test_links_page_creates_and_lists_links_and_reservations(
    console, session, shop, live
) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id, name="王小二")
    await live_service.reserve(session=session, live_session=live, customer_id=customer.id)
    created = await post_form(
        console, f"/console/live/{live.id}/links", {"channel": "official_account", "label": "推文"}
    )
    assert created.status_code == 303
    page = await console.get(f"/console/live/{live.id}/links")
    links = await live_service.list_entry_links(
        session=session, shop_id=shop.id, live_session_id=live.id
    )
    assert len(links) == 1
    assert f"/live/{live.code}?src={links[0].code}" in page.text
    assert "王小二" in page.text and "推文" in page.text
    bad = await post_form(console, f"/console/live/{live.id}/links", {"channel": "tv"})
    assert bad.status_code == 303
    await post_form(console, f"/console/live/{live.id}/links/{links[0].id}/delete")
    assert not await live_service.list_entry_links(
        session=session, shop_id=shop.id, live_session_id=live.id
    )


async def test_words_page_adds_changes_and_deletes(console, session, shop) -> None:
    await post_form(
        console, "/console/live/words", {"words": "加微信\n二维码，刷单", "action": "block"}
    )
    words = await moderation.list_words(session=session, shop_id=shop.id)
    assert {w.word for w in words} == {"二维码", "加微信", "刷单"}
    assert {w.action for w in words} == {"block"}
    await post_form(console, f"/console/live/words/{words[0].id}", {"action": "mask"})
    assert words[0].action == "mask"
    await post_form(console, f"/console/live/words/{words[0].id}/delete")
    assert len(await moderation.list_words(session=session, shop_id=shop.id)) == 2
    page = await console.get("/console/live/words")
    assert "加微信" in page.text or "二维码" in page.text


async def test_list_filters_by_status_and_dates(console, session, shop) -> None:
    now = utcnow()
    await make_live_session(
        session, shop_id=shop.id, title="明天的", planned_start=now + dt.timedelta(days=1)
    )
    await make_live_session(session, shop_id=shop.id, title="正在播", status="live")
    tomorrow = (await live_service.list_live_sessions(session=session, shop_id=shop.id)).items[-1]
    for _ in range(3):
        customer = await factories.make_customer(session, shop_id=shop.id)
        await live_service.reserve(session=session, live_session=tomorrow, customer_id=customer.id)
    listing = await console.get("/console/live?status=scheduled")
    assert f'<tr data-live="{tomorrow.id}">' in listing.text
    row = listing.text.split(f'<tr data-live="{tomorrow.id}">')[1].split("</tr>")[0]
    assert '<td class="num">3</td>' in row
    live_only = await console.get("/console/live?status=live")
    assert "正在播" in live_only.text and "明天的" not in live_only.text
    day = (now + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    window = await console.get(f"/console/live?date_from={day}&date_to={day}")
    assert "明天的" in window.text
    bad = await console.get("/console/live?date_from=yesterday")
    assert bad.status_code == 200


async def test_an_analyst_cannot_open_the_live_pages(anon_client, session, shop) -> None:
    analyst = await factories.make_staff(session, shop_id=shop.id, role="analyst")
    await log_in(anon_client, analyst.email)
    response = await anon_client.get("/console/live")
    assert response.status_code == 403
