"""The post-live report of the hand-worked session in conftest: every section, by hand.

Each expected figure is derived in the comments from the table in conftest's docstring."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from liveloop.analytics import service
from liveloop.analytics.keywords import top_keywords
from liveloop.core.errors import NotFound
from tests.factories.live import make_live_session


async def report_of(session: Any, shop: Any, fixture: dict[str, Any]) -> dict[str, Any]:
    report = await service.generate_live_report(
        session=session, shop_id=shop.id, live_session_id=fixture["live"].id
    )
    return service.report_out(report)


async def test_viewing(session, shop, fixture_session) -> None:  # type: ignore[no-untyped-def]
    f = fixture_session
    viewing = (await report_of(session, shop, f))["viewing"]
    # A, B, C (customers) and the guests G, D; E never entered.
    assert (viewing["uv"], viewing["customer_viewers"], viewing["guest_viewers"]) == (5, 3, 2)
    assert viewing["pv"] == 7  # entries: A 2, B 2, C 1, G 1, D 1
    assert viewing["visits_per_viewer"] == 1.4
    # 500 + 180 + 510 + 30 + 60: B's second tab adds nothing, G's time before the start
    # does not count, C's open visit runs to the end.
    assert viewing["watch_seconds_total"] == 1280
    assert viewing["watch_seconds_avg"] == 256.0
    assert viewing["watch_seconds_median"] == 180.0  # 30, 60, [180], 500, 510
    # In the room at 0 s, 60 s, ... 540 s: A+G, A+B, A+B+C, A+B+C, A+C, C, C, A+C, A+C, A+C+D.
    assert viewing["retention"] == [2, 2, 3, 3, 2, 1, 1, 2, 2, 3]
    # Three at once first at 90 s (A, B and C arriving), again at 500 s.
    assert viewing["peak_online"] == 3
    assert viewing["peak_at"] == (f["t0"] + dt.timedelta(seconds=90)).isoformat()
    assert viewing["peak_minute"] == 1
    channels = {c["source"]: (c["visits"], c["viewers"]) for c in viewing["sources"]["channels"]}
    assert channels == {"direct": (3, 3), "kol": (2, 1), "group": (1, 1), "share": (1, 1)}
    assert [c["source"] for c in viewing["sources"]["channels"]][:2] == ["direct", "kol"]
    links = [(r["link_id"], r["channel"], r["visits"], r["viewers"])
             for r in viewing["sources"]["links"]]  # fmt: skip
    assert links == [(f["kol"].id, "kol", 2, 1), (f["group"].id, "group", 1, 1)]


async def test_interaction(session, shop, fixture_session) -> None:  # type: ignore[no-untyped-def]
    interaction = (await report_of(session, shop, fixture_session))["interaction"]
    # Six shown comments (one before the start) by G, A, B, C; D's was blocked.
    assert (interaction["comments"], interaction["commenters"]) == (6, 4)
    assert interaction["blocked_comments"] == 1
    # On air only: G 20 s, A 30 s in minute 0; A 70 s; B 130 s; C 200 s.
    assert interaction["comments_per_minute"] == [2, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert (interaction["likes"], interaction["likers"]) == (18, 2)  # A 10, C 5 + 3
    assert (interaction["shares"], interaction["viewers_from_shares"]) == (1, 1)
    # Commented, liked or shared: A, B, C, G of the 5 viewers.
    assert interaction["interacting_viewers"] == 4
    assert interaction["interaction_rate"] == 0.8
    assert interaction["questions"] == {"asked": 2, "answered": 1, "askers": 2}
    # 上链接 ×3 → 链接 3; 这个龙井多少钱 + 龙井好喝 → 龙井 2; 好喝 1 (这个, 多少, 主播, 好: stop
    # words or single characters).
    assert interaction["keywords"] == [
        {"word": "链接", "count": 3},
        {"word": "龙井", "count": 2},
        {"word": "好喝", "count": 1},
    ]


async def test_consumption(session, shop, fixture_session) -> None:  # type: ignore[no-untyped-def]
    f = fixture_session
    c = (await report_of(session, shop, f))["consumption"]
    assert (c["orders"], c["paid_orders"]) == (5, 3)  # O1, O2, O4 paid
    assert c["gmv_fen"] == 23800 + 6000 + 17900
    assert (c["refunded_fen"], c["refunded_orders"]) == (11900, 1)  # half of O1's 23,800
    assert c["net_gmv_fen"] == 47700 - 11900
    assert c["aov_fen"] == 15900  # 47,700 / 3
    assert (c["paying_customers"], c["ordering_customers"]) == (3, 4)  # A B E; + C
    assert (c["unpaid_orders"], c["unpaid_fen"], c["closed_unpaid_orders"]) == (1, 12900, 1)
    assert c["conversion_rate"] == 0.6  # 3 paying / 5 viewers
    tea, cup = c["products"]
    assert (tea["product_id"], tea["units"], tea["refunded_units"], tea["sales_fen"]) == (
        f["tea"].id, 3, 1, 23800 + 12900,
    )  # fmt: skip
    assert (tea["orders"], tea["buyers"], tea["clicks"], tea["clickers"]) == (2, 2, 3, 2)
    assert (cup["product_id"], cup["units"], cup["sales_fen"]) == (f["cup"].id, 2, 10000)
    assert (cup["orders"], cup["buyers"], cup["clicks"], cup["clickers"]) == (2, 2, 2, 2)
    coupons = c["coupons"]
    assert (coupons["orders_with_coupon"], coupons["cost_fen"], coupons["claimed_in_room"]) == (
        1, 2000, 2,
    )  # fmt: skip
    assert coupons["coupons"] == [
        {"coupon_id": f["coupon"].id, "title": "直播间立减20", "used": 1, "cost_fen": 2000,
         "gmv_fen": 23800, "claimed_in_room": 2},
    ]  # fmt: skip
    assert c["flash_sales"] == []


async def test_flash_sale_sell_through(session, shop) -> None:  # type: ignore[no-untyped-def]
    """Four units offered at ¥19.90: X buys 2 and pays, Y buys 1 and does not pay, Z buys 1
    and cancels (the unit goes back). Held by orders now: 3; paid 2; sell-through 2 / 4."""
    from liveloop.commerce import orders as orders_service
    from liveloop.commerce.flash import service as flash_service
    from liveloop.commerce.flash.schemas import FlashSaleCreate
    from liveloop.core.database import utcnow
    from liveloop.shops.service import system_actor
    from tests import factories
    from tests.commerce.growth_helpers import pay

    live = await make_live_session(session, shop_id=shop.id, status="ended")
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=10)
    now = utcnow()
    sale = await flash_service.create_flash_sale(
        session=session, shop_id=shop.id,
        data=FlashSaleCreate(sku_id=product.skus[0].id, price_fen=1990, quantity=4,
                             per_customer_limit=2, live_session_id=live.id, title="秒杀龙井",
                             starts_at=now - dt.timedelta(minutes=1),
                             ends_at=now + dt.timedelta(hours=1)),
    )  # fmt: skip
    x, y, z = [await factories.make_customer(session, shop_id=shop.id, name=n) for n in "XYZ"]

    async def buy(who: Any, quantity: int) -> Any:
        return await flash_service.buy_flash_sale(
            session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=who.id,
            quantity=quantity, live_session_id=live.id,
        )  # fmt: skip

    await pay(session, await buy(x, 2))
    await buy(y, 1)
    cancelled = await buy(z, 1)
    await orders_service.cancel_order(
        session=session, shop_id=shop.id, order_id=cancelled.id, reason="不要了",
        actor=system_actor(shop.id),
    )  # fmt: skip
    await session.flush()
    report = await service.generate_live_report(
        session=session, shop_id=shop.id, live_session_id=live.id
    )
    consumption = report.body["consumption"]
    assert consumption["flash_sales"] == [
        {"flash_sale_id": sale.id, "title": "秒杀龙井", "price_fen": 1990, "quantity": 4,
         "held": 3, "paid_units": 2, "sell_through": 0.5},
    ]  # fmt: skip
    # X paid 2 × 1,990 + ¥10 shipping (items under ¥99).
    assert (consumption["gmv_fen"], consumption["paid_orders"]) == (2 * 1990 + 1000, 1)


async def test_users(session, shop, fixture_session) -> None:  # type: ignore[no-untyped-def]
    f = fixture_session
    users = (await report_of(session, shop, f))["users"]

    def table(rows: list[dict[str, Any]]) -> list[tuple[str, int, int, int]]:
        return [(r["key"], r["viewers"], r["buyers"], r["gmv_fen"]) for r in rows]

    # A was first seen after the start: new. B, C and E (a buyer who never entered) existing.
    assert table(users["customers"]) == [("existing", 2, 2, 23900), ("new", 1, 1, 23800)]
    # B paid a mall order before the session; A and E bought for the first time.
    assert users["buyers"] == {
        "first_purchase": {"buyers": 2, "gmv_fen": 23800 + 17900},
        "returning": {"buyers": 1, "gmv_fen": 6000},
    }
    # First entries: A by the group link and C by A's share link are private-domain; B by the
    # KOL link, and the guests G and D with no link, public. A paid 23,800, B 6,000.
    assert table(users["traffic"]) == [("public", 3, 1, 6000), ("private", 2, 1, 23800)]
    assert table(users["tiers"]) == [
        ("金卡", 1, 2, 41700), ("none", 1, 1, 6000), ("银卡", 1, 0, 0),
    ]  # fmt: skip
    assert table(users["lifecycle"]) == [
        ("active", 1, 1, 6000), ("new", 1, 1, 23800), ("at_risk", 1, 0, 0),
        ("unknown", 0, 1, 17900),
    ]  # fmt: skip
    assert table(users["regions"]) == [
        ("浙江省", 2, 2, 29800), ("上海市", 1, 0, 0), ("unknown", 0, 1, 17900),
    ]  # fmt: skip
    # C left the group the day before; E joined during the session.
    assert users["communities"] == [
        {"community_id": f["vip"].id, "name": "VIP 茶友群", "viewers": 1, "buyers": 2}
    ]


async def test_a_session_with_nothing_recorded_is_all_zeros(session, shop) -> None:  # type: ignore[no-untyped-def]
    for status in ("scheduled", "ended"):
        live = await make_live_session(session, shop_id=shop.id, status=status)
        report = await service.generate_live_report(
            session=session, shop_id=shop.id, live_session_id=live.id
        )
        body = report.body
        viewing, interaction, consumption = (
            body["viewing"], body["interaction"], body["consumption"],
        )  # fmt: skip
        assert viewing["uv"] == viewing["pv"] == viewing["peak_online"] == 0
        assert viewing["watch_seconds_avg"] == viewing["watch_seconds_median"] == 0
        assert viewing["peak_at"] is None and viewing["sources"]["channels"] == []
        assert interaction["comments"] == interaction["likes"] == 0
        assert interaction["interaction_rate"] == 0 and interaction["keywords"] == []
        assert consumption["gmv_fen"] == consumption["aov_fen"] == 0
        assert consumption["conversion_rate"] == 0 and consumption["products"] == []
        assert body["users"]["tiers"] == [] and body["users"]["communities"] == []
        if status == "scheduled":
            assert viewing["retention"] == [] and body["session"]["duration_seconds"] == 0
        else:
            assert set(viewing["retention"]) <= {0}


async def test_regenerating_replaces_the_stored_report(session, shop, fixture_session) -> None:  # type: ignore[no-untyped-def]
    f = fixture_session
    first = await service.generate_live_report(
        session=session, shop_id=shop.id, live_session_id=f["live"].id
    )
    assert first.generations == 1 and first.version == service.REPORT_VERSION
    # A late refund of O4's cup: the stored report changes only when regenerated.
    from liveloop.commerce.payments import refunds
    from liveloop.shops.service import system_actor

    o4 = f["orders"][3]
    cup_line = next(line for line in o4.lines if line.product_id == f["cup"].id)
    await refunds.create_refund(
        session=session, shop_id=shop.id, order_id=o4.id,
        lines=[refunds.RefundLineIn(order_line_id=cup_line.id, quantity=1)],
        reason="不要了", actor=system_actor(shop.id),
    )  # fmt: skip
    stored = await service.get_live_report(
        session=session, shop_id=shop.id, live_session_id=f["live"].id
    )
    assert stored.body["consumption"]["refunded_fen"] == 11900
    again = await service.generate_live_report(
        session=session, shop_id=shop.id, live_session_id=f["live"].id
    )
    assert again.id == first.id and again.generations == 2
    assert again.body["consumption"]["refunded_fen"] == 11900 + 5000
    assert again.body["viewing"] == first.body["viewing"]


async def test_another_shops_session_is_not_found(session, shop, other_shop) -> None:  # type: ignore[no-untyped-def]
    theirs = await make_live_session(session, shop_id=other_shop.id, status="ended")
    with pytest.raises(NotFound):
        await service.get_live_report(session=session, shop_id=shop.id, live_session_id=theirs.id)


def test_keywords_count_a_word_once_per_comment_and_skip_filler() -> None:
    assert top_keywords([("龙井龙井", 2), ("好的好的", 5), ("！！！", 3)]) == [
        {"word": "龙井", "count": 2}
    ]
