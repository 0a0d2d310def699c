"""The dashboard snapshot of the hand-worked session in conftest, figure by figure.

Each expected figure is derived in the comments from the table in conftest's docstring."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from liveloop.analytics.realtime import service
from liveloop.core.database import utcnow
from liveloop.core.errors import NotFound
from tests.factories.live import make_live_session


async def snapshot_of(session: Any, shop: Any, worked: dict[str, Any], **options: Any) -> Any:
    return await service.realtime_snapshot(
        session=session, shop_id=shop.id, live_session_id=worked["live"].id,
        now=worked["now"], **options,
    )  # fmt: skip


async def test_audience_figures(session, shop, worked) -> None:  # type: ignore[no-untyped-def]
    figures = (await snapshot_of(session, shop, worked))["figures"]
    # Still in the room at NOW: A (since 400), C (since 90), H (since 590); nobody counted twice.
    assert (figures["online"], figures["online_source"]) == (3, "events")
    # Four at once at 590 s: A, C, D (until 595) and H arriving.
    assert figures["peak_online"] == 4
    assert figures["viewers"] == 6  # A B C G D H; E never entered
    # A and G watched an earlier session of this shop; B's other session began after T0 and
    # D's device was seen by another shop only.
    assert (figures["returning_viewers"], figures["new_viewers"]) == (2, 4)
    # (500 + 180 + 510 + 30 + 95 + 10) / 6 = 1325 / 6
    assert figures["watch_seconds_avg"] == 220.8


async def test_interaction_and_commerce_figures(session, shop, worked) -> None:  # type: ignore[no-untyped-def]
    figures = (await snapshot_of(session, shop, worked))["figures"]
    assert figures["comments"] == 8  # nine written, D's blocked; G's before the start counts
    assert figures["comments_last_minute"] == 1  # (540, 600]: H at 595 (C at 540 is just out)
    assert figures["likes"] == 18  # A 10, C 5 + 3
    assert figures["shares"] == 2  # share links of A and of H's device
    assert (figures["product_clicks"], figures["add_to_cart"]) == (6, 4)
    assert (figures["orders"], figures["paid_orders"], figures["paying_customers"]) == (5, 3, 3)
    assert figures["gmv_fen"] == 25800 + 6000 + 17900  # O1 O2 O4, the refund beside it
    assert figures["refunded_fen"] == 12900
    assert figures["conversion_rate"] == 0.5  # A B E paying / 6 viewers


async def test_series_per_minute(session, shop, worked) -> None:  # type: ignore[no-untyped-def]
    series = (await snapshot_of(session, shop, worked))["series"]
    assert series["minutes"] == list(range(10))
    # In the room at 0, 60, ... 540 s: A+G, A+B, A+B+C, A+B+C, A+C, C, C, A+C, A+C, A+C+D.
    assert series["online"] == [2, 2, 3, 3, 2, 1, 1, 2, 2, 3]
    # On air only: G 20, A 30 | A 70 | B 130 | C 200 | ... | C 540, H 595.
    assert series["comments"] == [2, 1, 1, 1, 0, 0, 0, 0, 0, 2]
    # Placed at 90, 160, 200, 250, 310 s; paid at 100, 170, 330 s.
    assert series["orders"] == [0, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert series["gmv_fen"] == [0, 25800, 6000, 0, 0, 17900, 0, 0, 0, 0]
    assert sum(series["gmv_fen"]) == 49700


async def test_products_and_stock(session, shop, worked) -> None:  # type: ignore[no-untyped-def]
    products = (await snapshot_of(session, shop, worked))["products"]
    rows = [(p["product_id"], p["name"], p["position"], p["clicks"], p["carts"], p["orders"],
             p["paid_units"], p["gmv_fen"], p["stock"]) for p in products]  # fmt: skip
    assert rows == [
        # tea: orders O1 O3 O4 O5; paid units 2 + 1; 25,800 + 12,900; stock 20 - 2 - 1 - 1 - 1,
        # + 1 (O5 cancelled) + 1 (O1's unshipped refund)
        (worked["tea"].id, "明前龙井", 0, 3, 3, 4, 3, 38700, 17),
        # cup: O2 and O4 (shipping is the order's, not the product's); 10 - 2
        (worked["cup"].id, "白瓷杯", 1, 2, 1, 2, 2, 10000, 8),
        # scarf: not in the line-up, clicked once by H
        (worked["scarf"].id, "丝巾", None, 1, 0, 0, 0, 0, 5),
    ]


async def test_traffic_sources(session, shop, worked) -> None:  # type: ignore[no-untyped-def]
    sources = (await snapshot_of(session, shop, worked))["sources"]
    channels = [(c["source"], c["visits"], c["viewers"]) for c in sources["channels"]]
    assert channels == [
        ("direct", 2, 2),  # A's second entry, H
        ("kol", 2, 1),  # B's two tabs
        ("broadcast", 1, 1),  # G
        ("group", 1, 1),  # A
        ("reminder", 1, 1),  # D
        ("share", 1, 1),  # C
    ]
    links = [(r["link_id"], r["channel"], r["visits"], r["viewers"]) for r in sources["links"]]
    assert links == [(worked["kol"].id, "kol", 2, 1), (worked["group"].id, "group", 1, 1)]


async def test_room_count_is_online_now(session, shop, worked) -> None:  # type: ignore[no-untyped-def]
    figures = (await snapshot_of(session, shop, worked, room_online=5))["figures"]
    assert (figures["online"], figures["online_source"]) == (5, "room")
    assert figures["peak_online"] == 5  # never below online now


async def test_ended_session_has_nobody_online(session, shop, worked) -> None:  # type: ignore[no-untyped-def]
    live = worked["live"]
    live.status, live.ended_at = "ended", worked["now"]
    body = await snapshot_of(session, shop, worked, room_online=2)
    assert body["figures"]["online"] == 0
    assert body["figures"]["peak_online"] == 4
    assert body["session"]["duration_seconds"] == 600


async def test_a_session_with_no_events_shows_zeros(session, shop) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, status="live")
    now = utcnow()
    live.started_at = now - dt.timedelta(seconds=90)
    body = await service.realtime_snapshot(
        session=session, shop_id=shop.id, live_session_id=live.id, now=now
    )
    assert set(body["figures"].values()) == {0, "events"}
    assert body["series"] == {
        "minutes": [0, 1], "online": [0, 0], "comments": [0, 0], "orders": [0, 0],
        "gmv_fen": [0, 0],
    }  # fmt: skip
    assert body["products"] == []
    assert body["sources"] == {"channels": [], "links": []}


async def test_a_session_of_another_shop_is_not_found(session, shop, other_shop) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=other_shop.id, status="live")
    with pytest.raises(NotFound):
        await service.realtime_snapshot(session=session, shop_id=shop.id, live_session_id=live.id)


async def test_viewing_figures_agree_with_the_post_live_report(session, shop, worked) -> None:  # type: ignore[no-untyped-def]
    """The dashboard reads the stays once; the report's helpers read them figure by figure."""
    from liveloop.analytics.expressions import epoch_of
    from liveloop.analytics.viewing import Window, viewing_section

    t0, now = worked["t0"], worked["now"]
    viewing = await viewing_section(
        session=session, shop_id=shop.id, live_session_id=worked["live"].id,
        window=Window(epoch_of(t0), epoch_of(now)),
    )  # fmt: skip
    body = await snapshot_of(session, shop, worked)
    assert body["figures"]["peak_online"] == viewing["peak_online"]
    assert body["figures"]["viewers"] == viewing["uv"]
    assert body["figures"]["watch_seconds_avg"] == viewing["watch_seconds_avg"]
    assert body["series"]["online"] == viewing["retention"]
    from liveloop.analytics.interaction import _comments_per_minute

    comments = await _comments_per_minute(
        session, shop.id, worked["live"].id, Window(epoch_of(t0), epoch_of(now))
    )
    assert body["series"]["comments"] == comments
