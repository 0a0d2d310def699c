"""The timeline's words: labels, product names, money, durations and the key=value fallback."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from liveloop.web import i18n
from liveloop.web.timeline import (
    describe_event,
    describe_events,
    format_duration,
    product_ids_of,
    sku_ids_of,
)

ZH = i18n.translations("zh_CN").gettext
EN = i18n.translations("en").gettext
NAMES = {7: "明前龙井", 8: "桂花乌龙"}
SKUS = {70: "250g", 80: "礼盒装"}
AT = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class Row:
    type: str
    properties: dict[str, Any] = field(default_factory=dict)
    product_id: int | None = None
    customer_id: int | None = 1
    id: int = 1
    occurred_at: dt.datetime = AT


def zh(event: Row) -> Any:
    return describe_event(event, gettext=ZH, product_names=NAMES, sku_labels=SKUS)


def texts(entry: Any) -> list[str]:
    return [f"{d.label} {d.text}".strip() for d in entry.details]


@pytest.mark.parametrize(
    ("kind", "chinese", "english"),
    [
        ("view", "访问", "Visited"),
        ("product_view", "浏览商品", "Viewed a product"),
        ("like", "点赞", "Liked"),
        ("comment", "评论", "Commented"),
        ("share", "分享", "Shared"),
        ("add_to_cart", "加购", "Added to cart"),
        ("order", "下单", "Placed an order"),
        ("pay", "支付", "Paid"),
        ("join_group", "入群", "Joined a group"),
        ("coupon_claim", "领券", "Claimed a coupon"),
        ("live_enter", "进入直播间", "Entered the live room"),
        ("live_leave", "离开直播间", "Left the live room"),
    ],
)
def test_known_types_read_as_words(kind: str, chinese: str, english: str) -> None:
    assert zh(Row(kind)).label == chinese
    assert describe_event(Row(kind), gettext=EN, product_names={}).label == english
    assert not zh(Row(kind)).custom


def test_custom_types_are_shown_as_they_are() -> None:
    entry = zh(Row("crm.call_logged", {"minutes": 5}))
    assert entry.label == "crm.call_logged" and entry.custom
    assert texts(entry) == ["minutes=5"]


def test_product_named_with_its_sku_and_deleted_product_as_id() -> None:
    entry = zh(Row("product_view", {"sku_id": 70, "dwell_seconds": 45}, product_id=7))
    assert entry.product is not None
    assert (entry.product.name, entry.product.exists) == ("明前龙井 · 250g", True)
    assert texts(entry) == ["停留 45 秒"]
    gone = zh(Row("add_to_cart", {"sku_id": 99, "quantity": 2}, product_id=404))
    assert gone.product is not None
    assert (gone.product.name, gone.product.exists) == ("#404", False)
    assert texts(gone) == ["× 2"]


def test_money_keys_and_order_lines() -> None:
    lines = [
        {"product_id": 7, "sku_id": 70, "quantity": 2, "price_fen": 12800},
        {"product_id": 8, "quantity": 1, "price_fen": 22000},
        {"product_id": 404, "quantity": 3},
        "not a line",
    ]
    entry = zh(Row("order", {"order_no": "D1", "amount_fen": 47600, "lines": lines}, 7))
    assert texts(entry) == ["订单号 D1", "金额 ¥476.00"]
    assert [(line.text, line.money) for line in entry.lines] == [
        ("明前龙井 · 250g × 2", "¥256.00"),
        ("桂花乌龙 × 1", "¥220.00"),
        ("#404 × 3", ""),
    ]
    odd = zh(Row("pay", {"fee_fen": 150, "amount_fen": "lots", "method": "wechat_pay"}))
    assert texts(odd) == ["fee=¥1.50", "amount_fen=lots", "支付方式 微信支付"]


def test_live_title_comment_quote_and_durations() -> None:
    live = {"live_title": "春茶上新专场", "live_no": 12}
    comment = zh(Row("comment", {**live, "text": " 上链接 "}))
    assert (comment.live, comment.quote, comment.details) == (
        "直播《春茶上新专场》",
        "“上链接”",
        [],
    )
    leave = zh(Row("live_leave", {"live_no": 12, "watched_seconds": 200}))
    assert leave.live == "第 12 场直播"
    assert texts(leave) == ["观看 3 分 20 秒"]
    english = describe_event(
        Row("live_leave", {**live, "watched_seconds": 200}), gettext=EN, product_names={}
    )
    assert [f"{d.label} {d.text}" for d in english.details] == ["Watched 3m 20s"]
    assert english.live == "Live “春茶上新专场”"
    like = zh(Row("like", {**live, "count": 23}))
    assert texts(like) == ["23 次"]


def test_unknown_and_odd_values_fall_back_to_key_value() -> None:
    entry = zh(
        Row(
            "view",
            {
                "page": "mall_home",
                "first_visit": True,
                "utm": {"campaign": "双11", "n": [1, 2]},
                "flag": False,
                "note": "x" * 100,
                "text": 5,
                "empty": None,
            },
        )
    )
    assert texts(entry) == [
        "首次访问",
        "页面 商城首页",
        'utm={"campaign":"双11","n":[1,2]}',
        "flag=false",
        "note=" + "x" * 59 + "…",
        "text=5",
    ]
    assert entry.quote is None


@pytest.mark.parametrize(
    ("seconds", "chinese", "english"),
    [
        (0, "0 秒", "0s"),
        (45, "45 秒", "45s"),
        (120, "2 分钟", "2 min"),
        (200, "3 分 20 秒", "3m 20s"),
        (3725, "1 小时 2 分", "1h 2m"),
        (59.9, "59 秒", "59s"),
    ],
)
def test_format_duration(seconds: float, chinese: str, english: str) -> None:
    assert format_duration(seconds, ZH) == chinese
    assert format_duration(seconds, EN) == english


def test_ids_to_look_up_cover_events_and_order_lines() -> None:
    events = [
        Row("product_view", {"sku_id": 70}, product_id=7),
        Row("order", {"lines": [{"product_id": 8, "sku_id": 80}, {"product_id": "x"}]}, 9),
        Row("comment", {"text": "hi"}),
    ]
    assert product_ids_of(events) == {7, 8, 9}
    assert sku_ids_of(events) == {70, 80}
    assert [e.label for e in describe_events(events, gettext=ZH, product_names={})] == [
        "浏览商品",
        "下单",
        "评论",
    ]
