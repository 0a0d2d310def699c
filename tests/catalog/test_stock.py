"""Stock changes: conditional updates, all-or-nothing reservations, movements, no oversell."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from liveloop.catalog import service as catalog_service
from liveloop.catalog.models import MAX_STOCK, Sku, StockMovement
from liveloop.core.errors import InvalidInput, NotFound
from tests import factories


async def _stock(session, sku_id: int) -> int:
    return (await session.execute(select(Sku.stock).where(Sku.id == sku_id))).scalar_one()


async def _three_skus(session, shop_id: int, stocks=(5, 2, 0)):
    product = await factories.make_product(
        session,
        shop_id=shop_id,
        skus=[
            {"specs": {"规格": f"{(i + 1) * 50}g"}, "price_fen": 1000 * (i + 1), "stock": stock}
            for i, stock in enumerate(stocks)
        ],
    )
    return product, [sku.id for sku in product.skus]


async def test_adjust_stock_adds_and_refuses_to_go_negative(session, shop) -> None:
    product = await factories.make_product(session, shop_id=shop.id, stock=3)
    sku = product.skus[0]
    assert (
        await catalog_service.adjust_stock(
            session=session, shop_id=shop.id, sku_id=sku.id, delta=7, reason="restock"
        )
        == 10
    )
    assert sku.stock == 10  # the loaded object follows the UPDATE
    with pytest.raises(InvalidInput) as caught:
        await catalog_service.adjust_stock(
            session=session, shop_id=shop.id, sku_id=sku.id, delta=-11, reason="damage"
        )
    assert caught.value.code == "insufficient_stock"
    assert caught.value.details[0]["available"] == 10
    assert await _stock(session, sku.id) == 10
    movements = (
        await session.execute(
            select(StockMovement.delta, StockMovement.stock_after, StockMovement.reason)
            .where(StockMovement.sku_id == sku.id)
            .order_by(StockMovement.id)
        )
    ).all()
    assert [tuple(m) for m in movements] == [(3, 3, "initial"), (7, 10, "restock")]


async def test_adjust_stock_of_another_shop_is_not_found(session, shop, other_shop) -> None:
    product = await factories.make_product(session, shop_id=other_shop.id, stock=3)
    with pytest.raises(NotFound):
        await catalog_service.adjust_stock(
            session=session, shop_id=shop.id, sku_id=product.skus[0].id, delta=1, reason="x"
        )
    assert await _stock(session, product.skus[0].id) == 3


async def test_reserve_lists_every_short_line_and_changes_nothing(session, shop) -> None:
    product, (a, b, c) = await _three_skus(session, shop.id, stocks=(5, 2, 0))
    with pytest.raises(InvalidInput) as caught:
        await catalog_service.reserve_stock(
            session=session, shop_id=shop.id, lines=[(c, 1), (a, 4), (b, 2), (b, 1)]
        )
    error = caught.value
    assert error.code == "insufficient_stock"
    assert [(d["sku_id"], d["wanted"], d["available"]) for d in error.details] == [
        (b, 3, 2),
        (c, 1, 0),
    ]
    assert error.details[0]["name"] == f"{product.name} 100g"
    # a alone had enough and was decremented inside the savepoint; it must be back.
    assert [await _stock(session, s) for s in (a, b, c)] == [5, 2, 0]
    reasons = (
        await session.execute(select(StockMovement.reason).where(StockMovement.shop_id == shop.id))
    ).scalars()
    assert "reserve" not in set(reasons)


async def test_reserve_and_release_round_trip(session, shop) -> None:
    _, (a, b, _c) = await _three_skus(session, shop.id)
    left = await catalog_service.reserve_stock(
        session=session, shop_id=shop.id, lines=[(b, 2), (a, 1)]
    )
    assert left == {a: 4, b: 0}
    back = await catalog_service.release_stock(
        session=session, shop_id=shop.id, lines=[(a, 1), (b, 2)]
    )
    assert back == {a: 5, b: 2}


async def test_reserve_refuses_inactive_sku_and_unknown_sku(session, shop) -> None:
    _, (a, _b, _c) = await _three_skus(session, shop.id)
    await catalog_service.set_sku_active(session=session, shop_id=shop.id, sku_id=a, active=False)
    with pytest.raises(InvalidInput) as caught:
        await catalog_service.reserve_stock(session=session, shop_id=shop.id, lines=[(a, 1)])
    assert caught.value.details[0]["code"] == "sku_inactive"
    with pytest.raises(NotFound):
        await catalog_service.reserve_stock(session=session, shop_id=shop.id, lines=[(987654, 1)])
    with pytest.raises(InvalidInput, match="at least 1"):
        await catalog_service.reserve_stock(session=session, shop_id=shop.id, lines=[(a, 0)])


async def test_record_sold_counts_and_never_goes_negative(session, shop) -> None:
    product = await factories.make_product(session, shop_id=shop.id)
    sku = product.skus[0]
    await catalog_service.record_sold(session=session, shop_id=shop.id, lines=[(sku.id, 3)])
    await catalog_service.record_sold(session=session, shop_id=shop.id, lines=[(sku.id, -5)])
    assert sku.sold_count == 3
    await catalog_service.record_sold(session=session, shop_id=shop.id, lines=[(sku.id, -1)])
    assert sku.sold_count == 2


line = st.tuples(st.integers(0, 2), st.integers(1, 3))
operation = st.one_of(
    st.tuples(st.just("reserve"), st.lists(line, min_size=1, max_size=3)),
    st.tuples(st.just("release"), st.integers(0, 20)),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.lists(st.integers(0, 6), min_size=3, max_size=3),
    operations=st.lists(operation, max_size=15),
)
async def test_reservations_never_oversell(session, shop, initial, operations) -> None:
    """Any sequence of reserve/release: stock ≥ 0 and stock + reserved == initial, always;
    a reservation fails exactly when the model says a line is short."""
    _, ids = await _three_skus(session, shop.id, stocks=tuple(initial))
    model = dict(zip(ids, initial, strict=True))
    reservations: list[list[tuple[int, int]]] = []
    for kind, argument in operations:
        if kind == "reserve":
            lines = [(ids[index], quantity) for index, quantity in argument]
            wanted: dict[int, int] = {}
            for sku_id, quantity in lines:
                wanted[sku_id] = wanted.get(sku_id, 0) + quantity
            short = sorted(s for s, q in wanted.items() if model[s] < q)
            try:
                await catalog_service.reserve_stock(session=session, shop_id=shop.id, lines=lines)
            except InvalidInput as error:
                assert [d["sku_id"] for d in error.details] == short
            else:
                assert short == []
                for sku_id, quantity in wanted.items():
                    model[sku_id] -= quantity
                reservations.append(lines)
        elif reservations:
            lines = reservations.pop(argument % len(reservations))
            await catalog_service.release_stock(session=session, shop_id=shop.id, lines=lines)
            for sku_id, quantity in lines:
                model[sku_id] += quantity
        reserved = {sku_id: 0 for sku_id in ids}
        for lines in reservations:
            for sku_id, quantity in lines:
                reserved[sku_id] += quantity
        for sku_id, start in zip(ids, initial, strict=True):
            stock = await _stock(session, sku_id)
            assert stock == model[sku_id] >= 0
            assert stock + reserved[sku_id] == start


async def test_adjust_stock_refuses_to_pass_the_stock_limit(session, shop) -> None:
    product = await factories.make_product(session, shop_id=shop.id, stock=MAX_STOCK - 5)
    sku = product.skus[0]
    with pytest.raises(InvalidInput) as caught:
        await catalog_service.adjust_stock(
            session=session, shop_id=shop.id, sku_id=sku.id, delta=6, reason="restock"
        )
    assert caught.value.code == "stock_limit"
    new_stock = await catalog_service.adjust_stock(
        session=session, shop_id=shop.id, sku_id=sku.id, delta=5, reason="restock"
    )
    assert new_stock == MAX_STOCK
