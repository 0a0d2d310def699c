"""The room snapshot carries the promotion cards on show (coupon, flash sale with its live
remaining, group buy with its open groups): real WebSocket viewers against a real server."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

import httpx
import pytest

from liveloop.live.promotions import KINDS, TOOL_TYPES, RoomPromotions
from tests.live.test_multiprocess import pair, private_redis  # noqa: F401  (fixtures)
from tests.live.wsutil import Viewer, make_token

NOTHING_ON_SHOW = dict.fromkeys((*KINDS, *TOOL_TYPES))

ADDRESS = {
    "recipient_name": "王芳",
    "phone": "13800138000",
    "region": "浙江省",
    "city": "杭州市",
    "detail": "西湖区文三路 1 号",
}


async def call(
    server: dict[str, Any], method: str, path: str, body: dict[str, Any], *, token: str = ""
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token or server['api_key']}"}
    async with httpx.AsyncClient(base_url=server["http"], timeout=30) as client:
        response = await client.request(method, path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def first_sku(server: dict[str, Any]) -> int:
    async with httpx.AsyncClient(base_url=server["http"], timeout=30) as client:
        response = await client.get(
            f"/api/v1/products/{server['product']}",
            headers={"Authorization": f"Bearer {server['api_key']}"},
        )
    assert response.status_code == 200, response.text
    return int(response.json()["skus"][0]["id"])


async def promotions_seen_by_a_new_viewer(
    server: dict[str, Any], room: int, device: str
) -> dict[str, Any]:
    token = make_token(server["settings"], shop_id=server["shop"], room=room, device_id=device)
    viewer = await Viewer.join(server["ws"], room, token)
    try:
        snapshot = await viewer.expect_type("snapshot")
    finally:
        await viewer.close()
    promotions: dict[str, Any] = snapshot["state"]["promotions"]
    return promotions


async def flash_sale(server: dict[str, Any], room: int, sku_id: int, quantity: int) -> int:
    now = dt.datetime.now(dt.UTC)
    sale = await call(
        server, "POST", "/api/v1/flash-sales",
        {"sku_id": sku_id, "price_fen": 990, "quantity": quantity, "per_customer_limit": 1,
         "starts_at": (now - dt.timedelta(minutes=1)).isoformat(),
         "ends_at": (now + dt.timedelta(minutes=30)).isoformat(), "live_session_id": room},
    )  # fmt: skip
    return int(sale["id"])


async def group_buy(server: dict[str, Any], sku_id: int, room: int | None) -> int:
    campaign = await call(
        server, "POST", "/api/v1/group-buys",
        {"title": "两人拼团", "sku_id": sku_id, "group_price_fen": 9900, "group_size": 2,
         "live_session_id": room},
    )  # fmt: skip
    return int(campaign["id"])


async def test_a_late_viewer_sees_the_cards_on_show_and_not_the_ended_ones(
    server: dict[str, Any],
) -> None:
    room = server["rooms"][5]
    settings = server["settings"]
    early = await Viewer.join(
        server["ws"], room, make_token(settings, shop_id=server["shop"], room=room, device_id="e")
    )
    try:
        before = (await early.expect_type("snapshot"))["state"]["promotions"]
        assert before == NOTHING_ON_SHOW
        sku_id = await first_sku(server)

        coupon = await call(
            server, "POST", "/api/v1/coupons",
            {"title": "直播专享券", "kind": "threshold", "amount_off_fen": 2000,
             "threshold_fen": 19900, "valid_days": 3, "total_quantity": 50, "status": "active"},
        )  # fmt: skip
        await call(
            server, "POST", f"/api/v1/coupons/{coupon['id']}/push", {"live_session_id": room}
        )
        sale_id = await flash_sale(server, room, sku_id, quantity=3)
        campaign_id = await group_buy(server, sku_id, room=None)
        await call(
            server, "POST", f"/api/v1/group-buys/{campaign_id}/push", {"live_session_id": room}
        )
        pushed = await early.expect_type("group_buy_push")
        assert pushed["group_buy"]["single_price_fen"] == 19900
        assert pushed["group_buy"]["group_price_fen"] == 9900

        seen = await promotions_seen_by_a_new_viewer(server, room, "late-1")
        assert seen["coupon"]["id"] == coupon["id"]
        assert (seen["flash_sale"]["id"], seen["flash_sale"]["remaining"]) == (sale_id, 3)
        assert seen["group_buy"]["id"] == campaign_id
        assert seen["group_buy"]["groups"] == []

        # A customer grabs a flash unit and opens a group: the next snapshot shows both.
        alice = make_token(
            settings, shop_id=server["shop"], room=room, customer_id=server["alice"], device_id="a"
        )
        await call(
            server, "POST", f"/api/v1/public/flash-sales/{sale_id}/buy",
            {"quantity": 1, "address": ADDRESS}, token=alice,
        )  # fmt: skip
        opened = await call(
            server, "POST", f"/api/v1/public/group-buys/{campaign_id}/groups",
            {"quantity": 1, "address": ADDRESS}, token=alice,
        )  # fmt: skip
        code = opened["group"]["code"]
        await early.expect(lambda m: m.get("type") == "flash_stock" and m["remaining"] == 2)
        await early.expect(lambda m: m.get("type") == "group_buy" and m["event"] == "opened")
        seen = await promotions_seen_by_a_new_viewer(server, room, "late-2")
        assert seen["flash_sale"]["remaining"] == 2
        assert [
            (g["code"], g["seats_taken"], g["group_size"]) for g in seen["group_buy"]["groups"]
        ] == [(code, 1, 2)]

        # Bob joins, then cancels his unpaid order: his seat comes back ("left"), live.
        bob = make_token(
            settings, shop_id=server["shop"], room=room, customer_id=server["bob"], device_id="b"
        )
        joined = await call(
            server, "POST", f"/api/v1/public/group-buys/groups/{code}/join",
            {"quantity": 1, "address": {**ADDRESS, "recipient_name": "李娜"}}, token=bob,
        )  # fmt: skip
        await early.expect(lambda m: m.get("type") == "group_buy" and m["event"] == "joined")
        assert (await promotions_seen_by_a_new_viewer(server, room, "late-f"))["group_buy"][
            "groups"
        ] == []  # full: nothing to join
        await call(
            server, "POST", f"/api/v1/public/orders/{joined['order']['id']}/cancel", {}, token=bob
        )
        left = await early.expect(lambda m: m.get("type") == "group_buy" and m["event"] == "left")
        assert left["group"]["seats_taken"] == 1
        seen = await promotions_seen_by_a_new_viewer(server, room, "late-l")
        assert [g["code"] for g in seen["group_buy"]["groups"]] == [code]

        # The flash sale stops and the group buy is taken down: gone from the snapshot.
        await call(server, "POST", f"/api/v1/flash-sales/{sale_id}/stop", {})
        await call(
            server, "POST", f"/api/v1/group-buys/{campaign_id}/withdraw", {"live_session_id": room}
        )
        await early.expect(
            lambda m: m.get("type") == "promotion_withdraw" and m["kind"] == "group_buy"
        )
        seen = await promotions_seen_by_a_new_viewer(server, room, "late-3")
        assert seen["flash_sale"] is None and seen["group_buy"] is None
        assert seen["coupon"]["id"] == coupon["id"]
    finally:
        await early.close()


async def test_a_room_opening_later_starts_from_the_database(server: dict[str, Any]) -> None:
    """Nobody watches while the sale and the group buy start: the room that opens for the
    first viewer finds them (the messages themselves reached no open room)."""
    room = server["rooms"][4]
    sku_id = await first_sku(server)
    sale_id = await flash_sale(server, room, sku_id, quantity=2)
    campaign_id = await group_buy(server, sku_id, room=room)
    seen = await promotions_seen_by_a_new_viewer(server, room, "first")
    assert (seen["flash_sale"]["id"], seen["flash_sale"]["remaining"]) == (sale_id, 2)
    assert seen["group_buy"]["id"] == campaign_id
    assert seen["coupon"] is None


async def test_pushing_another_sessions_group_buy_is_refused(server: dict[str, Any]) -> None:
    sku_id = await first_sku(server)
    campaign_id = await group_buy(server, sku_id, room=server["rooms"][3])
    async with httpx.AsyncClient(base_url=server["http"], timeout=30) as client:
        response = await client.post(
            f"/api/v1/group-buys/{campaign_id}/push",
            json={"live_session_id": server["rooms"][2]},
            headers={"Authorization": f"Bearer {server['api_key']}"},
        )
        assert response.status_code == 409
        assert response.json()["code"] == "campaign_other_session"
        other = await client.post(
            f"/api/v1/group-buys/{campaign_id}/push",
            json={"live_session_id": server["other_room"]},
            headers={"Authorization": f"Bearer {server['api_key']}"},
        )
        assert other.status_code == 404


# ------------------------------------------------------------------ the state, without a server

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _later(minutes: int) -> str:
    return (NOW + dt.timedelta(minutes=minutes)).isoformat()


def test_cards_follow_the_messages_and_leave_when_they_end() -> None:
    cards = RoomPromotions()
    cards.apply({"type": "coupon_push", "coupon": {"id": 1, "ends_at": _later(10)}})
    cards.apply(
        {"type": "flash_sale", "flash_sale": {"id": 7, "remaining": 5, "state": "active",
                                              "ends_at": _later(30)}}
    )  # fmt: skip
    cards.apply({"type": "flash_stock", "flash_sale_id": 8, "remaining": 0})  # another sale
    cards.apply({"type": "flash_stock", "flash_sale_id": 7, "remaining": 4})
    cards.apply({"type": "group_buy_push", "group_buy": {"id": 3, "ends_at": None, "groups": []}})
    group = {"code": "g1", "campaign_id": 3, "group_size": 2, "seats_taken": 1,
             "status": "open", "expires_at": _later(5)}  # fmt: skip
    cards.apply({"type": "group_buy", "event": "opened", "group": group})
    cards.apply({"type": "group_buy", "event": "opened", "group": {**group, "campaign_id": 4}})
    shown = cards.current(NOW)
    assert shown["coupon"] == {"id": 1, "ends_at": _later(10)}
    assert shown["flash_sale"]["remaining"] == 4
    assert [g["code"] for g in shown["group_buy"]["groups"]] == ["g1"]

    # Past their ends (the coupon's end, the group's deadline) they are left out.
    later = cards.current(NOW + dt.timedelta(minutes=11))
    assert later["coupon"] is None and later["group_buy"]["groups"] == []
    assert later["flash_sale"] is not None

    # A full group leaves the list; a stopped sale and a withdrawn group buy leave the room.
    cards.apply({"type": "group_buy", "event": "joined", "group": {**group, "seats_taken": 2}})
    assert cards.current(NOW)["group_buy"]["groups"] == []
    cards.apply({"type": "flash_sale", "flash_sale": {"id": 6, "state": "stopped"}})
    assert cards.current(NOW)["flash_sale"] is not None  # another sale's end
    cards.apply({"type": "flash_sale", "flash_sale": {"id": 7, "state": "stopped"}})
    cards.apply({"type": "promotion_withdraw", "kind": "group_buy", "id": 99})
    assert cards.current(NOW)["group_buy"] is not None  # another campaign
    cards.apply({"type": "promotion_withdraw", "kind": "group_buy", "id": 3})
    cards.apply({"type": "promotion_withdraw", "kind": "coupon"})
    assert cards.current(NOW) == NOTHING_ON_SHOW


def test_the_snapshot_is_a_copy() -> None:
    cards = RoomPromotions({"group_buy": {"id": 3, "groups": [{"code": "g", "expires_at": None}]}})
    cards.current(NOW)["group_buy"]["groups"].clear()
    assert cards.current(NOW)["group_buy"]["groups"] == [{"code": "g", "expires_at": None}]


@pytest.mark.parametrize("bad", [{"type": "coupon_push"}, {"type": "group_buy", "group": "x"}])
def test_malformed_messages_change_nothing(bad: dict[str, Any]) -> None:
    cards = RoomPromotions()
    cards.apply(bad)
    assert cards.current(NOW) == NOTHING_ON_SHOW


# ------------------------------------------------------------------ two processes on one Redis


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
async def test_both_processes_keep_the_cards_from_the_messages_passing_through(
    pair: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    """Pushed through process A; a viewer joining on process B (the room open there already)
    finds the cards in its snapshot, and finds them gone once they end."""
    room = pair["rooms"][5]
    on_a_http = {**pair, "http": pair["a_http"]}
    watchers = [
        await Viewer.join(
            pair[side], room, make_token(pair["settings"], shop_id=pair["shop"], room=room,
                                         device_id=f"watch-{side}")
        )
        for side in ("a", "b")
    ]  # fmt: skip
    try:
        for watcher in watchers:
            await watcher.expect_type("snapshot")
        coupon = await call(
            on_a_http, "POST", "/api/v1/coupons",
            {"title": "两地券", "kind": "amount_off", "amount_off_fen": 500, "valid_days": 3,
             "total_quantity": 9, "status": "active"},
        )  # fmt: skip
        await call(
            on_a_http, "POST", f"/api/v1/coupons/{coupon['id']}/push", {"live_session_id": room}
        )
        sale_id = await flash_sale(on_a_http, room, await first_sku(on_a_http), quantity=2)
        for watcher in watchers:
            await watcher.expect_type("flash_sale")

        on_b = {**pair, "ws": pair["b"]}
        seen = await promotions_seen_by_a_new_viewer(on_b, room, "late-b")
        assert seen["coupon"]["id"] == coupon["id"]
        assert (seen["flash_sale"]["id"], seen["flash_sale"]["remaining"]) == (sale_id, 2)

        await call(on_a_http, "POST", f"/api/v1/flash-sales/{sale_id}/stop", {})
        await watchers[1].expect(
            lambda m: m.get("type") == "flash_sale" and m["flash_sale"]["state"] == "stopped"
        )
        seen = await promotions_seen_by_a_new_viewer(on_b, room, "later-b")
        assert seen["flash_sale"] is None and seen["coupon"]["id"] == coupon["id"]
    finally:
        for watcher in watchers:
            await watcher.close()


def test_a_tool_card_shows_until_its_show_until_and_null_takes_it_down() -> None:
    cards = RoomPromotions()
    running = {"id": 7, "state": "running", "ends_at": "2026-11-23T12:10:00+00:00"}
    cards.apply({"type": "lottery", "card": running})
    assert cards.current(NOW)["lottery"] == running
    drawn = {**running, "state": "drawn", "show_until": "2026-11-23T12:30:00+00:00"}
    cards.apply({"type": "lottery", "card": drawn})
    assert cards.current(NOW + dt.timedelta(minutes=20))["lottery"] == drawn  # past ends_at
    assert cards.current(NOW + dt.timedelta(minutes=40))["lottery"] is None  # past show_until
    cards.apply({"type": "poll", "card": {"id": 1, "state": "open"}})
    cards.apply({"type": "poll", "card": None})
    assert cards.current(NOW + dt.timedelta(minutes=40)) == NOTHING_ON_SHOW
