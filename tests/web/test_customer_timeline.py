"""The timeline on the customer page: words, product names looked up once per page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from liveloop.catalog import service as catalog_service
from liveloop.events import service as events_service
from tests import factories
from tests.web.conftest import post_form


@contextmanager
def catalog_queries(database: Any) -> Iterator[list[str]]:
    """The SELECTs on the products and skus tables run inside the block."""
    seen: list[str] = []

    def record(_conn, _cursor, statement: str, *_args: Any) -> None:  # type: ignore[no-untyped-def]
        if re.search(r"\bFROM (products|skus)\b", statement):
            seen.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _shop_history(session, shop, actor, tmp_path: Path) -> Any:  # type: ignore[no-untyped-def]
    customer = await factories.make_customer(session, shop_id=shop.id, name="林晓")
    tea = await factories.make_product(
        session,
        shop_id=shop.id,
        name="明前龙井",
        skus=[{"price_fen": 12800, "specs": {"规格": "250g"}}],
    )
    cup = await factories.make_product(session, shop_id=shop.id, name="青瓷茶杯")
    gone = await factories.make_product(session, shop_id=shop.id, name="已下线礼盒")
    sku = tea.skus[0]
    live = {"live_title": "春茶上新专场", "live_no": 3}
    items = [
        {"type": "live_enter", "properties": {**live, "source": "社群"}},
        {"type": "comment", "properties": {**live, "text": "这个多少钱？"}},
        {"type": "live_leave", "properties": {**live, "watched_seconds": 200}},
        {
            "type": "product_view",
            "product_id": tea.id,
            "properties": {"sku_id": sku.id, "dwell_seconds": 45},
        },
        {"type": "add_to_cart", "product_id": gone.id, "properties": {"quantity": 1}},
        {
            "type": "order",
            "product_id": tea.id,
            "properties": {
                "order_no": "D00001",
                "amount_fen": 47600,
                "lines": [
                    {"product_id": tea.id, "sku_id": sku.id, "quantity": 2, "price_fen": 12800},
                    {"product_id": cup.id, "quantity": 1, "price_fen": 22000},
                ],
            },
        },
        {"type": "pay", "properties": {"amount_fen": 47600, "method": "wechat_pay"}},
        {"type": "crm.call_logged", "properties": {"agent": "小美"}},
    ]
    for index, item in enumerate(items):
        item.update(customer_id=customer.id, occurred_at=f"2024-05-01T12:00:{index:02d}+00:00")
    result = await events_service.ingest_events(session=session, shop_id=shop.id, items=items)
    assert not result.errors, result.errors
    await catalog_service.delete_product(
        session=session, actor=actor, product_id=gone.id, media_dir=tmp_path
    )
    return customer, tea, gone


async def test_timeline_reads_in_words(console, session, shop, actor, database, tmp_path) -> None:
    customer, tea, gone = await _shop_history(session, shop, actor, tmp_path)
    with catalog_queries(database) as queries:
        page = await console.get(f"/console/customers/{customer.id}")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    for words in (
        "进入直播间",
        "直播《春茶上新专场》",
        "“这个多少钱？”",
        "离开直播间",
        "3 分 20 秒",
        "浏览商品",
        "明前龙井 · 250g",
        "停留</span> 45 秒",
        "加购",
        "下单",
        '明前龙井 · 250g × 2 <span class="muted">¥256.00</span>',
        '青瓷茶杯 × 1 <span class="muted">¥220.00</span>',
        "金额</span> ¥476.00",
        "订单号</span> D00001",
        "支付方式</span> 微信支付",
        '<code class="event-type custom">crm.call_logged</code>',
        "agent=小美",
    ):
        assert words in text, words
    assert f'href="/console/products/{tea.id}"' in text
    assert f"#{gone.id}" in text and f'href="/console/products/{gone.id}"' not in text
    assert "live_title=" not in text and "watched_seconds" not in text
    # One lookup of product names and one of SKU specs for the page, not one per event.
    assert len(queries) == 2, queries


async def test_timeline_in_english(console, session, shop, actor, tmp_path) -> None:
    customer, _tea, _gone = await _shop_history(session, shop, actor, tmp_path)
    await post_form(console, "/console/language", {"language": "en"})
    text = re.sub(r"\s+", " ", (await console.get(f"/console/customers/{customer.id}")).text)
    for words in (
        "Entered the live room",
        "Watched</span> 3m 20s",
        "Placed an order",
        "WeChat Pay",
    ):
        assert words in text, words
