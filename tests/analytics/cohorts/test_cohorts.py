"""Retention, LTV and value figures against the hand-computed shop of conftest.py."""

from __future__ import annotations

from typing import Any

from liveloop.analytics.cohorts import service, value

R = "/api/v1/analytics"


async def test_purchase_retention_by_month(session: Any, shop: Any, value_shop: Any) -> None:
    out = await service.retention(session=session, shop_id=shop.id, start=_d("2026-01-01"),
                                  end=_d("2026-04-30"), period="month")  # fmt: skip
    # Jan: A (Jan, Feb, Apr active; A3 is local April 1st) → [1,1,0,1]
    # Feb: B (Feb, Mar) and C (Feb) → [2,1,0]
    assert [(c["cohort"], c["size"], c["counts"]) for c in out["cohorts"]] == [
        ("2026-01-01", 1, [1, 1, 0, 1]),
        ("2026-02-01", 2, [2, 1, 0]),
    ]
    assert out["cohorts"][1]["rates"] == [1.0, 0.5, 0.0]
    # Ending 03-31 local drops A3 (03-31 17:00Z is April 1st 01:00 in Shanghai).
    out = await service.retention(session=session, shop_id=shop.id, start=_d("2026-01-01"),
                                  end=_d("2026-03-31"))  # fmt: skip
    assert out["cohorts"][0]["counts"] == [1, 1, 0]


async def test_retention_by_channel(session: Any, shop: Any, value_shop: Any) -> None:
    out = await service.retention(session=session, shop_id=shop.id, start=_d("2026-01-01"),
                                  end=_d("2026-04-30"), cohort="channel")  # fmt: skip
    # kol: B {0,1} over Feb..Apr; wecom: A {0,1,3}, C {0} over Jan..Apr
    assert [(c["cohort"], c["counts"]) for c in out["cohorts"]] == [
        ("kol", [1, 1, 0]),
        ("wecom", [2, 1, 0, 1]),
    ]


async def test_return_to_live_by_week(session: Any, shop: Any, value_shop: Any) -> None:
    out = await service.retention(session=session, shop_id=shop.id, start=_d("2026-03-02"),
                                  end=_d("2026-03-22"), period="week", activity="live")  # fmt: skip
    # A weeks 03-02, 03-09 (Sun 23:00 local), 03-16 (Mon 00:30 local); B 03-09 only
    assert [(c["cohort"], c["counts"]) for c in out["cohorts"]] == [
        ("2026-03-02", [1, 1, 1]),
        ("2026-03-09", [1, 0]),
    ]
    out = await service.retention(session=session, shop_id=shop.id, start=_d("2026-03-02"),
                                  end=_d("2026-03-22"), period="week", activity="live",
                                  cohort="first_live")  # fmt: skip
    l1, l2 = value_shop["l1"].id, value_shop["l2"].id
    assert {c["cohort"]: c["size"] for c in out["cohorts"]} == {l1: 1, l2: 1}


async def test_ltv_by_cohort(session: Any, shop: Any, value_shop: Any) -> None:
    out = await service.ltv_by_cohort(session=session, shop_id=shop.id, start=_d("2026-01-01"),
                                      end=_d("2026-04-30"))  # fmt: skip
    # Jan (A): 10000, +4000 (Feb), +0, +3000 (Apr)
    # Feb (B, C): 8000 + 1 (C net), +2000 (B2), +0; per customer half up: 4001, 5001, 5001
    assert [
        (c["cohort"], c["customers"], c["revenue_fen"], c["ltv_fen"]) for c in out["cohorts"]
    ] == [
        ("2026-01-01", 1, [10000, 14000, 14000, 17000], [10000, 14000, 14000, 17000]),
        ("2026-02-01", 2, [8001, 10001, 10001], [4001, 5001, 5001]),
    ]


