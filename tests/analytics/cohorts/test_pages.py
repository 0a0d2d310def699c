"""Console pages of analytics: the hub, cohorts (retention heat map, LTV) and value figures,
against the hand-computed shop of conftest.py; costs entered and deleted through the form."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from liveloop.analytics.cohorts import value
from liveloop.analytics.cohorts.models import ValueCost
from liveloop.customers.fission.models import FissionCampaign, FissionParticipant
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.analytics.cohorts.conftest import utc
from tests.factories.live import make_live_session
from tests.web.conftest import log_in, post_form

RANGE = {"start": "2026-01-01", "end": "2026-04-30"}


@pytest.fixture
async def console(anon_client: Any, owner: Any) -> Any:
    anon_client.csrf = await log_in(anon_client, owner.email)
    yield anon_client


async def as_role(anon_client: Any, session: Any, shop: Any, role: str) -> Any:
    staff = await factories.make_staff(session, shop_id=shop.id, role=role)
    anon_client.csrf = await log_in(anon_client, staff.email)
    return anon_client


def row(html: str, attribute: str, value: Any) -> str:
    """The <tr> whose data-`attribute` is `value`, up to its </tr>."""
    found = re.search(rf'<tr data-{attribute}="{value}"[^>]*>.*?</tr>', html, re.S)
    assert found, f"no row data-{attribute}={value}"
    return found.group(0)


def cells(tr: str) -> dict[str, tuple[str, str]]:
    """data-k -> (data-count, shown percentage) of a retention row."""
    return {
        k: (count, shown)
        for k, count, shown in re.findall(r'data-k="(\d+)" data-count="(\d+)"[^>]*>([\d.]+%)', tr)
    }


def chart_data(html: str) -> dict[str, Any]:
    found = re.search(r'id="cohorts-chart-data">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


# ---------------------------------------------------------------- hub and nav


async def test_hub_lists_the_live_session_first_with_its_links(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    ended = await make_live_session(session, shop_id=shop.id, title="上周专场", status="ended")
    live = await make_live_session(session, shop_id=shop.id, title="正在直播", status="live")
    later = await make_live_session(session, shop_id=shop.id, title="下周预告")
    ended.started_at = utc("2099-01-01T00:00")  # started after the live one: still listed second
    await session.flush()
    page = await console.get("/console/analytics")
    assert page.status_code == 200
    assert "暂未开放" not in page.text
    listed = [int(i) for i in re.findall(r'<tr data-live="(\d+)"', page.text)]
    assert listed == [live.id, ended.id]  # the scheduled one never went on air
    assert later.id not in listed
    for live_id in (live.id, ended.id):
        assert f'href="/console/live/{live_id}/report"' in page.text
        assert f'href="/console/live/{live_id}/dashboard"' in page.text
    cards = dict(
        re.findall(r'<a class="card analytics-card" href="([^"]+)" data-card="([^"]+)"', page.text)
    )
    assert cards == {
        "/console/analytics/funnels": "funnels",
        "/console/analytics/attribution": "attribution",
        "/console/analytics/live-compare": "live-compare",
        "/console/analytics/cohorts": "cohorts",
        "/console/analytics/value": "value",
    }
    for href in cards:
        assert (await console.get(href)).status_code == 200, href


async def test_nav_links_the_analytics_area(console) -> None:  # type: ignore[no-untyped-def]
    dashboard = await console.get("/console")
    link = re.search(
        r'<a href="/console/analytics" class="nav-item([^"]*)" data-nav="analytics"', dashboard.text
    )
    assert link, "no nav link to /console/analytics"
    assert "soon" not in link.group(1)
    page = await console.get("/console/analytics/value", params=RANGE)
    assert re.search(r'class="nav-item active" data-nav="analytics"', page.text)


# ---------------------------------------------------------------- cohorts


async def test_retention_heat_map_shows_the_hand_counted_cells(console, value_shop) -> None:  # type: ignore[no-untyped-def]
    page = await console.get("/console/analytics/cohorts", params=RANGE)
    assert page.status_code == 200
    jan, feb = row(page.text, "cohort", "2026-01-01"), row(page.text, "cohort", "2026-02-01")
    # Jan: A active in Jan, Feb and Apr (A3 is local April 1st); Feb: B, C, then B in March
    assert cells(jan) == {"0": ("1", "100.0%"), "1": ("1", "100.0%"), "2": ("0", "0.0%"),
                          "3": ("1", "100.0%")}  # fmt: skip
    assert cells(feb) == {"0": ("2", "100.0%"), "1": ("1", "50.0%"), "2": ("0", "0.0%")}
    assert 'data-size="2"' in feb and ">2026-02<" in feb
    assert "heat-none" in feb  # the triangle: February has no fourth column
    chart = chart_data(page.text)
    assert [s["rates"] for s in chart["retention"]] == [
        [100.0, 100.0, 0.0, 100.0],
        [100.0, 50.0, 0.0],
    ]


async def test_retention_by_channel_and_return_to_live(console, value_shop) -> None:  # type: ignore[no-untyped-def]
    page = await console.get("/console/analytics/cohorts", params={**RANGE, "cohort": "channel"})
    wecom = row(page.text, "cohort", "wecom")
    assert "企业微信" in wecom
    assert cells(wecom) == {"0": ("2", "100.0%"), "1": ("1", "50.0%"), "2": ("0", "0.0%"),
                            "3": ("1", "50.0%")}  # fmt: skip
    assert cells(row(page.text, "cohort", "kol"))["1"] == ("1", "100.0%")
    weekly = {"start": "2026-03-02", "end": "2026-03-22", "period": "week", "activity": "live"}
    page = await console.get("/console/analytics/cohorts", params=weekly)
    assert cells(row(page.text, "cohort", "2026-03-02")) == {
        "0": ("1", "100.0%"), "1": ("1", "100.0%"), "2": ("1", "100.0%")
    }  # fmt: skip
    assert cells(row(page.text, "cohort", "2026-03-09")) == {
        "0": ("1", "100.0%"),
        "1": ("0", "0.0%"),
    }
    page = await console.get(
        "/console/analytics/cohorts", params={**weekly, "cohort": "first_live"}
    )
    l1 = value_shop["l1"].id
    assert f"L1 #{l1}" in row(page.text, "cohort", l1)


async def test_ltv_table_and_chart(console, value_shop) -> None:  # type: ignore[no-untyped-def]
    page = await console.get("/console/analytics/cohorts", params=RANGE)
    ltv = page.text.split('id="ltv-table"', 1)[1]
    feb = row(ltv, "cohort", "2026-02-01")
    # B and C: 8000 + 1 (C's net), then + 2000 (B2): per customer half up 4001, 5001, 5001
    assert re.findall(r'data-ltv="(\d+)" data-revenue="(\d+)"', feb) == [
        ("4001", "8001"), ("5001", "10001"), ("5001", "10001")
    ]  # fmt: skip
    assert "¥40.01" in feb and "¥100.01" in feb
    assert "¥170.00" in row(ltv, "cohort", "2026-01-01")
    assert chart_data(page.text)["ltv"] == [
        {"name": "2026-01", "fen": [10000, 14000, 14000, 17000]},
        {"name": "2026-02", "fen": [4001, 5001, 5001]},
    ]


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"start": "2026-02-01", "end": "2026-01-01"},
         "the range ends (2026-01-01) before it starts (2026-02-01)"),
        ({**RANGE, "period": "day"}, "unknown period"),
        ({**RANGE, "cohort": "city"}, "unknown cohort"),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "is not a date"),
        ({"start": "2026-01-01"}, "give an end date"),
    ],
)  # fmt: skip
async def test_bad_cohort_params_say_why(console, value_shop, params, text) -> None:  # type: ignore[no-untyped-def]
    page = await console.get("/console/analytics/cohorts", params=params)
    assert page.status_code == 422
    error = re.search(r'<p class="error" id="cohorts-error" role="alert">(.*?)</p>', page.text)
    assert error and text in error.group(1).replace("&#39;", "'")
    assert 'id="retention-table"' not in page.text
    assert 'id="cohorts-form"' in page.text


# ---------------------------------------------------------------- value


async def test_costs_entered_in_the_form_give_the_session_roi(session, console, value_shop) -> None:  # type: ignore[no-untyped-def]
    l1 = value_shop["l1"]
    l1.started_at = utc("2026-01-10T01:00")
    await session.flush()
    for kind, yuan in (("anchor_fee", "30.00"), ("ads", "20")):
        sent = await post_form(console, "/console/analytics/value/costs", {
            **RANGE, "kind": kind, "amount": yuan, "spent_on": "2026-01-10",
            "live_session_id": str(l1.id),
        })  # fmt: skip
        assert sent.status_code == 303, sent.text
        assert (
            sent.headers["location"] == "/console/analytics/value?start=2026-01-01&end=2026-04-30"
        )
    page = await console.get(sent.headers["location"])
    assert page.status_code == 200
    live = row(page.text, "live", l1.id)
    # revenue A1 10000 + B1 8000; cost 3000 + 2000 + coupon 500 + commission 800 (from orders)
    assert 'data-revenue="18000" data-cost="6300" data-roas="2.8571" data-roi="1.8571"' in live
    assert "¥180.00" in live and "¥63.00" in live and "¥117.00" in live
    assert '<td class="num roas">2.86</td>' in live and '<td class="num roi">185.7%</td>' in live
    assert f'data-live="{value_shop["l2"].id}"' not in page.text  # on air today, not in range
    amounts = sorted(
        int(a) for a in re.findall(r'<tr data-cost="\d+" data-amount="(\d+)"', page.text)
    )
    assert amounts == [2000, 3000]
    actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert actions.count("analytics.cost.create") == 2


async def test_cost_form_errors_keep_what_was_typed(session, console, value_shop) -> None:  # type: ignore[no-untyped-def]
    cases = [
        ({"kind": "ads", "amount": "12.00", "spent_on": "2026-01-10"},
         "charge the cost to a live session, a broadcast, a KOL or a channel"),
        ({"kind": "ads", "amount": "12.345", "spent_on": "2026-01-10", "channel": "wecom"},
         "at most two decimals"),
        ({"kind": "ads", "amount": "1", "spent_on": "", "channel": "wecom"},
         "give the day the money was spent"),
        ({"kind": "bribe", "amount": "1", "spent_on": "2026-01-10", "channel": "wecom"},
         "unknown cost kind"),
    ]  # fmt: skip
    for form, text in cases:
        sent = await post_form(console, "/console/analytics/value/costs", {**RANGE, **form})
        assert sent.status_code == 422, form
        error = re.search(r'id="cost-error" role="alert">(.*?)</p>', sent.text)
        assert error and text in error.group(1).replace("&#39;", "'"), (form, sent.text[-500:])
        assert f'value="{form["amount"]}"' in sent.text  # the form keeps its input
    assert await session.scalar(select(func.count()).select_from(ValueCost)) == 0


async def test_delete_a_cost(session, shop, other_shop, console, value_shop) -> None:  # type: ignore[no-untyped-def]
    cost = await value.do_create_cost(session=session, shop_id=shop.id, data=value.CostIn(
        kind="ads", amount_fen=500, spent_on="2026-02-01", channel="wecom"))  # fmt: skip
    theirs = await value.do_create_cost(session=session, shop_id=other_shop.id, data=value.CostIn(
        kind="ads", amount_fen=1, spent_on="2026-02-01", channel="wecom"))  # fmt: skip
    page = await console.get("/console/analytics/value", params=RANGE)
    assert f'data-delete-cost="{cost.id}"' in page.text
    gone = await post_form(console, f"/console/analytics/value/costs/{cost.id}/delete", RANGE)
    assert gone.status_code == 303
    assert await session.get(ValueCost, cost.id) is None
    refused = await post_form(console, f"/console/analytics/value/costs/{theirs.id}/delete", RANGE)
    assert refused.status_code == 404
    assert await session.get(ValueCost, theirs.id) is not None
    entry = (
        await session.execute(
            select(AuditEntry).where(AuditEntry.action == "analytics.cost.delete")
        )
    ).scalar_one()
    assert entry.target_id == str(cost.id) and entry.details["amount_fen"] == 500


async def test_kol_report_cac_and_aarrr(session, shop, console, value_shop) -> None:  # type: ignore[no-untyped-def]
    page = await console.get("/console/analytics/value", params=RANGE)
    kol = row(page.text, "affiliate", value_shop["kol"].id)
    # K: B1 + B2 (B1 is B's first purchase); commission 800 + (200 − 50)
    assert (
        'data-gmv="10000" data-orders="2" data-refunds="0" data-commission="950" data-new="1"'
        in kol
    )
    assert "茶博主" in kol and "¥100.00" in kol and "¥9.50" in kol
    kol2 = row(page.text, "affiliate", value_shop["kol2"].id)
    assert (
        'data-gmv="5000" data-orders="1" data-refunds="1000" data-commission="0" data-new="0"'
        in kol2
    )
    for channel, fen, day in (("wecom", 3001, "2026-01-15"), ("ads", 500, "2026-01-20")):
        await value.do_create_cost(session=session, shop_id=shop.id, data=value.CostIn(
            kind="ads", amount_fen=fen, spent_on=day, channel=channel))  # fmt: skip
    page = await console.get(
        "/console/analytics/value", params={"start": "2026-01-01", "end": "2026-02-28"}
    )
    wecom = row(page.text, "channel", "wecom")
    # 3001 fen / 2 new customers (A, C) = 1500.5, half up 1501
    assert 'data-cost="3001" data-new="2" data-cac="1501"' in wecom and "¥15.01" in wecom
    assert 'data-new="0" data-cac=""' in row(page.text, "channel", "ads")
    page = await console.get(
        "/console/analytics/value", params={"start": "2026-02-01", "end": "2026-02-28"}
    )
    aarrr = page.text.split('id="aarrr"', 1)[1].split("</section>", 1)[0]
    figures = dict(
        re.findall(r'data-figure="([a-z_.]+)">.*?figure-value small-value">([^<]+)<', aarrr, re.S)
    )
    assert figures == {
        "acquisition.new_customers": "2",  # C, E
        "activation.new_paying": "1",
        "retention.returning_paying": "1 / 3",  # A had paid in January
        "revenue.revenue_fen": "¥120.01",  # A2 4000 + B1 8000 + C1 1
        "revenue.arppu_fen": "¥40.00",
        "referral.live_shares": "0",
        "referral.fission_invites": "0",
        "referral.referred_customers": "1",  # E came through a share
    }
    assert "50.0%" in aarrr and "33.3%" in aarrr


async def test_k_factor_per_campaign(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    campaign = FissionCampaign(shop_id=shop.id, code="KF1", name="邀好友得券", invitees_needed=2,
                               reward_kind="points", reward_points=10)  # fmt: skip
    session.add(campaign)
    await session.flush()
    for n, (invited, counted) in enumerate(((3, 2), (1, 1))):
        customer = await factories.make_customer(session, shop_id=shop.id, name=f"邀请人{n}")
        session.add(FissionParticipant(shop_id=shop.id, campaign_id=campaign.id,
                                       customer_id=customer.id, code=f"KFP{n}",
                                       invitee_count=invited, counted_count=counted))  # fmt: skip
    await session.flush()
    page = await console.get("/console/analytics/value", params=RANGE)
    line = row(page.text, "campaign", campaign.id)
    # 3 counted of 4 invites by 2 participants: K = 3 / 2
    assert 'data-k="1.5"' in line and '<td class="num k-factor">1.50</td>' in line
    assert re.findall(r'<td class="num">([^<]+)</td>', line) == ["2", "4", "3", "2.00", "75.0%"]


async def test_reversed_value_range_says_why(console) -> None:  # type: ignore[no-untyped-def]
    page = await console.get(
        "/console/analytics/value", params={"start": "2026-03-01", "end": "2026-02-01"}
    )
    assert page.status_code == 422
    assert "the range ends (2026-02-01) before it starts (2026-03-01)" in page.text
    assert 'id="value-error"' in page.text and 'id="aarrr"' not in page.text


# ---------------------------------------------------------------- permissions


async def test_a_role_without_analytics_is_refused(anon_client, session, shop) -> None:  # type: ignore[no-untyped-def]
    client = await as_role(anon_client, session, shop, "service_agent")
    for url in ("/console/analytics", "/console/analytics/cohorts", "/console/analytics/value"):
        response = await client.get(url, params=RANGE)
        assert response.status_code == 403, url
        assert "你没有访问此页面的权限" in response.text
    dashboard = await client.get("/console")
    assert 'data-nav="analytics"' not in dashboard.text


async def test_an_analyst_reads_figures_but_enters_no_cost(
    anon_client, session, shop, value_shop
) -> None:  # type: ignore[no-untyped-def]
    cost = await value.do_create_cost(session=session, shop_id=shop.id, data=value.CostIn(
        kind="ads", amount_fen=500, spent_on="2026-02-01", channel="wecom"))  # fmt: skip
    client = await as_role(anon_client, session, shop, "analyst")
    page = await client.get("/console/analytics/value", params=RANGE)
    assert page.status_code == 200
    assert 'id="cost-form"' not in page.text and "data-delete-cost" not in page.text
    assert "data-edit-cost" not in page.text
    assert f'<tr data-cost="{cost.id}"' in page.text
    sent = await post_form(client, "/console/analytics/value/costs", {
        **RANGE, "kind": "ads", "amount": "1", "spent_on": "2026-01-10", "channel": "wecom"})  # fmt: skip
    assert sent.status_code == 403
    gone = await post_form(client, f"/console/analytics/value/costs/{cost.id}/delete", RANGE)
    assert gone.status_code == 403
    assert await session.scalar(select(func.count()).select_from(ValueCost)) == 1
    assert (await client.get("/console/analytics/cohorts", params=RANGE)).status_code == 200


def test_default_range_is_the_last_months() -> None:
    from liveloop.analytics.cohorts.pages import _months_back

    assert _months_back(dt.date(2026, 3, 15), 6) == dt.date(2025, 10, 1)
    assert _months_back(dt.date(2026, 12, 31), 1) == dt.date(2026, 12, 1)


async def test_edit_a_cost_in_the_form(session, shop, other_shop, console, value_shop) -> None:  # type: ignore[no-untyped-def]
    cost = await value.do_create_cost(session=session, shop_id=shop.id, data=value.CostIn(
        kind="ads", amount_fen=500, spent_on="2026-02-01", channel="wecom", note="朋友圈"))  # fmt: skip
    theirs = await value.do_create_cost(session=session, shop_id=other_shop.id, data=value.CostIn(
        kind="ads", amount_fen=1, spent_on="2026-02-01", channel="wecom"))  # fmt: skip
    listed = await console.get("/console/analytics/value", params=RANGE)
    assert f'data-edit-cost="{cost.id}"' in listed.text
    page = await console.get(f"/console/analytics/value/costs/{cost.id}/edit", params=RANGE)
    assert page.status_code == 200
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*id="cost-form"[^>]*>', page.text)
    assert form and form.group(1) == f"/console/analytics/value/costs/{cost.id}"
    assert 'value="5.00"' in page.text and 'value="2026-02-01"' in page.text
    assert 'value="朋友圈"' in page.text and 'value="wecom"' in page.text

    wrong = await post_form(console, f"/console/analytics/value/costs/{cost.id}", {
        **RANGE, "kind": "ads", "amount": "8.001", "spent_on": "2026-02-03", "channel": "wecom"})  # fmt: skip
    assert wrong.status_code == 422 and "at most two decimals" in wrong.text
    assert f'data-editing="{cost.id}"' in wrong.text and 'value="8.001"' in wrong.text
    saved = await post_form(console, f"/console/analytics/value/costs/{cost.id}", {
        **RANGE, "kind": "anchor_fee", "amount": "8.50", "spent_on": "2026-02-03",
        "channel": "wecom", "note": ""})  # fmt: skip
    assert saved.status_code == 303
    assert saved.headers["location"] == "/console/analytics/value?start=2026-01-01&end=2026-04-30"
    await session.refresh(cost)
    assert (cost.kind, cost.amount_fen, cost.spent_on.isoformat(), cost.note) == (
        "anchor_fee",
        850,
        "2026-02-03",
        "",
    )
    entry = (
        await session.execute(
            select(AuditEntry).where(AuditEntry.action == "analytics.cost.update")
        )
    ).scalar_one()
    assert (
        entry.details["before"]["amount_fen"] == 500 and entry.details["after"]["amount_fen"] == 850
    )

    assert (
        await console.get(f"/console/analytics/value/costs/{theirs.id}/edit")
    ).status_code == 404
    refused = await post_form(console, f"/console/analytics/value/costs/{theirs.id}", {
        **RANGE, "kind": "ads", "amount": "9", "spent_on": "2026-02-03", "channel": "wecom"})  # fmt: skip
    assert refused.status_code == 404
    await session.refresh(theirs)
    assert theirs.amount_fen == 1


async def test_an_analyst_cannot_edit_a_cost(anon_client, session, shop, value_shop) -> None:  # type: ignore[no-untyped-def]
    cost = await value.do_create_cost(session=session, shop_id=shop.id, data=value.CostIn(
        kind="ads", amount_fen=500, spent_on="2026-02-01", channel="wecom"))  # fmt: skip
    client = await as_role(anon_client, session, shop, "analyst")
    assert (await client.get(f"/console/analytics/value/costs/{cost.id}/edit")).status_code == 403
    sent = await post_form(client, f"/console/analytics/value/costs/{cost.id}", {
        **RANGE, "kind": "ads", "amount": "9", "spent_on": "2026-02-03", "channel": "wecom"})  # fmt: skip
    assert sent.status_code == 403
    await session.refresh(cost)
    assert cost.amount_fen == 500
