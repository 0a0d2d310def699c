"""KOL commission: attribution by code, pending → settled, reversal on partial and full refunds."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from liveloop.commerce import orders as orders_service
from liveloop.commerce.affiliates import service as affiliates
from liveloop.commerce.affiliates.models import AffiliateOrder, Commission
from liveloop.commerce.affiliates.schemas import AffiliateCreate, CodeCreate, ProductRateIn
from liveloop.commerce.payments import refunds as refunds_service
from liveloop.commerce.payments.refunds import RefundLineIn
from liveloop.core.errors import Conflict
from liveloop.shops.service import system_actor
from tests import factories
from tests.commerce.growth_helpers import pay


@pytest.fixture
async def kol(session, shop):  # type: ignore[no-untyped-def]
    actor = system_actor(shop.id)
    affiliate = await affiliates.create_affiliate(
        session=session,
        actor=actor,
        data=AffiliateCreate(name="茶叶小王", kind="kol", default_rate_bp=1000),
    )
    await affiliates.add_code(
        session=session, actor=actor, affiliate_id=affiliate.id, data=CodeCreate(code="WANG10")
    )
    await affiliates.add_code(
        session=session,
        actor=actor,
        affiliate_id=affiliate.id,
        data=CodeCreate(code="live-wang", kind="source"),
    )
    return affiliate


@pytest.fixture
async def goods(session, shop):  # type: ignore[no-untyped-def]
    tea = await factories.make_product(session, shop_id=shop.id, name="龙井", price_fen=12900)
    cup = await factories.make_product(session, shop_id=shop.id, name="茶杯", price_fen=3333)
    return tea, cup


async def place(session, shop, goods, **options):  # type: ignore[no-untyped-def]
    tea, cup = goods
    customer = await factories.make_customer(session, shop_id=shop.id, name="李娜")
    return await factories.make_order(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        lines=[(tea.skus[0].id, 1), (cup.skus[0].id, 3)],
        **options,
    )


async def commissions(session, order) -> list[Commission]:  # type: ignore[no-untyped-def]
    statement = select(Commission).where(Commission.order_id == order.id).order_by(Commission.id)
    return list((await session.execute(statement)).scalars().all())


async def test_an_order_through_a_code_is_attributed_and_earns_per_line(
    session, shop, kol, goods
) -> None:
    tea, _ = goods
    await affiliates.set_product_rate(
        session=session,
        actor=system_actor(shop.id),
        affiliate_id=kol.id,
        data=ProductRateIn(product_id=tea.id, rate_bp=1550),
    )
    order = await place(session, shop, goods, source_code="LIVE-WANG")
    attribution = (
        await session.execute(select(AffiliateOrder).where(AffiliateOrder.order_id == order.id))
    ).scalar_one()
    assert (attribution.affiliate_id, attribution.matched_by) == (kol.id, "source")
    assert await commissions(session, order) == []  # nothing is owed before payment
    await pay(session, order)
    rows = await commissions(session, order)
    assert [(c.base_fen, c.rate_bp, c.amount_fen) for c in rows] == [
        (12900, 1550, 1999),  # 1999.5 fen, rounded down
        (9999, 1000, 999),  # 999.9 fen, rounded down
    ]
    assert {c.status for c in rows} == {"pending"}
    # order_paid handled again (a replayed hook): nothing is added.
    await affiliates.record_commission(session=session, order=order)
    assert len(await commissions(session, order)) == 2


async def test_an_order_without_a_known_code_is_not_attributed(session, shop, kol, goods) -> None:
    order = await place(session, shop, goods, source_code="someone-else")
    await pay(session, order)
    assert await commissions(session, order) == []


async def test_commission_settles_after_the_return_window(session, shop, kol, goods) -> None:
    order = await place(session, shop, goods, attribution={"promo_code": "wang10"})
    await pay(session, order)
    actor = system_actor(shop.id)
    await orders_service.ship_order(
        session=session, actor=actor, order_id=order.id, carrier="顺丰", tracking_number="SF1"
    )
    done = await orders_service.complete_order(
        session=session, shop_id=shop.id, order_id=order.id, actor_label="buyer"
    )
    assert done.completed_at is not None
    window_end = done.completed_at + dt.timedelta(days=7)
    assert (
        await affiliates.settle_due_commissions(
            session=session, now=window_end - dt.timedelta(minutes=1)
        )
        == 0
    )
    assert await affiliates.settle_due_commissions(session=session, now=window_end) == 2
    assert await affiliates.settle_due_commissions(session=session, now=window_end) == 0
    rows = await commissions(session, order)
    for row in rows:
        await session.refresh(row)
    assert {c.status for c in rows} == {"settled"}
    summary = {
        s["affiliate"].id: s for s in await affiliates.summaries(session=session, shop_id=shop.id)
    }
    assert summary[kol.id]["settled_fen"] == 1290 + 999
    assert summary[kol.id]["gmv_fen"] == 12900 + 9999


async def test_a_shipped_order_settles_from_its_ship_date(session, shop, kol, goods) -> None:
    order = await place(session, shop, goods, share_code="WANG10")
    await pay(session, order)
    shipped = await orders_service.ship_order(
        session=session,
        actor=system_actor(shop.id),
        order_id=order.id,
        carrier="顺丰",
        tracking_number="SF2",
    )
    due = shipped.shipped_at + dt.timedelta(days=17)
    assert (
        await affiliates.settle_due_commissions(session=session, now=due - dt.timedelta(seconds=1))
        == 0
    )
    assert await affiliates.settle_due_commissions(session=session, now=due) == 2


async def test_partial_then_full_refunds_take_back_exact_sums(session, shop, kol, goods) -> None:
    order = await place(session, shop, goods, attribution={"promo_code": "WANG10"})
    order = await pay(session, order)
    _tea_line, cup_line = sorted(order.lines, key=lambda line: line.id)
    actor = system_actor(shop.id)
    # One cup of three back: a third of the cup line's base (3333 fen).
    first = await refunds_service.create_refund(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        lines=[RefundLineIn(order_line_id=cup_line.id, quantity=1)],
        reason="破损",
        actor=actor,
    )
    tea, cup = await commissions(session, order)
    assert (cup.refunded_base_fen, cup.reversed_fen) == (3333, 333)  # 999 × 3333 / 9999
    assert (tea.refunded_base_fen, tea.reversed_fen) == (0, 0)
    # The same refund reported twice changes nothing.
    await affiliates.reverse_commission(session=session, order=order, refund=first)
    await session.refresh(cup)
    assert cup.reversed_fen == 333
    # Everything left back: each line's commission is taken back in full.
    await refunds_service.create_refund(
        session=session, shop_id=shop.id, order_id=order.id, reason="不要了", actor=actor
    )
    for row in (tea, cup):
        await session.refresh(row)
    assert [(c.reversed_fen, c.amount_fen - c.reversed_fen, c.status) for c in (tea, cup)] == [
        (1290, 0, "reversed"),
        (999, 0, "reversed"),
    ]
    summary = {
        s["affiliate"].id: s for s in await affiliates.summaries(session=session, shop_id=shop.id)
    }
    assert summary[kol.id]["pending_fen"] == summary[kol.id]["settled_fen"] == 0
    assert summary[kol.id]["reversed_fen"] == 1290 + 999


async def test_an_amount_refund_takes_back_its_goods_share(session, shop, kol, goods) -> None:
    order = await place(session, shop, goods, attribution={"promo_code": "WANG10"})
    order = await pay(session, order)
    goods_fen = 12900 + 9999
    amount = order.paid_fen // 2
    await refunds_service.create_refund(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=amount,
        reason="差价",
        actor=system_actor(shop.id),
    )
    rows = await commissions(session, order)
    returned = sum(c.refunded_base_fen for c in rows)
    assert returned == amount * goods_fen // order.paid_fen
    for row in rows:
        assert row.reversed_fen == -(-row.amount_fen * row.refunded_base_fen // row.base_fen)
        assert row.status == "pending"


async def test_a_code_is_unique_in_the_shop_ignoring_case(session, shop, kol) -> None:
    with pytest.raises(Conflict) as taken:
        await affiliates.add_code(
            session=session,
            actor=system_actor(shop.id),
            affiliate_id=kol.id,
            data=CodeCreate(code="wang10"),
        )
    assert taken.value.code == "affiliate_code_taken"


async def test_settlement_export_is_audited(session, shop, kol, goods) -> None:
    from liveloop.shops.models import AuditEntry

    order = await place(session, shop, goods, attribution={"promo_code": "WANG10"})
    await pay(session, order)
    rows = await affiliates.settlement_rows(
        session=session, actor=system_actor(shop.id), affiliate_id=kol.id, status=None
    )
    assert [row[9] for row in rows] == [1290, 999]
    assert rows[0][4] == order.number
    audit = (
        await session.execute(select(AuditEntry).where(AuditEntry.action == "affiliates.export"))
    ).scalar_one()
    assert audit.details["rows"] == 2


async def test_an_order_through_a_kocs_live_entry_link_is_theirs(session, shop, goods) -> None:
    from liveloop.live import audience
    from liveloop.live.schemas import EntryLinkCreate
    from tests.factories.live import make_live_session

    actor = system_actor(shop.id)
    fan = await factories.make_customer(session, shop_id=shop.id, name="达人小李")
    koc = await affiliates.create_affiliate(
        session=session,
        actor=actor,
        data=AffiliateCreate(name="小李", kind="koc", customer_id=fan.id, default_rate_bp=300),
    )
    live = await make_live_session(session, shop_id=shop.id, status="live")
    link = await audience.create_entry_link(
        session=session,
        actor=actor,
        live_session=live,
        data=EntryLinkCreate(channel="kol", customer_id=fan.id),
    )
    order = await place(session, shop, goods, source_code=link.code, live_session_id=live.id)
    attribution = (
        await session.execute(select(AffiliateOrder).where(AffiliateOrder.order_id == order.id))
    ).scalar_one()
    assert (attribution.affiliate_id, attribution.matched_by) == (koc.id, "entry_link")
    await pay(session, order)
    assert [c.amount_fen for c in await commissions(session, order)] == [387, 299]


async def test_a_kocs_own_room_share_link_attributes_friends_not_themselves(
    session, shop, goods
) -> None:
    from liveloop.live import audience
    from liveloop.live.viewers import ViewerClaims
    from tests.factories.live import make_live_session

    fan = await factories.make_customer(session, shop_id=shop.id, name="达人小周")
    koc = await affiliates.create_affiliate(
        session=session,
        actor=system_actor(shop.id),
        data=AffiliateCreate(name="小周", kind="koc", customer_id=fan.id, default_rate_bp=500),
    )
    live = await make_live_session(session, shop_id=shop.id, status="live")
    claims = ViewerClaims(
        shop_id=shop.id, live_session_id=live.id, customer_id=fan.id, device_id="d-fan", name="周"
    )
    share = await audience.create_share(session=session, live_session=live, claims=claims)
    friend_order = await place(session, shop, goods, share_code=share, live_session_id=live.id)
    own_order = await factories.make_order(
        session,
        shop_id=shop.id,
        customer_id=fan.id,
        lines=[(goods[0].skus[0].id, 1)],
        share_code=share,
        live_session_id=live.id,
    )
    rows = (
        await session.execute(
            select(AffiliateOrder.order_id, AffiliateOrder.matched_by).where(
                AffiliateOrder.affiliate_id == koc.id
            )
        )
    ).all()
    assert [tuple(r) for r in rows] == [(friend_order.id, "live_share")]
    assert own_order.id not in [r[0] for r in rows]


async def test_an_affiliate_earns_nothing_on_their_own_order(session, shop, goods) -> None:
    buyer = await factories.make_customer(session, shop_id=shop.id, name="自购")
    actor = system_actor(shop.id)
    koc = await affiliates.create_affiliate(
        session=session,
        actor=actor,
        data=AffiliateCreate(name="自购", kind="koc", customer_id=buyer.id, default_rate_bp=500),
    )
    await affiliates.add_code(
        session=session, actor=actor, affiliate_id=koc.id, data=CodeCreate(code="SELF1")
    )
    order = await factories.make_order(
        session,
        shop_id=shop.id,
        customer_id=buyer.id,
        lines=[(goods[0].skus[0].id, 1)],
        attribution={"promo_code": "SELF1"},
    )
    found = await session.execute(select(AffiliateOrder).where(AffiliateOrder.order_id == order.id))
    assert found.first() is None