async def test_live_session_roi(client: Any, value_shop: Any) -> None:
    l1 = value_shop["l1"].id
    for kind, fen in (("anchor_fee", 3000), ("ads", 2000)):
        r = await client.post(f"{R}/value/costs", json={"kind": kind, "amount_fen": fen,
                              "spent_on": "2026-01-10", "live_session_id": l1})  # fmt: skip
        assert r.status_code == 201, r.text
    r = await client.get(f"{R}/value/live/{l1}")
    body = r.json()
    # revenue A1 10000 + B1 8000 = 18000; cost 3000 + 2000 + coupon 500 and B1's KOL
    # commission 800 (both computed from the orders) = 6300
    assert body["revenue_fen"] == 18000 and body["orders"] == 2
    assert body["cost_fen"] == 6300 and body["costs_fen"]["coupons"] == 500
    assert body["roas"] == 2.8571 and body["roi"] == 1.8571  # 18000/6300, 11700/6300
    r = await client.post(f"{R}/value/costs", json={"kind": "coupons", "amount_fen": 700,
                          "spent_on": "2026-01-10", "live_session_id": l1})  # fmt: skip
    cost_id = r.json()["id"]
    body = (await client.get(f"{R}/value/live/{l1}")).json()
    assert body["cost_fen"] == 6500 and "coupons" not in body["computed_costs"]
    r = await client.put(f"{R}/value/costs/{cost_id}", json={"kind": "coupons", "amount_fen": 1000,
                         "spent_on": "2026-01-10", "live_session_id": l1})  # fmt: skip
    assert r.json()["amount_fen"] == 1000
    assert (await client.delete(f"{R}/value/costs/{cost_id}")).status_code == 204
    assert (await client.get(f"{R}/value/costs/{cost_id}")).status_code == 404
    assert (
        len((await client.get(f"{R}/value/costs", params={"live_session_id": l1})).json()["items"])
        == 2
    )


async def test_broadcast_and_kol_roi(session: Any, shop: Any, value_shop: Any) -> None:
    kol = value_shop["kol"].id
    for data in ({"kind": "other", "amount_fen": 500, "broadcast_id": 42},
                 {"kind": "anchor_fee", "amount_fen": 1000, "affiliate_id": kol}):  # fmt: skip
        await value.do_create_cost(session=session, shop_id=shop.id,
                                   data=value.CostIn(spent_on="2026-03-01", **data))  # fmt: skip
    out = await value.broadcast_value(session=session, shop_id=shop.id, broadcast_id=42)
    # only B2 (bc-42-7), not C1 (bc-420-1); cost 500 + B2's net commission 200 − 50 = 650
    # ROAS 2000/650 = 3.0769, ROI 1350/650 = 2.0769
    assert (out["revenue_fen"], out["cost_fen"]) == (2000, 650)
    assert (out["roas"], out["roi"]) == (3.0769, 2.0769)
    out = await value.kol_value(session=session, shop_id=shop.id, affiliate_id=kol)
    # 8000 + 2000; cost 1000 + coupon 500 + commission 800 + (200 − 50) = 2450
    assert (out["revenue_fen"], out["cost_fen"]) == (10000, 2450)
    assert out["costs_fen"]["commission"] == 950
    assert (out["roas"], out["roi"]) == (4.0816, 3.0816)  # 10000/2450, 7550/2450


async def test_kol_report(session: Any, shop: Any, value_shop: Any) -> None:
    out = await value.kol_report(session=session, shop_id=shop.id, start=_d("2026-01-01"),
                                 end=_d("2026-04-30"))  # fmt: skip
    rows = [(k["name"], k["orders"], k["gmv_fen"], k["refunds_fen"], k["commission_fen"],
             k["new_customers"]) for k in out["kols"]]  # fmt: skip
    # K: B1 + B2, B1 is B's first purchase; K2: A2 (A bought first in January)
    assert rows == [("茶博主", 2, 10000, 0, 950, 1), ("茶友", 1, 5000, 1000, 0, 0)]


