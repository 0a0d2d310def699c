"""The compiled segment statement selects exactly what a plain-Python reference selects."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.customers.segments.compiler import compile_filter
from liveloop.customers.segments.filters import parse_filter
from tests.customers.segments import world

FILTERS_PER_WORLD = 10


async def _run(
    session: AsyncSession, shop_id: int, data: dict[str, Any], loader: Any = None
) -> set[int]:
    statement = compile_filter(
        parse_filter(data), shop_id=shop_id, now=world.NOW, segment_loader=loader
    )
    return set((await session.execute(statement)).scalars())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    people=st.lists(world.customers(), min_size=2, max_size=6),
    strangers=st.lists(world.customers(), max_size=1),
    filters=st.lists(
        world.leaves() | world.trees(with_segments=True), min_size=4, max_size=FILTERS_PER_WORLD
    ),
    dynamic=world.trees(with_segments=False),
    static_pick=st.lists(st.booleans(), min_size=6, max_size=6),
)
async def test_compiled_filter_equals_reference(
    session, shop, other_shop, people, strangers, filters, dynamic, static_pick
) -> None:
    nested = await session.begin_nested()
    try:
        scaffold = await world.build_scaffold(session, shop.id)
        ids = await world.store(session, shop.id, scaffold, people)
        # Another shop's customers behave alike but must never be selected.
        other = await world.build_scaffold(session, other_shop.id)
        await world.store(session, other_shop.id, other, strangers)
        static_members = [i for i, pick in zip(ids, static_pick, strict=False) if pick]
        dynamic_filter = scaffold.resolve(dynamic)
        await world.store_segments(session, shop.id, scaffold, dynamic_filter, static_members)
        segments = {
            scaffold.segments[0]: ("dynamic", dynamic_filter),
            scaffold.segments[1]: ("static", set(static_members)),
        }
        rows = {s.id: s for s in await _segments(session, shop.id)}
        reference = world.Reference(scaffold, people, segments)
        for generated in filters:
            data = scaffold.resolve(generated)
            got = await _run(session, shop.id, data, rows.get)
            assert got == reference.select(data), data
    finally:
        await nested.rollback()


async def _segments(session: AsyncSession, shop_id: int) -> list[Any]:
    from sqlalchemy import select

    from liveloop.customers.segments.models import Segment

    return list(
        (await session.execute(select(Segment).where(Segment.shop_id == shop_id))).scalars()
    )
