"""The points ledger: grants once per key, spends never overdraw, balances equal the ledger,
expiry is first-in first-out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers.points import service as points
from liveloop.customers.points.models import PointsEntry, PointsSettings
from liveloop.shops.models import AuditEntry
from tests import factories

UTC = dt.UTC


async def test_grant_adds_points_and_a_repeat_with_the_key_changes_nothing(
    session, shop, member
) -> None:
    first = await points.grant_points(
        session=session, shop_id=shop.id, customer_id=member.id, points=30,
        reason="lottery", ref_type="lottery", ref_id=7, idempotency_key="lottery:7:win",
    )  # fmt: skip
    again = await points.grant_points(
        session=session, shop_id=shop.id, customer_id=member.id, points=30,
        reason="lottery", idempotency_key="lottery:7:win",
    )  # fmt: skip
    assert again.id == first.id
    held = await points.get_balance(session=session, shop_id=shop.id, customer_id=member.id)
    assert (held.balance, held.lifetime_earned) == (30, 30)
    assert first.balance_after == 30 and first.delta == 30
    assert first.expires_at is not None


async def test_grant_refuses_bad_amounts_and_other_shops_customers(
    session, shop, other_shop
) -> None:
    stranger = await factories.make_customer(session, shop_id=other_shop.id, name="李雷")
    mine = await factories.make_customer(session, shop_id=shop.id, name="韩梅梅")
    for bad in (0, -5):
        with pytest.raises(InvalidInput) as error:
            await points.grant_points(
                session=session, shop_id=shop.id, customer_id=mine.id, points=bad, reason="manual"
            )
        assert error.value.code == "invalid_points"
    with pytest.raises(NotFound):
        await points.grant_points(
            session=session, shop_id=shop.id, customer_id=stranger.id, points=5, reason="manual"
        )


async def test_spend_takes_all_or_nothing_and_never_goes_negative(session, shop, member) -> None:
    await points.grant_points(
        session=session, shop_id=shop.id, customer_id=member.id, points=100, reason="manual"
    )
    await points.spend_points(session=session, shop_id=shop.id, customer_id=member.id, points=60)
    with pytest.raises(Conflict) as error:
        await points.spend_points(
            session=session, shop_id=shop.id, customer_id=member.id, points=41
        )
    assert error.value.code == "insufficient_points"
    assert "41" in error.value.message and "40" in error.value.message
    held = await points.get_balance(session=session, shop_id=shop.id, customer_id=member.id)
    assert held.balance == 40
    assert await points.check_balances(session=session, shop_id=shop.id) == []


async def test_adjust_is_audited_and_needs_a_reason(session, shop, member, actor) -> None:
    with pytest.raises(InvalidInput):
        await points.adjust_points(
            session=session, actor=actor, customer_id=member.id, delta=10, note=" "
        )
    entry = await points.adjust_points(
        session=session, actor=actor, customer_id=member.id, delta=10, note="客诉补偿"
    )
    assert entry.reason == "manual" and entry.created_by == actor.label
    await points.adjust_points(
        session=session, actor=actor, customer_id=member.id, delta=-4, note="误发"
    )
    audits = (
        (await session.execute(select(AuditEntry).where(AuditEntry.action == "points.adjust")))
        .scalars()
        .all()
    )
    assert [a.details["delta"] for a in audits] == [10, -4]


operation = st.one_of(
    st.tuples(st.just("grant"), st.integers(1, 50)),
    st.tuples(st.just("spend"), st.integers(1, 60)),
    st.tuples(st.just("take_back"), st.integers(1, 60)),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, max_size=12))
async def test_balance_always_equals_the_ledger_and_is_never_negative(
    session, shop, operations
) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id, name="随机")
    model = 0
    for kind, amount in operations:
        if kind == "grant":
            await points.grant_points(
                session=session, shop_id=shop.id, customer_id=customer.id, points=amount,
                reason="manual",
            )  # fmt: skip
            model += amount
        elif kind == "spend":
            try:
                await points.spend_points(
                    session=session, shop_id=shop.id, customer_id=customer.id, points=amount
                )
            except Conflict:
                assert amount > model
            else:
                model -= amount
        else:
            await points.take_back_points(
                session=session, shop_id=shop.id, customer_id=customer.id, points=amount,
                reason="refund",
            )  # fmt: skip
            model -= min(model, amount)
        held = await points.get_balance(session=session, shop_id=shop.id, customer_id=customer.id)
        assert held.balance == model >= 0
    assert await points.check_balances(session=session, shop_id=shop.id) == []


async def test_check_balances_finds_a_balance_that_drifted(session, shop, member) -> None:
    from sqlalchemy import update

    from liveloop.customers.points.models import CustomerPoints

    await points.grant_points(
        session=session, shop_id=shop.id, customer_id=member.id, points=10, reason="manual"
    )
    await session.execute(
        update(CustomerPoints).where(CustomerPoints.customer_id == member.id).values(balance=11)
    )
    assert await points.check_balances(session=session, shop_id=shop.id) == [
        points.BalanceMismatch(member.id, 11, 10)
    ]


# ------------------------------------------------------------------------------ expiry


def at(year: int, month: int = 1, day: int = 1) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=UTC)


async def _grant(session, shop_id: int, customer_id: int, n: int, expires: dt.datetime | None):  # type: ignore[no-untyped-def]
    return await points.grant_points(
        session=session, shop_id=shop_id, customer_id=customer_id, points=n, reason="manual",
        expires_at=expires,
    )  # fmt: skip


async def test_default_expiry_is_the_end_of_the_following_year_in_shop_time() -> None:
    from zoneinfo import ZoneInfo

    policy = PointsSettings(expiry_mode="end_of_following_year", expiry_days=365)
    zone = ZoneInfo("Asia/Shanghai")
    # 2026-12-31 17:00 UTC is already 2027-01-01 01:00 in Shanghai: earned in 2027.
    late = points.expiry_for(policy, earned_at=dt.datetime(2026, 12, 31, 17, tzinfo=UTC), zone=zone)
    assert late == dt.datetime(2029, 1, 1, tzinfo=zone)
    early = points.expiry_for(policy, earned_at=dt.datetime(2026, 6, 1, tzinfo=UTC), zone=zone)
    assert early == dt.datetime(2028, 1, 1, tzinfo=zone)
    assert (
        points.expiry_for(PointsSettings(expiry_mode="never"), earned_at=at(2026), zone=zone)
        is None
    )


async def test_expiry_is_first_in_first_out(session, shop, member) -> None:
    """100 expire 2027, 100 expire 2028, 50 never. Spend 130 (uses all of 2027's and 30 of
    2028's). In 2027: nothing of the first grant is left to expire. Then spend 20 more; in
    2028 what is left of the second grant (50) expires; the 50 that never expire stay."""
    shop_id, customer_id = shop.id, member.id
    await _grant(session, shop_id, customer_id, 100, at(2027))
    await _grant(session, shop_id, customer_id, 100, at(2028))
    await points.grant_points(
        session=session, shop_id=shop_id, customer_id=customer_id, points=50, reason="manual",
        expires_at=at(2100),
    )  # fmt: skip
    await points.spend_points(session=session, shop_id=shop_id, customer_id=customer_id, points=130)
    assert await points.expire_due_points(session=session, now=at(2027, 1, 2), shop_id=shop_id) == 0
    await points.spend_points(session=session, shop_id=shop_id, customer_id=customer_id, points=20)
    assert (
        await points.expire_due_points(session=session, now=at(2028, 1, 2), shop_id=shop_id) == 50
    )
    assert await points.expire_due_points(session=session, now=at(2028, 1, 3), shop_id=shop_id) == 0
    held = await points.get_balance(session=session, shop_id=shop_id, customer_id=customer_id)
    assert held.balance == 50
    assert await points.check_balances(session=session, shop_id=shop_id) == []


async def test_unspent_points_expire_bucket_by_bucket(session, shop, member) -> None:
    shop_id, customer_id = shop.id, member.id
    await _grant(session, shop_id, customer_id, 100, at(2027))
    await _grant(session, shop_id, customer_id, 80, at(2028))
    await points.spend_points(session=session, shop_id=shop_id, customer_id=customer_id, points=30)
    assert (
        await points.expire_due_points(session=session, now=at(2026, 12, 31), shop_id=shop_id) == 0
    )
    assert (
        await points.expire_due_points(session=session, now=at(2027, 1, 1), shop_id=shop_id) == 70
    )
    # spent after the first expiry: comes out of the second grant
    await points.spend_points(session=session, shop_id=shop_id, customer_id=customer_id, points=30)
    assert (
        await points.expire_due_points(session=session, now=at(2028, 6, 1), shop_id=shop_id) == 50
    )
    held = await points.get_balance(session=session, shop_id=shop_id, customer_id=customer_id)
    assert held.balance == 0
    reasons = (
        await session.execute(
            select(PointsEntry.reason, PointsEntry.delta)
            .where(PointsEntry.customer_id == customer_id)
            .order_by(PointsEntry.id)
        )
    ).all()
    assert [tuple(r) for r in reasons] == [
        ("manual", 100), ("manual", 80), ("redeem", -30), ("expire", -70), ("redeem", -30),
        ("expire", -50),
    ]  # fmt: skip


async def test_the_expiry_job_runs_over_every_shop(session, shop, other_shop, member) -> None:
    from liveloop.customers.points.tasks import expire_points

    stranger = await factories.make_customer(session, shop_id=other_shop.id, name="李雷")
    await _grant(session, shop.id, member.id, 10, at(2020))
    await _grant(session, other_shop.id, stranger.id, 7, at(2020))
    assert await expire_points.run(session=session) >= 17
    for shop_id, customer_id in ((shop.id, member.id), (other_shop.id, stranger.id)):
        held = await points.get_balance(session=session, shop_id=shop_id, customer_id=customer_id)
        assert held.balance == 0


step = st.one_of(
    st.tuples(st.just("grant"), st.integers(1, 80), st.integers(0, 400)),
    st.tuples(st.just("spend"), st.integers(1, 120), st.integers(0, 400)),
    st.tuples(st.just("expire"), st.just(0), st.integers(0, 400)),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, max_size=14))
async def test_expiry_matches_a_per_grant_fifo_model(session, shop, steps) -> None:
    """Against a plain model that keeps what is left of every grant and spends the grant
    expiring first: the same points expire and the balance agrees, at every step."""
    customer = await factories.make_customer(session, shop_id=shop.id, name="先进先出")
    clock = at(2026)
    last_expiry = clock
    buckets: list[list[Any]] = []  # [expires_at, left], in expiry order
    for kind, amount, days in steps:
        clock += dt.timedelta(days=days // 4)
        if kind == "grant":
            last_expiry = max(last_expiry, clock + dt.timedelta(days=days))
            await points.grant_points(
                session=session, shop_id=shop.id, customer_id=customer.id, points=amount,
                reason="manual", expires_at=last_expiry, at=clock,
            )  # fmt: skip
            buckets.append([last_expiry, amount])
        elif kind == "spend":
            held = sum(left for _, left in buckets)
            try:
                await points.spend_points(
                    session=session, shop_id=shop.id, customer_id=customer.id, points=amount
                )
            except Conflict:
                assert amount > held
                continue
            for bucket in buckets:
                used = min(bucket[1], amount)
                bucket[1] -= used
                amount -= used
        else:
            expected = sum(left for when, left in buckets if when <= clock)
            for bucket in buckets:
                if bucket[0] <= clock:
                    bucket[1] = 0
            before = await _expired(session, customer.id)
            # (other examples' customers share the shop: count this customer's entries)
            await points.expire_due_points(session=session, now=clock, shop_id=shop.id)
            assert await _expired(session, customer.id) - before == expected
        held = await points.get_balance(session=session, shop_id=shop.id, customer_id=customer.id)
        assert held.balance == sum(left for _, left in buckets)


async def _expired(session, customer_id: int) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    total = await session.execute(
        select(func.coalesce(func.sum(-PointsEntry.delta), 0)).where(
            PointsEntry.customer_id == customer_id, PointsEntry.reason == "expire"
        )
    )
    return int(total.scalar_one())
