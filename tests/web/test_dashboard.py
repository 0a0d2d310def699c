"""The dashboard: figures of this shop only, and new customers a day by source channel."""

from __future__ import annotations

import datetime as dt
import json
import re

from liveloop.analytics import overview
from liveloop.core.database import utcnow
from tests import factories


def test_start_of_local_day_is_shanghai_midnight_in_utc() -> None:
    moment = dt.datetime(2024, 5, 1, 17, 30, tzinfo=dt.UTC)  # 01:30 on 2 May in Shanghai
    assert overview.start_of_local_day("Asia/Shanghai", moment) == dt.datetime(
        2024, 5, 1, 16, 0, tzinfo=dt.UTC
    )
    assert overview.start_of_local_day("UTC", moment) == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


async def test_figures_count_this_shop_only(session, shop, other_shop) -> None:
    vip = await factories.make_tag(session, shop_id=shop.id, name="VIP")
    buyer = await factories.make_customer(session, shop_id=shop.id, name="甲", tags=[vip])
    await factories.make_customer(session, shop_id=shop.id, name="乙")
    await factories.make_customer(session, shop_id=other_shop.id, name="别家")
    await factories.make_product(session, shop_id=shop.id, name="在售")
    await factories.make_product(session, shop_id=shop.id, name="下架", status="off_shelf")
    await factories.make_product(session, shop_id=other_shop.id, name="别家在售")
    # A fixed "now" five days ago: three events after that day's local midnight, two before.
    now = utcnow() - dt.timedelta(days=5)
    midnight = overview.start_of_local_day(shop.timezone, now)
    minute = dt.timedelta(minutes=1)
    await factories.make_events(
        session, shop_id=shop.id, customer_id=buyer.id, n=3, start=midnight + minute
    )
    await factories.make_events(session, shop_id=shop.id, n=2, start=midnight - 3 * minute)
    await factories.make_events(session, shop_id=other_shop.id, n=4, start=midnight + minute)

    figures = await overview.shop_figures(
        session=session, shop_id=shop.id, timezone=shop.timezone, now=now + dt.timedelta(days=5)
    )
    assert figures.customers == 2 and figures.tagged_customers == 1 and figures.tags == 1
    assert (figures.products_on_shelf, figures.products) == (1, 2)
    assert figures.new_customers_7d == 2
    at_that_time = await overview.shop_figures(
        session=session, shop_id=shop.id, timezone=shop.timezone, now=now
    )
    assert at_that_time.events_today == 3
    assert figures.events_today == 0


async def test_new_customers_by_channel_buckets_by_local_day(session, shop, other_shop) -> None:
    for source in ("wecom", "wecom", "douyin"):
        await factories.make_customer(session, shop_id=shop.id, source_channel=source)
    await factories.make_customer(session, shop_id=other_shop.id, source_channel="wecom")
    later = utcnow() + dt.timedelta(days=2)
    chart = await overview.new_customers_by_channel(
        session=session, shop_id=shop.id, timezone=shop.timezone, days=30, now=later
    )
    assert len(chart["days"]) == 30
    assert (
        chart["days"][-1] == later.astimezone(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    )
    series = {s["channel"]: s["counts"] for s in chart["series"]}
    assert set(series) == {"wecom", "douyin"}
    assert series["wecom"][-3] == 2 and sum(series["wecom"]) == 2
    assert series["douyin"][-3] == 1 and sum(series["douyin"]) == 1
    past = await overview.new_customers_by_channel(
        session=session,
        shop_id=shop.id,
        timezone=shop.timezone,
        now=utcnow() + dt.timedelta(days=40),
    )
    assert past["series"] == []


async def test_dashboard_page_embeds_the_chart_data(console, session, shop) -> None:
    await factories.make_customer(session, shop_id=shop.id, source_channel="miniprogram")
    page = await console.get("/console")
    assert page.status_code == 200
    raw = re.search(
        r'<script type="application/json" id="new-customers-data">(.*?)</script>', page.text, re.S
    ).group(1)
    data = json.loads(raw)
    assert [s["channel"] for s in data["series"]] == ["miniprogram"]
    assert data["labels"]["miniprogram"] == "小程序"
    assert re.search(r'data-figure="1">1<', page.text)


async def test_customer_timeline_shows_events_newest_first_with_paging(
    console, session, shop
) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id, name="看直播的人")
    await factories.make_events(
        session, shop_id=shop.id, customer_id=customer.id, types=("live.join",), n=35
    )
    page = await console.get(f"/console/customers/{customer.id}")
    assert page.text.count('data-event="') == 30
    assert "live.join" in page.text and ">n=34<" in page.text and ">n=5<" in page.text
    assert ">n=4<" not in page.text
    older = re.search(r'id="timeline-older" href="([^"]+)"', page.text).group(1)
    rest = await console.get(older)
    assert rest.text.count('data-event="') == 5
    assert ">n=4<" in rest.text and ">n=0<" in rest.text and ">n=5<" not in rest.text
    assert 'id="timeline-older"' not in rest.text