async def test_cac_and_aarrr(session: Any, shop: Any, value_shop: Any) -> None:
    for channel, fen, day in (("wecom", 3001, "2026-01-15"), ("kol", 1000, "2026-02-01"),
                              ("ads", 500, "2026-01-20"), ("kol", 900, "2026-03-01")):  # fmt: skip
        await value.do_create_cost(session=session, shop_id=shop.id, data=value.CostIn(
            kind="ads", amount_fen=fen, spent_on=day, channel=channel))  # fmt: skip
    out = await value.cac_by_channel(session=session, shop_id=shop.id, start=_d("2026-01-01"),
                                     end=_d("2026-02-28"))  # fmt: skip
    # wecom 3001 / 2 (A, C) = 1500.5 → 1501; kol 1000 / 1; ads 500 / 0; share 0 / 1 (E)
    assert {c["channel"]: (c["cost_fen"], c["new_customers"], c["cac_fen"]) for c in out["channels"]} == {
        "ads": (500, 0, None), "kol": (1000, 1, 1000), "share": (0, 1, 0), "wecom": (3001, 2, 1501),
    }  # fmt: skip
    out = await value.aarrr(session=session, shop_id=shop.id, start=_d("2026-02-01"),
                            end=_d("2026-02-28"))  # fmt: skip
    # new in Feb: C, E; C paid. Paid in Feb (local): A2, B1, C1 → 4000 + 8000 + 1 = 12001
    # returning: A (A1 in Jan); B1 is local Feb 1st so B is not. ARPPU 12001/3 → 4000
    assert out["acquisition"] == {"new_customers": 2}
    assert out["activation"] == {"new_paying": 1, "rate": 0.5}
    assert out["retention"] == {"returning_paying": 1, "paying": 3, "rate": 0.3333}
    assert out["revenue"] == {"orders": 3, "revenue_fen": 12001, "arppu_fen": 4000}
    assert out["referral"]["referred_customers"] == 1


async def test_bad_input(client: Any, value_shop: Any) -> None:
    cases = [
        ("/cohorts/retention", {"start": "2026-02-01", "end": "2026-01-01"}, "range_reversed"),
        ("/cohorts/retention", {"start": "2026-02-01"}, "range_unbounded"),
        ("/cohorts/ltv", {"start": "2020-01-01", "end": "2026-01-01"}, "range_too_long"),
        ("/cohorts/retention", {"start": "2026-01-01", "end": "2026-02-01", "period": "day"},
         "unknown_period"),
        ("/cohorts/retention", {"start": "2026-01-01", "end": "2026-02-01", "cohort": "x"},
         "unknown_cohort"),
        ("/value/aarrr", {"end": "2026-02-01"}, "range_unbounded"),
    ]  # fmt: skip
    for path, params, code in cases:
        r = await client.get(R + path, params=params)
        assert r.status_code == 422 and r.json()["code"] == code, (path, r.text)
    r = await client.post(f"{R}/value/costs", json={"kind": "bribe", "amount_fen": 1,
                          "spent_on": "2026-01-01", "channel": "x"})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = await client.post(f"{R}/value/costs", json={"kind": "ads", "amount_fen": 1,
                          "spent_on": "2026-01-01"})  # fmt: skip
    assert r.status_code == 422 and r.json()["code"] == "cost_unassigned"


async def test_other_shop_is_not_found(session: Any, client: Any, other_shop: Any) -> None:
    from tests.factories.live import make_live_session

    theirs = await make_live_session(session, shop_id=other_shop.id, status="ended")
    assert (await client.get(f"{R}/value/live/{theirs.id}")).status_code == 404
    r = await client.post(f"{R}/value/costs", json={"kind": "ads", "amount_fen": 1,
                          "spent_on": "2026-01-01", "live_session_id": theirs.id})  # fmt: skip
    assert r.status_code == 404
    cost = await value.do_create_cost(session=session, shop_id=other_shop.id, data=value.CostIn(
        kind="ads", amount_fen=1, spent_on="2026-01-01", channel="x"))  # fmt: skip
    assert (await client.get(f"{R}/value/costs/{cost.id}")).status_code == 404
    assert (await client.get(f"{R}/value/fission/999999/k-factor")).status_code == 404


def _d(text: str) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(text)
