"""Funnel counts, breakdowns, drop lists with reasons and segments against the hand-worked
session of conftest.py (its table is the arithmetic)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from liveloop.analytics.funnels.reasons import stock_at
from liveloop.customers.segments.models import SegmentMember
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.factories.live import make_live_session

BASE = "/api/v1/analytics/funnels"


def counts(body: dict[str, Any]) -> list[int]:
    return [f["count"] for f in body["figures"]]


async def test_default_funnel_counts_and_rates(client, funnel_session) -> None:  # type: ignore[no-untyped-def]
    live_id = funnel_session["live"].id
    response = await client.get(f"{BASE}/live/{live_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["steps"] == ["entered_room", "viewed_product", "added_to_cart", "placed_order",
                             "paid"]  # fmt: skip
    # entered A B C D E = 5; viewed A B C D = 4; cart A B = 2; ordered A B = 2; paid A = 1
    # (F paid without entering the room: not in a funnel that starts in the room)
    assert counts(body) == [5, 4, 2, 2, 1]
    assert [f["of_first"] for f in body["figures"]] == [1.0, 0.8, 0.4, 0.4, 0.2]
    assert [f["of_previous"] for f in body["figures"]] == [1.0, 0.8, 0.5, 1.0, 0.5]
    assert [f["dropped"] for f in body["figures"]] == [0, 1, 2, 0, 1]
    assert body["conversion"] == 0.2


async def test_window_and_custom_steps(client, funnel_session) -> None:  # type: ignore[no-untyped-def]
    live_id = funnel_session["live"].id
    # 60 s from the entry: A's cart at 60 counts (0 + 60), A's order at 100 does not;
    # B entered at 10: cart at 70 counts, order at 110 does not; D viewed at 80 (30 + 50).
    body = (await client.get(f"{BASE}/live/{live_id}", params={"window_seconds": 60})).json()
    assert counts(body) == [5, 4, 2, 0, 0]
    # Steps may be skipped: entered → paid is A alone of the five viewers.
    body = (
        await client.get(f"{BASE}/live/{live_id}", params={"steps": "entered_room,paid"})
    ).json()
    assert counts(body) == [5, 1]
    # Starting at the cart: A and B; both ordered, A paid.
    body = (
        await client.get(
            f"{BASE}/live/{live_id}", params={"steps": "added_to_cart,placed_order,paid"}
        )
    ).json()
    assert counts(body) == [2, 2, 1]


async def test_breakdowns(client, funnel_session) -> None:  # type: ignore[no-untyped-def]
    live_id = funnel_session["live"].id

    def groups(body: dict[str, Any]) -> dict[str, list[int]]:
        return {g["key"]: counts(g) for g in body["breakdown"]["groups"]}

    by = {}
    for name in ("source", "tier", "new_returning"):
        response = await client.get(f"{BASE}/live/{live_id}", params={"breakdown": name})
        assert response.status_code == 200, response.text
        by[name] = response.json()
    # D and E came with no link; A by the group link, B the KOL link, C a viewer's share
    assert groups(by["source"]) == {
        "direct": [2, 1, 0, 0, 0],
        "group": [1, 1, 1, 1, 1],
        "kol": [1, 1, 1, 1, 0],
        "share": [1, 1, 0, 0, 0],
    }
    assert by["source"]["breakdown"]["groups"][0]["key"] == "direct"
    assert groups(by["tier"]) == {
        "金卡": [1, 1, 1, 1, 1],
        "银卡": [1, 1, 1, 1, 0],
        "none": [3, 2, 0, 0, 0],
    }
    # first seen before the session: A B E returning; C new; D a guest
    assert groups(by["new_returning"]) == {
        "returning": [3, 2, 2, 2, 1],
        "new": [1, 1, 0, 0, 0],
        "guest": [1, 1, 0, 0, 0],
    }


async def test_dropoffs_name_who_and_why(client, session, funnel_session) -> None:  # type: ignore[no-untyped-def]
    live_id = funnel_session["live"].id
    f = funnel_session
    response = await client.get(f"{BASE}/live/{live_id}/dropoffs", params={"step": "added_to_cart"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2 and body["masked"] is False  # the owner may reveal
    c, d = body["people"]
    assert (c["customer_id"], c["name"], c["last_step"]) == (f["c"].id, "阿紫", "viewed_product")
    assert [r["code"] for r in c["reasons"]] == ["sold_out", "no_coupon", "left_after_push"]
    sold_out, no_coupon, left = c["reasons"]
    assert sold_out["product_id"] == f["pot"].id  # 0 in stock at T0+45..400; C looked at 50
    assert no_coupon["customers_with_coupon"] == 1  # A claimed and used one
    # C left at 200, 10 s after the cup was pushed at 190
    assert (left["product_id"], left["seconds_after_push"]) == (f["cup"].id, 10)
    assert c["viewed"] == [{"product_id": f["pot"].id, "name": "紫砂壶", "views": 1}]
    # D is a guest: no id, no coupon reason (guests cannot claim); the cup was in stock
    assert (d["viewer"], d["customer_id"], d["name"], d["reasons"]) == ("guest", None, None, [])
    assert d["viewed"][0]["product_id"] == f["cup"].id
    revealed = (
        (await session.execute(select(AuditEntry).where(AuditEntry.action == "analytics.reveal")))
        .scalars()
        .all()
    )
    assert len(revealed) == 1 and revealed[0].details["people"] == 2

    body = (
        await client.get(f"{BASE}/live/{live_id}/dropoffs", params={"step": "viewed_product"})
    ).json()
    (e,) = body["people"]
    assert e["customer_id"] == f["e"].id and e["last_step"] == "entered_room"
    # E left at 100, before the push at 190; viewed nothing; pages while on air: 45 s + 20 s
    assert [r["code"] for r in e["reasons"]] == ["no_coupon"]
    assert (e["product_page_seconds"], e["mall_page_seconds"]) == (45, 20)

    body = (await client.get(f"{BASE}/live/{live_id}/dropoffs", params={"step": "paid"})).json()
    (b,) = body["people"]
    assert b["customer_id"] == f["b"].id and b["last_step"] == "placed_order"
    assert [r["code"] for r in b["reasons"]] == ["no_coupon", "price_above_usual", "order_expired"]
    price, expired = b["reasons"][1:]
    # B's one earlier paid order: 5,000 + 1,000 post = 6,000 fen; the tea went into the cart at 12,900
    assert (price["price_fen"], price["usual_order_fen"], price["product_id"]) == (
        12900, 6000, f["tea"].id
    )  # fmt: skip
    assert expired["order_id"] == f["orders"]["b"].id

    # placed_order: A and B both ordered, nobody dropped there
    body = (
        await client.get(f"{BASE}/live/{live_id}/dropoffs", params={"step": "placed_order"})
    ).json()
    assert body["total"] == 0 and body["people"] == []


async def test_push_seconds_narrows_the_reason(client, funnel_session) -> None:  # type: ignore[no-untyped-def]
    live_id = funnel_session["live"].id
    body = (
        await client.get(
            f"{BASE}/live/{live_id}/dropoffs", params={"step": "added_to_cart", "push_seconds": 9}
        )
    ).json()
    assert [r["code"] for r in body["people"][0]["reasons"]] == ["sold_out", "no_coupon"]


async def test_names_are_masked_without_reveal(app, session, shop, funnel_session) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from liveloop.shops.service import actor_for_staff

    analyst = actor_for_staff(await factories.make_staff(session, shop_id=shop.id, role="analyst"))
    key = await factories.make_api_key(session, actor=analyst)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {key}"},
    ) as http:
        live_id = funnel_session["live"].id
        body = (await http.get(f"{BASE}/live/{live_id}/dropoffs", params={"step": "paid"})).json()
        assert body["masked"] is True and body["people"][0]["name"] == "阿*"
        body = (await http.get(f"{BASE}/live/{live_id}/converted")).json()
        assert [p["name"] for p in body["people"]] == ["阿*", "阿*"]
        # an analyst may not write customers: no segment
        response = await http.post(f"{BASE}/live/{live_id}/dropoffs/segment", json={"step": "paid"})
        assert response.status_code == 403


async def test_one_click_segment_of_a_drop_list(client, session, funnel_session) -> None:  # type: ignore[no-untyped-def]
    live_id = funnel_session["live"].id
    response = await client.post(
        f"{BASE}/live/{live_id}/dropoffs/segment",
        json={"step": "added_to_cart", "name": "看了没加购"},
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["name"] == "看了没加购" and made["count"] == 1  # C (D is a guest)
    members = (
        (
            await session.execute(
                select(SegmentMember.customer_id).where(
                    SegmentMember.segment_id == made["segment_id"]
                )
            )
        )
        .scalars()
        .all()
    )
    assert members == [funnel_session["c"].id]
    segment = await client.get(f"/api/v1/segments/{made['segment_id']}")
    assert segment.status_code == 200 and segment.json()["kind"] == "static"
    again = await client.post(
        f"{BASE}/live/{live_id}/dropoffs/segment",
        json={"step": "added_to_cart", "name": "看了没加购"},
    )
    assert again.status_code == 409
    unnamed = await client.post(f"{BASE}/live/{live_id}/dropoffs/segment", json={"step": "paid"})
    assert unnamed.status_code == 201 and unnamed.json()["count"] == 1  # B


async def test_converted_and_not_converted(client, session, funnel_session) -> None:  # type: ignore[no-untyped-def]
    f = funnel_session
    live_id = f["live"].id
    response = await client.get(f"{BASE}/live/{live_id}/converted")
    assert response.status_code == 200, response.text
    body = response.json()
    # A paid 12,900 - 2,000 coupon = 10,900; F paid 5,000 + 1,000 post = 6,000
    assert [(p["customer_id"], p["paid_fen"]) for p in body["people"]] == [
        (f["a"].id, 10900), (f["f"].id, 6000)
    ]  # fmt: skip
    a, buyer_f = body["people"]
    assert (a["watch_seconds"], a["tier"], a["kind"], a["source"]) == (300, "金卡", "returning",
                                                                        "group")  # fmt: skip
    assert a["clicked"] == [{"product_id": f["tea"].id, "name": "明前龙井", "clicks": 1}]
    assert (buyer_f["in_room"], buyer_f["watch_seconds"]) == (False, 0)
    # converted: (300 + 0) / 2 = 150.0 s; not converted B 490, D 230, C 180, E 60 → 240.0 s
    assert body["summary"] == {
        "converted": {"count": 2, "customers": 2, "watch_seconds_avg": 150.0, "paid_fen": 16900},
        "not_converted": {"count": 4, "customers": 3, "watch_seconds_avg": 240.0, "paid_fen": 0},
    }
    body = (
        await client.get(f"{BASE}/live/{live_id}/converted", params={"group": "not_converted"})
    ).json()
    people = body["people"]
    assert [p["watch_seconds"] for p in people] == [490, 230, 180, 60]
    assert [p["customer_id"] for p in people] == [f["b"].id, None, f["c"].id, f["e"].id]
    assert people[1]["viewer"] == "guest" and people[1]["clicked"][0]["product_id"] == f["cup"].id
    assert (people[2]["kind"], people[2]["city"], people[2]["source"]) == ("new", "上海", "share")

    made = await client.post(
        f"{BASE}/live/{live_id}/converted/segment", json={"group": "not_converted"}
    )
    assert made.status_code == 201 and made.json()["count"] == 3  # B C E (D is a guest)
    made = await client.post(
        f"{BASE}/live/{live_id}/converted/segment", json={"group": "converted"}
    )
    assert made.status_code == 201 and made.json()["count"] == 2


async def test_range_funnel_over_the_session_days(client, session, shop, funnel_session) -> None:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    day = funnel_session["t0"].astimezone(ZoneInfo(shop.timezone or "Asia/Shanghai")).date()
    params = {"from": day.isoformat(), "to": (day.fromordinal(day.toordinal() + 1)).isoformat()}
    response = await client.get(f"{BASE}/range", params=params)
    assert response.status_code == 200, response.text
    # The same five room viewers; E's product page (no session) counts as viewing a product
    # in a shop-wide range: E viewed at 300 → viewed 5. Orders by creation time in range.
    assert counts(response.json()) == [5, 5, 2, 2, 1]
    body = (await client.get(f"{BASE}/range/dropoffs", params={**params, "step": "paid"})).json()
    assert [p["customer_id"] for p in body["people"]] == [funnel_session["b"].id]
    made = await client.post(f"{BASE}/range/dropoffs/segment", json={**params, "step": "paid"})
    assert made.status_code == 201 and made.json()["count"] == 1


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"steps": "entered_room,bought"}, "steps", "unknown_step"),
        ({"steps": "paid,entered_room"}, "steps", "steps_out_of_order"),
        ({"steps": "paid"}, "steps", "too_few_steps"),
        ({"window_seconds": 10}, "window_seconds", "invalid_window"),
        ({"breakdown": "city"}, "breakdown", "unknown_breakdown"),
    ],
)
async def test_bad_funnel_input(client, funnel_session, params, field, code) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(f"{BASE}/live/{funnel_session['live'].id}", params=params)
    assert response.status_code == 422
    error = response.json()["error"] if "error" in response.json() else response.json()
    assert (error["field"], error["code"]) == (field, code)


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"from": "2026-12-05", "to": "2026-12-01"}, "to", "reversed_range"),
        ({"from": "2025-01-01", "to": "2026-12-01"}, "to", "range_too_long"),
        ({"to": "2026-12-01"}, "from", "missing_date"),
        ({"from": "yesterday", "to": "2026-12-01"}, "from", "invalid_date"),
    ],
)
async def test_bad_ranges(client, params, field, code) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(f"{BASE}/range", params=params)
    assert response.status_code == 422
    error = response.json()["error"] if "error" in response.json() else response.json()
    assert (error["field"], error["code"]) == (field, code)


async def test_bad_dropoff_input(client, funnel_session) -> None:  # type: ignore[no-untyped-def]
    url = f"{BASE}/live/{funnel_session['live'].id}/dropoffs"
    for params, field in (
        ({"step": "entered_room"}, "step"),
        ({"step": "checkout_started"}, "step"),
        ({"step": "paid", "push_seconds": 0}, "push_seconds"),
        ({"step": "paid", "limit": 0}, "limit"),
    ):
        response = await client.get(url, params=params)
        assert response.status_code == 422, params
        body = response.json()
        assert (body.get("error") or body)["field"] == field
    bad = await client.post(f"{url}/segment", json={"step": "paid", "extra": 1})
    assert bad.status_code == 422
    group = await client.get(
        f"{BASE}/live/{funnel_session['live'].id}/converted", params={"group": "all"}
    )
    assert group.status_code == 422


async def test_another_shops_session_is_404(client, session, other_shop) -> None:  # type: ignore[no-untyped-def]
    theirs = await make_live_session(session, shop_id=other_shop.id, status="ended")
    for url in (f"{BASE}/live/{theirs.id}", f"{BASE}/live/{theirs.id}/converted"):
        assert (await client.get(url)).status_code == 404
    response = await client.get(f"{BASE}/live/{theirs.id}/dropoffs", params={"step": "paid"})
    assert response.status_code == 404
    response = await client.post(f"{BASE}/live/{theirs.id}/dropoffs/segment", json={"step": "paid"})
    assert response.status_code == 404


async def test_a_session_without_events_is_zeros(client, session, shop) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, status="ended")
    body = (await client.get(f"{BASE}/live/{live.id}", params={"breakdown": "source"})).json()
    assert counts(body) == [0, 0, 0, 0, 0] and body["conversion"] == 0.0
    assert body["breakdown"]["groups"] == []
    body = (await client.get(f"{BASE}/live/{live.id}/converted")).json()
    assert body["total"] == 0 and body["summary"]["not_converted"]["count"] == 0


def test_stock_at_reads_the_movements() -> None:
    history = {"times": [100, 200], "after": [0, 7], "before": 5, "now": 7}
    assert [stock_at(history, t) for t in (50, 100, 150, 200, 999)] == [5, 0, 0, 7, 7]
    assert stock_at({"times": [], "after": [], "before": None, "now": 3}, 10) == 3
