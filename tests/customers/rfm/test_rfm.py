"""RFM on a hand-computed shop: five buyers with known orders → known scores and segments."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.errors import InvalidInput
from liveloop.customers import service as customers_service
from liveloop.customers.rfm import service as rfm
from liveloop.shops.service import system_actor
from tests import factories
from tests.customers.rfm.conftest import pay

DAY = dt.timedelta(days=1)


async def buyers(
    session: AsyncSession, shop: Any, skus: dict[str, int], now: dt.datetime
) -> dict[str, Any]:
    """A..E bought as below; F never bought.

    name  last order  orders                monetary
    A     2 days      1 big                 100,000 (shipped free)
    B     10 days     3 small               18,000 (5,000 + 1,000 shipping each)
    C     40 days     2 small               12,000 (+ one 400 days ago: outside the window)
    D     100 days    5 small               30,000
    E     200 days    1 big + 3 small       118,000
    """
    plan = {
        "A": [(2, "big")],
        "B": [(10, "small"), (11, "small"), (12, "small")],
        "C": [(40, "small"), (41, "small"), (400, "small")],
        "D": [(100, "small"), (101, "small"), (102, "small"), (103, "small"), (104, "small")],
        "E": [(200, "big"), (201, "small"), (202, "small"), (203, "small")],
    }
    people: dict[str, Any] = {}
    for name, orders in plan.items():
        customer = await factories.make_customer(session, shop_id=shop.id, name=name)
        address = await factories.make_address(session, shop_id=shop.id, customer_id=customer.id)
        people[name] = customer
        for days_ago, kind in orders:
            await pay(
                session,
                shop_id=shop.id,
                customer_id=customer.id,
                sku_id=skus[kind],
                paid_at=now - days_ago * DAY,
                address_id=address.id,
            )
    people["F"] = await factories.make_customer(session, shop_id=shop.id, name="F")
    # An order placed but never paid counts for nothing.
    await factories.make_order(
        session, shop_id=shop.id, customer_id=people["F"].id, lines=[(skus["big"], 1)]
    )
    return people


async def rows(session: AsyncSession, shop_id: int, people: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for name, customer in people.items():
        found[name] = await rfm.get_customer_rfm(
            session=session, shop_id=shop_id, customer_id=customer.id
        )
    return found


async def test_quintile_scores_and_segments_match_the_hand_computation(
    session: AsyncSession, shop: Any, skus: dict[str, int], now: dt.datetime
) -> None:
    people = await buyers(session, shop, skus, now)
    stats = await rfm.recompute_rfm(session=session, shop_id=shop.id, now=now)
    got = await rows(session, shop.id, people)

    expected = {  # recency, frequency, monetary, R, F, M, segment (average score is 3)
        "A": (2, 1, 100_000, 5, 1, 4, "important_develop"),
        "B": (10, 3, 18_000, 4, 3, 2, "general_develop"),
        "C": (40, 2, 12_000, 3, 2, 1, "general_retain"),
        "D": (100, 5, 30_000, 2, 5, 3, "general_keep"),
        "E": (200, 4, 118_000, 1, 4, 5, "important_keep"),
        "F": (None, 0, 0, 0, 0, 0, "no_purchase"),
    }
    for name, row in got.items():
        assert row is not None, name
        actual = (
            row.recency_days,
            row.frequency,
            row.monetary_fen,
            row.r_score,
            row.f_score,
            row.m_score,
            row.segment,
        )
        assert actual == expected[name], name
    assert stats.customers == 6
    assert stats.buyers == 5
    assert stats.segments["important_develop"] == 1
    assert stats.segments["no_purchase"] == 1
    assert stats.segments["important_value"] == 0
    assert list(stats.segments) == list(rfm.SEGMENTS)


async def test_thresholds_score_by_the_shops_cut_points(
    session: AsyncSession, shop: Any, skus: dict[str, int], now: dt.datetime
) -> None:
    people = await buyers(session, shop, skus, now)
    await rfm.update_settings(
        session=session,
        shop_id=shop.id,
        scoring="thresholds",
        r_thresholds=[7, 30, 90, 180],
        f_thresholds=[2, 3, 4, 5],
        m_thresholds=[10_000, 20_000, 50_000, 100_000],
    )
    await rfm.recompute_rfm(session=session, shop_id=shop.id, now=now)
    got = await rows(session, shop.id, people)
    scores = {name: (r.r_score, r.f_score, r.m_score) for name, r in got.items()}
    # R: ≤7 → 5, ≤30 → 4, ≤90 → 3, ≤180 → 2, else 1. F/M: ≥ last cut → 5 … below first → 1.
    assert scores == {
        "A": (5, 1, 5),
        "B": (4, 3, 2),
        "C": (3, 2, 2),
        "D": (2, 5, 3),
        "E": (1, 4, 5),
        "F": (0, 0, 0),
    }
    # Averages: R 3, F 3, M 3.4 → A: R+ F- M+ = important_develop; E: R- F+ M+.
    assert got["A"].segment == "important_develop"
    assert got["E"].segment == "important_keep"
    assert got["D"].segment == "general_keep"


async def test_ties_share_a_score_and_the_window_is_the_shops(
    session: AsyncSession, shop: Any, skus: dict[str, int], now: dt.datetime
) -> None:
    one = await factories.make_customer(session, shop_id=shop.id, name="one")
    two = await factories.make_customer(session, shop_id=shop.id, name="two")
    for customer in (one, two):
        await pay(
            session, shop_id=shop.id, customer_id=customer.id, sku_id=skus["small"],
            paid_at=now - 50 * DAY,
        )  # fmt: skip
    await rfm.recompute_rfm(session=session, shop_id=shop.id, now=now)
    first = await rfm.get_customer_rfm(session=session, shop_id=shop.id, customer_id=one.id)
    second = await rfm.get_customer_rfm(session=session, shop_id=shop.id, customer_id=two.id)
    assert first is not None and second is not None
    assert (first.r_score, first.f_score, first.m_score) == (1, 1, 1)
    assert (second.r_score, second.f_score, second.m_score) == (1, 1, 1)
    assert first.segment == second.segment == "general_retain"

    await rfm.update_settings(session=session, shop_id=shop.id, window_days=30)
    stats = await rfm.recompute_rfm(session=session, shop_id=shop.id, now=now)
    assert stats.buyers == 0
    assert stats.segments["no_purchase"] == 2


async def test_merged_customers_leave_the_table_and_shops_stay_apart(
    session: AsyncSession, shop: Any, other_shop: Any, skus: dict[str, int], now: dt.datetime
) -> None:
    people = await buyers(session, shop, skus, now)
    stranger = await factories.make_customer(session, shop_id=other_shop.id, name="X")
    await rfm.recompute_rfm(session=session, shop_id=shop.id, now=now)
    await customers_service.delete_customer(
        session=session, actor=system_actor(shop.id), customer_id=people["F"].id
    )
    stats = await rfm.recompute_rfm(session=session, shop_id=shop.id, now=now)
    assert (stats.customers, stats.buyers) == (5, 5)
    assert (
        await rfm.get_customer_rfm(session=session, shop_id=shop.id, customer_id=people["F"].id)
        is None
    )
    assert (
        await rfm.get_customer_rfm(session=session, shop_id=shop.id, customer_id=stranger.id)
        is None
    )
    other = await rfm.recompute_rfm(session=session, shop_id=other_shop.id, now=now)
    assert other.customers == 1 and other.buyers == 0
    # The first shop's rows survive the other shop's recompute.
    assert (await rfm.rfm_distribution(session=session, shop_id=shop.id))["general_keep"] == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"window_days": 0}, "window_days"),
        ({"scoring": "deciles"}, "scoring"),
        ({"scoring": "thresholds"}, "r_thresholds"),
        ({"r_thresholds": [30, 7, 90, 180]}, "r_thresholds"),
        ({"f_thresholds": [1, 2, 3]}, "f_thresholds"),
        ({"lifecycle": {"churn_days": 10}}, "lifecycle.churn_days"),
        ({"lifecycle": {"high_value_segments": ["vip"]}}, "lifecycle.high_value_segments"),
        ({"lifecycle": {"nonsense": 1}}, "lifecycle"),
    ],
)
async def test_bad_settings_are_refused_with_the_field(
    session: AsyncSession, shop: Any, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await rfm.update_settings(session=session, shop_id=shop.id, **changes)
    assert caught.value.field == field
