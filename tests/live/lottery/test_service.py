"""Lotteries at the service layer: entry conditions, exclusions, the draw, prizes, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from liveloop.core.errors import Conflict, InvalidInput, Unauthenticated
from liveloop.customers.points import service as points
from liveloop.live import moderation
from liveloop.live.lottery import service, verify
from liveloop.live.lottery.models import LotteryEntry
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.factories.live import make_live_session
from tests.live.lottery.conftest import after_window, comment, start, visit


@pytest.fixture
async def room(session, shop):  # type: ignore[no-untyped-def]
    return await make_live_session(session, shop_id=shop.id, status="live")


async def test_keyword_lottery_draws_only_who_commented_the_keyword(
    session, shop, actor, room
) -> None:
    keyword_fan = await factories.make_customer(session, shop_id=shop.id, name="口令粉")
    chatter = await factories.make_customer(session, shop_id=shop.id, name="路人")
    early = await factories.make_customer(session, shop_id=shop.id, name="早到")
    blocked = await factories.make_customer(session, shop_id=shop.id, name="违规")
    await comment(
        session, shop.id, room.id, early.id, "福袋来了", at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    lottery = await start(session, actor, room.id, winner_count=3)
    assert lottery.seed_hash and lottery.published_seed is None
    await comment(session, shop.id, room.id, keyword_fan.id, "主播，福袋来了！")
    await comment(session, shop.id, room.id, chatter.id, "好看")
    await comment(session, shop.id, room.id, blocked.id, "福袋来了", blocked=True)

    drawn = await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=lottery.id, now=after_window(lottery)
    )

    assert drawn.status == "drawn" and drawn.entrant_count == 1
    entries = await service.list_entries(session=session, shop_id=shop.id, lottery_id=lottery.id)
    assert [(e.customer_id, e.rank, e.prize_status) for e in entries] == [
        (keyword_fan.id, 1, "granted")
    ]
    balance = await points.get_balance(session=session, shop_id=shop.id, customer_id=keyword_fan.id)
    assert balance.balance == 100
    record = await service.public_draw(session=session, lottery_id=lottery.id)
    assert verify.check(record) == []
    assert record["seed"] == drawn.seed and record["winners"] == [entries[0].ticket]


async def test_draw_waits_for_the_window_and_happens_once(session, shop, actor, room) -> None:
    fan = await factories.make_customer(session, shop_id=shop.id, name="粉丝")
    lottery = await start(session, actor, room.id)
    await comment(session, shop.id, room.id, fan.id, "福袋来了")
    early = await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=lottery.id, now=lottery.ends_at
    )
    assert early.status == "running"
    first = await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=lottery.id, now=after_window(lottery)
    )
    again = await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=lottery.id,
        now=after_window(lottery) + dt.timedelta(hours=1),
    )  # fmt: skip
    assert first.status == again.status == "drawn"
    assert again.drawn_at == first.drawn_at
    entries = (
        (await session.execute(select(LotteryEntry).where(LotteryEntry.lottery_id == lottery.id)))
        .scalars()
        .all()
    )
    assert len(entries) == 1
    balance = await points.get_balance(session=session, shop_id=shop.id, customer_id=fan.id)
    assert balance.balance == 100  # granted once
    actions = (
        (
            await session.execute(
                select(AuditEntry.action).where(
                    AuditEntry.target_type == "lottery", AuditEntry.target_id == str(lottery.id)
                )
            )
        )
        .scalars()
        .all()
    )
    assert sorted(actions) == ["live.lottery_draw", "live.lottery_prize", "live.lottery_start"]


async def test_banned_and_todays_winners_are_left_out(session, shop, actor, room) -> None:
    winner = await factories.make_customer(session, shop_id=shop.id, name="赢家")
    banned = await factories.make_customer(session, shop_id=shop.id, name="被封")
    other = await factories.make_customer(session, shop_id=shop.id, name="另一位")
    first = await start(session, actor, room.id, condition={"kind": "comment"})
    await comment(session, shop.id, room.id, winner.id, "我来了")
    await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=first.id, now=after_window(first)
    )
    await moderation.ban(
        session=session, actor=actor, live_session_id=room.id, customer_id=banned.id,
        reason="刷屏",
    )  # fmt: skip
    second = await start(session, actor, room.id, condition={"kind": "comment"}, winner_count=5)
    for customer in (winner, banned, other):
        await comment(session, shop.id, room.id, customer.id, "再来一次")
    drawn = await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=second.id, now=after_window(second)
    )
    entries = await service.list_entries(session=session, shop_id=shop.id, lottery_id=second.id)
    assert drawn.entrant_count == 1 and [e.customer_id for e in entries] == [other.id]


async def test_staff_are_left_out_unless_the_anchor_keeps_them(session, shop, actor, room) -> None:
    """A customer with a staff member's login e-mail, or tagged 员工, never enters the draw."""
    await factories.make_staff(session, shop_id=shop.id, email="Host.Wang@Example.com")
    by_email = await factories.make_customer(
        session, shop_id=shop.id, name="主播小号", email="host.wang@example.com"
    )
    by_tag = await factories.make_customer(
        session, shop_id=shop.id, name="客服同事", tags=[service.STAFF_TAG]
    )
    fan = await factories.make_customer(session, shop_id=shop.id, name="真粉丝", email="fan@x.cn")
    left_out = await start(session, actor, room.id, condition={"kind": "comment"}, winner_count=3)
    for customer in (by_email, by_tag, fan):
        await comment(session, shop.id, room.id, customer.id, "来了")
    drawn = await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=left_out.id, now=after_window(left_out)
    )
    entries = await service.list_entries(session=session, shop_id=shop.id, lottery_id=left_out.id)
    assert drawn.entrant_count == 1 and [e.customer_id for e in entries] == [fan.id]
    kept = await start(
        session, actor, room.id, condition={"kind": "comment"}, winner_count=3,
        exclude_staff=False, exclude_winners_today=False,
    )  # fmt: skip
    for customer in (by_email, by_tag, fan):
        await comment(session, shop.id, room.id, customer.id, "再来")
    drawn = await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=kept.id, now=after_window(kept)
    )
    assert drawn.entrant_count == 3


