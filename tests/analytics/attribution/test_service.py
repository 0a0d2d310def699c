"""Attribution over the hand-built session of conftest: every model per channel and per
touchpoint, the date range, the lookback window, one order's journey, and bad input.

Journeys (oldest first) and the orders' values:
  OA 10,000: channel_code (T0-10 d), broadcast #7 (T0), live session (T0)
  OB  5,000: kol 茶博主 (T0+10), live session (T0+10)   (OLDSHARE is 40 days old: outside)
  OC  3,001: share SHAREX, live session (both from the order itself, at T0+300)
Total paid 18,001.
"""

from __future__ import annotations

from typing import Any

from liveloop.core.database import utcnow
from tests.factories.live import make_live_session

BASE = "/api/v1/analytics/attribution"


def by_channel(body: dict[str, Any]) -> dict[str, Any]:
    return {row["key"]: row["revenue_fen"] for row in body["rows"] if row["orders_touched"]}


async def get(client: Any, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(BASE + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_model_per_channel_for_the_session(client, attribution_session) -> None:  # type: ignore[no-untyped-def]
    live_id = attribution_session["live"].id
    body = await get(client, "/compare", live_session_id=live_id, half_life_days=1)
    assert body["orders"] == 3 and body["revenue_fen"] == 18001
    rows = {row["key"]: row for row in body["rows"]}
    revenue = {key: row["revenue_fen"] for key, row in rows.items() if row["orders_touched"]}
    # first touch: OA → channel_code, OB → kol, OC → share (the order's share code first)
    assert {k: v["first_touch"] for k, v in revenue.items()} == {
        "channel_code": 10000, "broadcast": 0, "kol": 5000, "share": 3001, "live_session": 0,
    }  # fmt: skip
    # last touch: the session comes last in every journey
    assert revenue["live_session"]["last_touch"] == 18001
    # linear: OA 3334/3333/3333, OB 2500/2500, OC 1501/1500 (the tie's fen to the earlier)
    assert {k: v["linear"] for k, v in revenue.items()} == {
        "channel_code": 3334, "broadcast": 3333, "kol": 2500, "share": 1501,
        "live_session": 3333 + 2500 + 1500,
    }  # fmt: skip
    # position based: OA 4000/2000/4000, OB and OC 50/50 as linear
    assert {k: v["position_based"] for k, v in revenue.items()} == {
        "channel_code": 4000, "broadcast": 2000, "kol": 2500, "share": 1501,
        "live_session": 4000 + 2500 + 1500,
    }  # fmt: skip
    # time decay, half-life 1 day: OA's channel code is 10 days older than its other two
    # touches → weights 1/1024, 1, 1: 10000 × 1/2049 = 4.88, × 1024/2049 = 4997.56 twice;
    # floors 9998, the 2 fen to .88 then the first .56 → 5, 4998, 4997. OB, OC as linear.
    assert {k: v["time_decay"] for k, v in revenue.items()} == {
        "channel_code": 5, "broadcast": 4998, "kol": 2500, "share": 1501,
        "live_session": 4997 + 2500 + 1500,
    }  # fmt: skip
    # data driven: paths cc→bc→live, kol→live, share→live convert; D's live → null.
    # P(conv) = 3/4; removing live → 0 (effect 1); removing any other → 9/16 (effect 1/4).
    # OA: 1/4, 1/4, 1 → 1666.67 ×2, 6666.67 → 1667, 1667, 6666
    # OB: 1/4, 1 → 1000, 4000.  OC: 600.2, 2400.8 → 600, 2401
    assert body["removal_effects"] == {
        "broadcast": 0.25, "channel_code": 0.25, "kol": 0.25, "live_session": 1.0, "share": 0.25,
    }  # fmt: skip
    assert {k: v["data_driven"] for k, v in revenue.items()} == {
        "channel_code": 1667, "broadcast": 1667, "kol": 1000, "share": 600,
        "live_session": 6666 + 4000 + 2401,
    }  # fmt: skip
    for model in body["models"]:
        assert sum(row["revenue_fen"][model] for row in body["rows"]) == 18001
        assert round(sum(row["orders"][model] for row in body["rows"]), 3) == 3
    # fractional orders: linear gives the session 1/3 + 1/2 + 1/2
    assert rows["live_session"]["orders"]["linear"] == round(1 / 3 + 1, 4)
    assert rows["live_session"]["orders_touched"] == 3 and rows["direct"]["orders_touched"] == 0


async def test_one_model_per_touchpoint(client, attribution_session) -> None:  # type: ignore[no-untyped-def]
    fx = attribution_session
    body = await get(client, "", model="linear", live_session_id=fx["live"].id, by="touchpoint")
    assert body["model"] == "linear" and body["revenue_fen"] == 18001
    rows = {row["key"]: row for row in body["rows"]}
    assert set(rows) == {
        f"channel_code:{fx['store'].id}", "broadcast:7", f"entry_link:{fx['kol'].id}",
        "share:SHAREX", f"live:{fx['live'].id}",
    }  # fmt: skip
    assert rows["broadcast:7"]["revenue_fen"] == 3333 and rows["broadcast:7"]["label"] == "#7"
    assert rows[f"entry_link:{fx['kol'].id}"]["label"] == "茶博主"
    assert rows[f"entry_link:{fx['kol'].id}"]["channel"] == "kol"
    assert rows[f"channel_code:{fx['store'].id}"]["label"] == "门店码"
    assert rows[f"live:{fx['live'].id}"] == {
        "key": f"live:{fx['live'].id}", "channel": "live_session", "label": "茶季专场",
        "revenue_fen": 7333, "orders": round(1 / 3 + 1, 4), "orders_touched": 3,
    }  # fmt: skip


async def test_lookback_window_and_date_range(client, attribution_session) -> None:  # type: ignore[no-untyped-def]
    fx = attribution_session
    # 5 days: OA's channel code (10 days before) drops out → OA 5000 broadcast / 5000 live
    body = await get(client, "", model="linear", live_session_id=fx["live"].id, lookback_days=5)
    assert by_channel(body) == {
        "broadcast": 5000, "kol": 2500, "share": 1501, "live_session": 5000 + 2500 + 1500,
    }  # fmt: skip
    # the days around T0 hold OA, OB, OC (B's 40-day-old mall order is outside); with a
    # 60-day lookback OB's old share-link entry and old session come into its journey:
    # OB: share OLDSHARE, old session, kol, session → 1250 each
    day = fx["t0"].date()
    body = await get(
        client, "", model="linear", lookback_days=60,
        **{"from": str(day.replace(day=1) if day.day > 1 else day), "to": str(utcnow().date())},
    )  # fmt: skip
    assert body["orders"] == 3 and body["revenue_fen"] == 18001
    assert by_channel(body) == {
        "channel_code": 3334, "broadcast": 3333, "kol": 1250, "share": 1250 + 1501,
        "live_session": 3333 + 1250 + 1250 + 1500,
    }  # fmt: skip


async def test_one_orders_journey(client, attribution_session) -> None:  # type: ignore[no-untyped-def]
    order = attribution_session["orders"]["a"]
    body = await get(client, f"/orders/{order.id}")
    assert body["value_fen"] == 10000 and body["number"] == "AT-A"
    assert [t["channel"] for t in body["touchpoints"]] == [
        "channel_code", "broadcast", "live_session",
    ]  # fmt: skip
    assert [t["credit_fen"]["linear"] for t in body["touchpoints"]] == [3334, 3333, 3333]
    assert [t["credit_fen"]["position_based"] for t in body["touchpoints"]] == [4000, 2000, 4000]
    for model in ("first_touch", "last_touch", "time_decay", "data_driven"):
        assert sum(t["credit_fen"][model] for t in body["touchpoints"]) == 10000


async def test_no_orders_is_zeros(client, session, shop) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, status="ended")
    body = await get(client, "/compare", live_session_id=live.id)
    assert body["orders"] == 0 and body["revenue_fen"] == 0
    assert all(all(v == 0 for v in row["revenue_fen"].values()) for row in body["rows"])


async def test_bad_input_and_other_shops(client, session, other_shop, attribution_session) -> None:  # type: ignore[no-untyped-def]
    live_id = attribution_session["live"].id
    cases = [
        ({"model": "magic", "live_session_id": live_id}, "model", "unknown_model"),
        ({"models": "linear,magic", "live_session_id": live_id}, "models", "unknown_model"),
        ({"by": "region", "live_session_id": live_id}, "by", "unknown_breakdown"),
        ({"lookback_days": 0, "live_session_id": live_id}, "lookback_days", "invalid_lookback"),
        ({"half_life_days": 0, "live_session_id": live_id}, "half_life_days", "invalid_half_life"),
        ({}, "from", "missing_date"),
        ({"from": "2026-12-05", "to": "2026-12-01"}, "to", "reversed_range"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "to", "range_too_long"),
        ({"from": "yesterday", "to": "2026-01-01"}, "from", "invalid_date"),
    ]
    for params, field, code in cases:
        path = "/compare" if "models" in params else ""
        response = await client.get(BASE + path, params=params)
        assert response.status_code == 422, (params, response.text)
        error = response.json()
        assert error["field"] == field and error["code"] == code, error
    theirs = await make_live_session(session, shop_id=other_shop.id, status="ended")
    assert (await client.get(BASE, params={"live_session_id": theirs.id})).status_code == 404
    assert (await client.get(f"{BASE}/orders/999999")).status_code == 404
    models = (await client.get(f"{BASE}/models")).json()
    assert "data_driven" in models["models"] and "broadcast" in models["channels"]
