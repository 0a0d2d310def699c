"""The line-up is read on a hot path (public room info, every room opening): its products load
together, in a fixed number of statements however long the line-up is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.live.lineups import get_lineup
from tests import factories
from tests.factories.live import make_live_session


@contextmanager
def statements(session: AsyncSession) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = session.bind.engine.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _count(session: AsyncSession, shop_id: int, products: int) -> tuple[int, list[str]]:
    made = [
        await factories.make_product(session, shop_id=shop_id, name=f"茶 {i}", price_fen=100 + i)
        for i in range(products)
    ]
    live = await make_live_session(
        session, shop_id=shop_id, product_ids=[p.id for p in reversed(made)]
    )
    live_id = live.id
    session.expunge_all()  # nothing cached: every product comes from the database
    live = await _reload(session, live_id)
    with statements(session) as seen:
        lineup = await get_lineup(session=session, live_session=live)
    assert [p.name for p in lineup] == [f"茶 {i}" for i in reversed(range(products))]
    assert all(p.skus for p in lineup)  # SKUs loaded with them
    return len(seen), seen


async def _reload(session: AsyncSession, live_session_id: int) -> Any:
    from liveloop.live.models import LiveSession

    return await session.get(LiveSession, live_session_id)


async def test_the_lineup_loads_in_a_fixed_number_of_statements(session, shop) -> None:  # type: ignore[no-untyped-def]
    few, _ = await _count(session, shop.id, 2)
    many, seen = await _count(session, shop.id, 8)
    # The line-up ids, the products, their SKUs and their images.
    assert few == many <= 4, seen


async def test_get_products_leaves_out_other_shops_and_unknown_ids(  # type: ignore[no-untyped-def]
    session, shop, other_shop
) -> None:
    mine = await factories.make_product(session, shop_id=shop.id, name="本店")
    theirs = await factories.make_product(session, shop_id=other_shop.id, name="别家")
    found = await catalog_service.get_products(
        session=session, shop_id=shop.id, product_ids=[mine.id, theirs.id, 10**9]
    )
    assert list(found) == [mine.id]
    assert (
        await catalog_service.get_products(session=session, shop_id=shop.id, product_ids=[]) == {}
    )