async def test_tap_to_join_checks_the_condition(session, shop, actor, room) -> None:
    liker = await factories.make_customer(session, shop_id=shop.id, name="点赞")
    watcher = await factories.make_customer(session, shop_id=shop.id, name="只看")
    await visit(session, shop.id, room.id, liker.id, likes=3)
    await visit(session, shop.id, room.id, watcher.id)
    lottery = await start(session, actor, room.id, condition={"kind": "like"}, winner_count=2)
    join = dict(session=session, shop_id=shop.id, lottery_id=lottery.id, live_session_id=room.id)
    entry = await service.join_lottery(**join, customer_id=liker.id)
    assert (await service.join_lottery(**join, customer_id=liker.id)).id == entry.id
    with pytest.raises(Conflict) as refused:
        await service.join_lottery(**join, customer_id=watcher.id)
    assert refused.value.code == "condition_not_met"
    with pytest.raises(Unauthenticated) as guest:
        await service.join_lottery(**join, customer_id=None)
    assert guest.value.code == "customer_required"
    with pytest.raises(InvalidInput):
        await service.join_lottery(
            **{**join, "live_session_id": room.id + 1000}, customer_id=liker.id
        )
    drawn = await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=lottery.id, now=after_window(lottery)
    )
    assert drawn.entrant_count == 1
    with pytest.raises(Conflict) as closed:
        await service.join_lottery(**join, customer_id=watcher.id)
    assert closed.value.code == "lottery_closed"


async def test_keyword_lottery_is_entered_by_commenting(session, shop, actor, room) -> None:
    fan = await factories.make_customer(session, shop_id=shop.id, name="粉丝")
    lottery = await start(session, actor, room.id)
    with pytest.raises(Conflict) as refused:
        await service.join_lottery(
            session=session, shop_id=shop.id, lottery_id=lottery.id, live_session_id=room.id,
            customer_id=fan.id,
        )  # fmt: skip
    assert refused.value.code == "lottery_enter_by_comment" and "福袋来了" in refused.value.message


async def test_one_running_lottery_per_room_and_per_prize(session, shop, actor, room) -> None:
    await start(session, actor, room.id)
    with pytest.raises(Conflict) as twice:
        await start(session, actor, room.id)
    assert twice.value.code == "lottery_running"
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=5)
    other_room = await make_live_session(session, shop_id=shop.id, status="live")
    third_room = await make_live_session(session, shop_id=shop.id, status="live")
    prize = {"prize_kind": "product", "prize_product_id": product.id, "prize_points": None}
    await start(session, actor, other_room.id, **prize)
    with pytest.raises(Conflict) as same_prize:
        await start(session, actor, third_room.id, **prize)
    assert same_prize.value.code == "prize_in_lottery"


async def test_rooms_not_on_air_and_unknown_prizes_are_refused(session, shop, actor) -> None:
    scheduled = await make_live_session(session, shop_id=shop.id)
    with pytest.raises(Conflict) as not_live:
        await start(session, actor, scheduled.id)
    assert not_live.value.code == "live_session_not_live"
    live = await make_live_session(session, shop_id=shop.id, status="live")
    with pytest.raises(InvalidInput) as missing:
        await start(session, actor, live.id, prize_kind="coupon", prize_coupon_id=999999)
    assert missing.value.code == "coupon_not_found" and missing.value.field == "prize_coupon_id"
    with pytest.raises(InvalidInput) as community:
        await start(
            session, actor, live.id, condition={"kind": "community", "community_id": 999999}
        )
    assert community.value.code == "community_not_found"


async def test_product_prize_waits_for_an_address_then_ships(session, shop, actor, room) -> None:
    fan = await factories.make_customer(session, shop_id=shop.id, name="中奖人")
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=5)
    lottery = await start(
        session,
        actor,
        room.id,
        prize_kind="product",
        prize_product_id=product.id,
        prize_points=None,
    )
    await comment(session, shop.id, room.id, fan.id, "福袋来了")
    await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=lottery.id, now=after_window(lottery)
    )
    (entry,) = await service.list_entries(session=session, shop_id=shop.id, lottery_id=lottery.id)
    assert entry.prize_status == "awaiting_address"
    with pytest.raises(Conflict):
        await service.mark_shipped(
            session=session, actor=actor, lottery_id=lottery.id, entry_id=entry.id, note=""
        )
    from liveloop.live.lottery.schemas import PrizeAddressIn

    await service.submit_address(
        session=session, shop_id=shop.id, lottery_id=lottery.id, customer_id=fan.id,
        data=PrizeAddressIn(recipient_name="王芳", phone="13800138000", region="浙江省",
                            city="杭州市", detail="西湖区文三路 1 号"),
    )  # fmt: skip
    shipped = await service.mark_shipped(
        session=session, actor=actor, lottery_id=lottery.id, entry_id=entry.id, note="顺丰 SF123"
    )
    assert shipped.prize_status == "shipped" and shipped.address_id is not None
    (described,) = await service.describe_entries(session, shop.id, [shipped])
    assert "138****8000" in described["address"] and "13800138000" not in described["address"]


async def test_cancel_publishes_the_seed_and_frees_the_room(session, shop, actor, room) -> None:
    lottery = await start(session, actor, room.id)
    cancelled = await service.cancel_lottery(session=session, actor=actor, lottery_id=lottery.id)
    assert cancelled.status == "cancelled" and cancelled.published_seed == cancelled.seed
    record = await service.public_draw(session=session, lottery_id=lottery.id)
    assert record["seed"] and record["entrants"] == []
    await start(session, actor, room.id)  # the room is free again


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    said=st.lists(
        st.sampled_from(["福袋来了", "来了福袋", "福袋来了！", "好看", ""]), min_size=1, max_size=8
    ),
    winner_count=st.integers(1, 4),
)
async def test_entrants_who_do_not_meet_the_condition_never_win(
    session, shop, actor, said, winner_count
) -> None:
    nested = await session.begin_nested()
    try:
        room = await make_live_session(session, shop_id=shop.id, status="live")
        lottery = await start(session, actor, room.id, winner_count=winner_count)
        meets = set()
        for index, text in enumerate(said):
            customer = await factories.make_customer(session, shop_id=shop.id, name=f"观众{index}")
            if text:
                await comment(session, shop.id, room.id, customer.id, text)
            if "福袋来了" in text:
                meets.add(customer.id)
        await service.draw_lottery(
            session=session, shop_id=shop.id, lottery_id=lottery.id, now=after_window(lottery)
        )
        entries = await service.list_entries(
            session=session, shop_id=shop.id, lottery_id=lottery.id
        )
        winners = {e.customer_id for e in entries if e.rank is not None}
        assert {e.customer_id for e in entries} == meets
        assert winners <= meets and len(winners) == min(winner_count, len(meets))
        assert verify.check(await service.public_draw(session=session, lottery_id=lottery.id)) == []
    finally:
        await nested.rollback()


async def test_winners_are_told_in_their_service_conversation_once(
    session, shop, actor, room
) -> None:
    from liveloop.live.servicechat import service as servicechat

    winner = await factories.make_customer(session, shop_id=shop.id, name="中奖人")
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=5)
    lottery = await start(
        session, actor, room.id, title="周年福袋", prize_kind="product",
        prize_product_id=product.id, prize_points=None,
    )  # fmt: skip
    await comment(session, shop.id, room.id, winner.id, "福袋来了")
    for late in (0, 1):  # the job runs again: nothing more is sent
        await service.draw_lottery(
            session=session, shop_id=shop.id, lottery_id=lottery.id,
            now=after_window(lottery) + dt.timedelta(minutes=late),
        )  # fmt: skip
    conversation = await servicechat.conversation_of_customer(
        session=session, shop_id=shop.id, customer_id=winner.id
    )
    assert conversation is not None and conversation.live_session_id == room.id
    messages = await servicechat.list_messages(
        session=session, shop_id=shop.id, conversation_id=conversation.id
    )
    assert [(m.sender, m.staff_id) for m in messages] == [("agent", None)]
    assert "周年福袋" in messages[0].text and lottery.prize_name in messages[0].text
    assert "收货地址" in messages[0].text  # a product prize: the winner is asked for an address
    assert conversation.customer_unread == 1
