"""Welfare offers in the service: start and stop, tap, the signed join link, the join settled
once with attribution, rewards granted once, and every refusal."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from liveloop.commerce.coupons import service as coupons_service
from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.customers.communities import service as communities_service
from liveloop.customers.communities.models import CommunityMember
from liveloop.customers.points import service as points_service
from liveloop.customers.points.models import PointsEntry
from liveloop.events.models import Event
from liveloop.live.welfare import joins, links, service
from liveloop.live.welfare.schemas import ChannelConfirmIn
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.factories.live import make_live_session
from tests.live.welfare.conftest import (
    BASE,
    SECRET,
    make_community,
    make_coupon,
    start,
    tap_and_sign,
)


@pytest.fixture
async def room(session, shop):  # type: ignore[no-untyped-def]
    return await make_live_session(session, shop_id=shop.id, status="live")


@pytest.fixture
async def vip(session, shop):  # type: ignore[no-untyped-def]
    return await make_community(session, shop.id)


@pytest.fixture
async def fan(session, shop):  # type: ignore[no-untyped-def]
    return await factories.make_customer(session, shop_id=shop.id, name="李雷")


async def audit_actions(session, shop_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    rows = await session.execute(
        select(AuditEntry.action)
        .where(AuditEntry.shop_id == shop_id, AuditEntry.action.like("live.welfare%"))
        .order_by(AuditEntry.id)
    )
    return list(rows.scalars())


async def welfare_stays(session, shop_id: int, customer_id: int) -> list[CommunityMember]:  # type: ignore[no-untyped-def]
    rows = await session.execute(
        select(CommunityMember).where(
            CommunityMember.shop_id == shop_id,
            CommunityMember.customer_id == customer_id,
            CommunityMember.source == "live_welfare",
        )
    )
    return list(rows.scalars())


async def points_entries(session, shop_id: int, customer_id: int) -> int:  # type: ignore[no-untyped-def]
    count = await session.scalar(
        select(func.count()).where(
            PointsEntry.shop_id == shop_id,
            PointsEntry.customer_id == customer_id,
            PointsEntry.ref_type == "welfare",
        )
    )
    return int(count or 0)


# ----------------------------------------------------------------------------- start, stop


async def test_one_offer_runs_per_room_and_stopping_frees_it(session, actor, shop, room, vip):  # type: ignore[no-untyped-def]
    offer = await start(session, actor, room.id, vip.id)
    assert offer.status == "running" and offer.reward_name == "100 积分"
    assert offer.title == "加入VIP群领 100 积分"
    card = await service.current_room_card(
        session=session, shop_id=shop.id, live_session_id=room.id
    )
    assert card is not None and card["id"] == offer.id and card["state"] == "running"
    assert card["community"] == {"id": vip.id, "name": "VIP会员群"} and card["joined"] == 0

    with pytest.raises(Conflict) as refused:
        await start(session, actor, room.id, vip.id)
    assert refused.value.code == "welfare_offer_running"

    await service.stop_offer(session=session, actor=actor, offer_id=offer.id)
    assert offer.status == "stopped" and offer.stopped_at is not None
    assert (
        await service.current_room_card(session=session, shop_id=shop.id, live_session_id=room.id)
        is None
    )
    with pytest.raises(Conflict) as again:
        await service.stop_offer(session=session, actor=actor, offer_id=offer.id)
    assert again.value.code == "welfare_offer_stopped"
    second = await start(session, actor, room.id, vip.id)
    assert second.status == "running"
    assert await audit_actions(session, shop.id) == [
        "live.welfare_start",
        "live.welfare_stop",
        "live.welfare_start",
    ]


async def test_an_offer_past_its_duration_stops_and_leaves_the_room_free(
    session, actor, shop, room, vip
) -> None:  # type: ignore[no-untyped-def]
    offer = await start(session, actor, room.id, vip.id, duration_seconds=60)
    assert offer.ends_at is not None
    later = offer.ends_at + dt.timedelta(seconds=1)
    assert await service.due_offer_ids(session=session, now=later) == [(shop.id, offer.id)]
    assert await service.due_offer_ids(session=session, now=offer.started_at) == []
    await service.stop_if_due(session=session, shop_id=shop.id, offer_id=offer.id, now=later)
    assert offer.status == "stopped"
    await service.stop_if_due(session=session, shop_id=shop.id, offer_id=offer.id, now=later)
    assert (await audit_actions(session, shop.id)).count("live.welfare_stop") == 1


async def test_bad_offers_are_refused_with_the_field(session, actor, shop, other_shop, room, vip):  # type: ignore[no-untyped-def]
    foreign = await make_community(session, other_shop.id)
    with pytest.raises(InvalidInput) as unknown:
        await start(session, actor, room.id, foreign.id)
    assert (unknown.value.code, unknown.value.field) == ("community_not_found", "community_id")

    archived = await make_community(session, shop.id, name="旧群")
    await communities_service.archive_community(
        session=session, shop_id=shop.id, community_id=archived.id
    )
    with pytest.raises(Conflict) as gone:
        await start(session, actor, room.id, archived.id)
    assert gone.value.code == "community_archived"

    coupon = await make_coupon(session, shop.id, quantity=1)
    coupon.claimed_count = 1
    with pytest.raises(Conflict) as used_up:
        await start(
            session, actor, room.id, vip.id, reward_kind="coupon", reward_coupon_id=coupon.id,
            reward_points=None,
        )  # fmt: skip
    assert (used_up.value.code, used_up.value.field) == (
        "reward_coupon_used_up",
        "reward_coupon_id",
    )
    with pytest.raises(InvalidInput) as no_coupon:
        await start(
            session, actor, room.id, vip.id, reward_kind="coupon", reward_coupon_id=999_999,
            reward_points=None,
        )  # fmt: skip
    assert no_coupon.value.code == "coupon_not_found"

    scheduled = await make_live_session(session, shop_id=shop.id)
    with pytest.raises(Conflict) as not_live:
        await start(session, actor, scheduled.id, vip.id)
    assert not_live.value.code == "live_session_not_live"
    assert await audit_actions(session, shop.id) == []


# ----------------------------------------------------------------------------- joining


async def test_tap_join_and_reward_with_attribution(session, actor, shop, room, vip, fan):  # type: ignore[no-untyped-def]
    offer = await start(session, actor, room.id, vip.id)
    await service.record_shown(
        session=session, shop_id=shop.id, offer_id=offer.id, viewer_key="d:guest-1",
        customer_id=None, live_session_id=room.id,
    )  # fmt: skip
    token = await tap_and_sign(session, offer, fan.id)
    claim = await service.claim_of(
        session=session, shop_id=shop.id, offer_id=offer.id, customer_id=fan.id
    )
    assert service.viewer_state(claim, offer) == "tapped"

    _, claim = await joins.confirm_by_link(session, token, secret=SECRET)
    assert service.viewer_state(claim, offer) == "rewarded"
    assert claim.rewarded_at is not None and claim.confirmed_via == "link"
    (stay,) = await welfare_stays(session, shop.id, fan.id)
    assert (stay.live_session_id, stay.trigger, stay.left_at) == (room.id, "welfare_popup", None)
    assert claim.member_id == stay.id
    balance = await points_service.get_balance(session=session, shop_id=shop.id, customer_id=fan.id)
    assert balance.balance == 100

    figures = (await service.figures_of(session, shop.id, [offer.id]))[offer.id]
    assert figures == {
        "shown": 2, "tapped": 1, "opened": 1, "joined": 1, "rewarded": 1, "conversion": 0.5,
    }  # fmt: skip
    assert await audit_actions(session, shop.id) == ["live.welfare_start", "live.welfare_grant"]
    kinds = await session.execute(
        select(Event.type, Event.properties)
        .where(Event.shop_id == shop.id, Event.type.in_(("welfare_shown", "welfare_tap",
               "join_group", "welfare_reward")))
        .order_by(Event.id)
    )  # fmt: skip
    rows = kinds.all()
    assert [kind for kind, _ in rows] == [
        "welfare_shown", "welfare_tap", "join_group", "welfare_reward",
    ]  # fmt: skip
    assert all(props["offer_id"] == offer.id for _, props in rows)
    assert rows[2][1]["source"] == "live_welfare" and rows[2][1]["trigger"] == "welfare_popup"


async def test_a_guest_who_verifies_to_tap_is_one_viewer_in_the_funnel(
    session, actor, shop, room, vip, fan
) -> None:  # type: ignore[no-untyped-def]
    offer = await start(session, actor, room.id, vip.id)
    for device in ("dev-1", "dev-2", "dev-3"):
        await service.record_shown(
            session=session, shop_id=shop.id, offer_id=offer.id, viewer_key=f"d:{device}",
            customer_id=None, live_session_id=room.id,
        )  # fmt: skip
    # dev-1's guest verifies a phone (becoming `fan`) and taps: still one viewer.
    claim = await service.tap_offer(
        session=session, shop_id=shop.id, offer_id=offer.id, customer_id=fan.id,
        live_session_id=room.id, device_id="dev-1",
    )  # fmt: skip
    assert (claim.viewer_key, claim.customer_id) == (f"c:{fan.id}", fan.id)
    assert service.personal_link(offer, claim, secret=SECRET, base_url=BASE) is not None
    figures = (await service.figures_of(session, shop.id, [offer.id]))[offer.id]
    assert (figures["shown"], figures["tapped"]) == (3, 1)
    shown_events = await session.scalar(
        select(func.count()).where(Event.shop_id == shop.id, Event.type == "welfare_shown")
    )
    assert shown_events == 3


async def test_the_sessions_funnel_counts_each_viewer_once_over_its_offers(
    session, actor, shop, room, vip, fan
) -> None:  # type: ignore[no-untyped-def]
    assert await service.session_conversion(
        session=session, shop_id=shop.id, live_session_id=room.id
    ) == {"offers": 0, "shown": 0, "tapped": 0, "joined": 0, "rewarded": 0, "conversion": 0.0}
    first = await start(session, actor, room.id, vip.id)
    for key in ("d:guest-1", "d:guest-2", "d:guest-3"):
        await service.record_shown(
            session=session, shop_id=shop.id, offer_id=first.id, viewer_key=key,
            customer_id=None, live_session_id=room.id,
        )  # fmt: skip
    token = await tap_and_sign(session, first, fan.id)
    await joins.confirm_by_link(session, token, secret=SECRET)
    await service.stop_offer(session=session, actor=actor, offer_id=first.id)
    second = await start(session, actor, room.id, vip.id, popup_text="再来一次")
    await service.record_shown(
        session=session, shop_id=shop.id, offer_id=second.id, viewer_key="d:guest-1",
        customer_id=None, live_session_id=room.id,
    )  # fmt: skip
    await tap_and_sign_again(session, second, fan.id)  # a member now: no link, no reward
    other_room = await make_live_session(session, shop_id=shop.id, status="live")
    await start(session, actor, other_room.id, vip.id)
    funnel = await service.session_conversion(
        session=session, shop_id=shop.id, live_session_id=room.id
    )
    assert funnel == {
        "offers": 2, "shown": 4, "tapped": 1, "joined": 1, "rewarded": 1, "conversion": 0.25,
    }  # fmt: skip


async def test_a_coupon_reward_is_granted_once_for_callbacks_and_retries(
    session, actor, shop, room, vip, fan
) -> None:  # type: ignore[no-untyped-def]
    coupon = await make_coupon(session, shop.id)
    offer = await start(
        session, actor, room.id, vip.id, reward_kind="coupon", reward_coupon_id=coupon.id,
        reward_points=None, confirm_by="link",
    )  # fmt: skip
    assert offer.reward_name == "入群礼 ¥10 券"
    token = await tap_and_sign(session, offer, fan.id)
    await joins.confirm_by_link(session, token, secret=SECRET)
    for _ in range(2):  # a replayed link is refused, saying what the first use did
        with pytest.raises(links.LinkUsed) as replayed:
            await joins.confirm_by_link(session, token, secret=SECRET)
        assert replayed.value.code == "welfare_link_used" and "入群礼" in replayed.value.message
    fresh = await tap_and_sign_again(session, offer, fan.id)
    assert fresh is None  # settled: no new link
    await joins.confirm_by_channel(
        session, actor=actor, offer_id=offer.id, data=ChannelConfirmIn(customer_id=fan.id),
        secret=SECRET,
    )  # fmt: skip
    held = await coupons_service.list_customer_coupons(
        session=session, shop_id=shop.id, customer_id=fan.id
    )
    assert [c.coupon_id for c in held] == [coupon.id]
    assert len(await welfare_stays(session, shop.id, fan.id)) == 1
    assert (await audit_actions(session, shop.id)).count("live.welfare_grant") == 1


async def tap_and_sign_again(session, offer, customer_id):  # type: ignore[no-untyped-def]
    claim = await service.tap_offer(
        session=session, shop_id=offer.shop_id, offer_id=offer.id, customer_id=customer_id,
        live_session_id=offer.live_session_id,
    )  # fmt: skip
    return service.personal_link(offer, claim, secret=SECRET, base_url="http://x")


async def test_a_current_member_gets_no_link_and_no_reward(session, actor, shop, room, vip, fan):  # type: ignore[no-untyped-def]
    await communities_service.join_community(
        session=session, shop_id=shop.id, community_id=vip.id, customer_id=fan.id, source="manual"
    )
    offer = await start(session, actor, room.id, vip.id)
    assert await tap_and_sign_again(session, offer, fan.id) is None
    claim = await service.claim_of(
        session=session, shop_id=shop.id, offer_id=offer.id, customer_id=fan.id
    )
    assert service.viewer_state(claim, offer) == "already_member"
    assert await points_entries(session, shop.id, fan.id) == 0


async def test_joining_by_another_way_after_the_tap_is_not_this_offers_join(
    session, actor, shop, room, vip, fan
) -> None:  # type: ignore[no-untyped-def]
    offer = await start(session, actor, room.id, vip.id)
    token = await tap_and_sign(session, offer, fan.id)
    await communities_service.join_community(
        session=session, shop_id=shop.id, community_id=vip.id, customer_id=fan.id, source="manual"
    )
    _, claim = await joins.confirm_by_link(session, token, secret=SECRET)
    assert claim.outcome == "already_member" and claim.rewarded_at is None
    assert await points_entries(session, shop.id, fan.id) == 0
    assert await welfare_stays(session, shop.id, fan.id) == []


@pytest.mark.parametrize(
    ("new_members_only", "outcome", "entries"), [(True, "not_new", 0), (False, "rewarded", 1)]
)
async def test_a_former_member_rejoins_rewarded_only_when_the_offer_allows(
    session, actor, shop, room, vip, fan, new_members_only, outcome, entries
) -> None:  # type: ignore[no-untyped-def]
    await communities_service.join_community(
        session=session, shop_id=shop.id, community_id=vip.id, customer_id=fan.id, source="manual"
    )
    await communities_service.leave_community(
        session=session, shop_id=shop.id, community_id=vip.id, customer_id=fan.id
    )
    offer = await start(session, actor, room.id, vip.id, new_members_only=new_members_only)
    token = await tap_and_sign(session, offer, fan.id)
    _, claim = await joins.confirm_by_link(session, token, secret=SECRET)
    assert claim.outcome == outcome
    assert len(await welfare_stays(session, shop.id, fan.id)) == 1  # the rejoin is attributed
    assert await points_entries(session, shop.id, fan.id) == entries


async def test_a_failed_grant_is_recorded_and_the_join_stands(session, actor, shop, room, vip, fan):  # type: ignore[no-untyped-def]
    coupon = await make_coupon(session, shop.id, quantity=1)
    offer = await start(
        session, actor, room.id, vip.id, reward_kind="coupon", reward_coupon_id=coupon.id,
        reward_points=None,
    )  # fmt: skip
    other = await factories.make_customer(session, shop_id=shop.id, name="韩梅梅")
    await coupons_service.grant_coupon(
        session=session, shop_id=shop.id, coupon_id=coupon.id, customer_id=other.id, reason="x"
    )
    token = await tap_and_sign(session, offer, fan.id)
    _, claim = await joins.confirm_by_link(session, token, secret=SECRET)
    assert claim.outcome == "failed" and "claimed" in claim.reward_note
    assert len(await welfare_stays(session, shop.id, fan.id)) == 1
    with pytest.raises(links.LinkUsed) as again:
        await joins.confirm_by_link(session, token, secret=SECRET)
    assert "the reward failed" in again.value.message


async def test_a_full_group_refuses_the_join_and_a_retry_can_succeed(
    session, actor, shop, room, fan
):  # type: ignore[no-untyped-def]
    small = await make_community(session, shop.id, name="小群", capacity=1)
    first = await factories.make_customer(session, shop_id=shop.id, name="先到")
    await communities_service.join_community(
        session=session, shop_id=shop.id, community_id=small.id, customer_id=first.id,
        source="manual",
    )  # fmt: skip
    offer = await start(session, actor, room.id, small.id)
    token = await tap_and_sign(session, offer, fan.id)
    with pytest.raises(Conflict) as full:
        await joins.confirm_by_link(session, token, secret=SECRET)
    assert full.value.code == "community_full"
    small.capacity = 2
    _, claim = await joins.confirm_by_link(session, token, secret=SECRET)
    assert claim.outcome == "rewarded"


# ----------------------------------------------------------------------------- forged links


async def test_forged_tampered_expired_and_malformed_links_grant_nothing(
    session, actor, shop, room, vip, fan
) -> None:  # type: ignore[no-untyped-def]
    offer = await start(session, actor, room.id, vip.id)
    token = await tap_and_sign(session, offer, fan.id)
    other = await factories.make_customer(session, shop_id=shop.id, name="冒名")
    offer_id, _customer, expires, signature = token.split(".")
    tampered = [
        f"{offer_id}.{other.id}.{expires}.{signature}",  # someone else's customer id
        f"{offer_id}.{fan.id}.{int(expires) + 86400}.{signature}",  # a later expiry
        f"{offer_id}.{fan.id}.{expires}.{'A' * len(signature)}",  # a made-up signature
        f"999999.{fan.id}.{expires}.{signature}",  # an offer that does not exist
    ]
    for forged in tampered:
        with pytest.raises(links.LinkForged):
            await joins.confirm_by_link(session, forged, secret=SECRET)
    with pytest.raises(links.LinkForged):  # signed with another site's secret
        await joins.confirm_by_link(session, token, secret="another-secret")
    for junk in ("", "abc", "1.2.3", "1.2.3.short", "x.2.3." + "A" * 32, "0.1.2." + "A" * 32):
        with pytest.raises(links.LinkMalformed):
            await joins.confirm_by_link(session, junk, secret=SECRET)
    past = links.sign_link(
        SECRET, shop_id=shop.id, live_session_id=room.id, offer_id=offer.id,
        customer_id=fan.id, expires_at=utcnow() - dt.timedelta(seconds=1),
    )  # fmt: skip
    with pytest.raises(links.LinkExpired):
        await joins.confirm_by_link(session, past, secret=SECRET)
    assert await welfare_stays(session, shop.id, fan.id) == []
    assert await welfare_stays(session, shop.id, other.id) == []
    assert await points_entries(session, shop.id, fan.id) == 0


async def test_a_link_is_bound_to_its_live_session_and_shop(session, actor, shop, room, vip, fan):  # type: ignore[no-untyped-def]
    offer = await start(session, actor, room.id, vip.id)
    await tap_and_sign(session, offer, fan.id)
    elsewhere = links.sign_link(
        SECRET, shop_id=shop.id, live_session_id=room.id + 1, offer_id=offer.id,
        customer_id=fan.id, expires_at=utcnow() + dt.timedelta(hours=1),
    )  # fmt: skip
    with pytest.raises(links.LinkForged):
        await joins.confirm_by_link(session, elsewhere, secret=SECRET)
    other_shop = links.sign_link(
        SECRET, shop_id=shop.id + 1, live_session_id=room.id, offer_id=offer.id,
        customer_id=fan.id, expires_at=utcnow() + dt.timedelta(hours=1),
    )  # fmt: skip
    with pytest.raises(links.LinkForged):
        await joins.confirm_by_link(session, other_shop, secret=SECRET)


# ----------------------------------------------------------------------------- the channel


async def test_a_channel_offer_waits_for_the_channel_to_confirm(
    session, actor, shop, room, vip, fan
):  # type: ignore[no-untyped-def]
    offer = await start(session, actor, room.id, vip.id, confirm_by="channel")
    token = await tap_and_sign(session, offer, fan.id)
    _, claim = await joins.confirm_by_link(session, token, secret=SECRET)
    assert service.viewer_state(claim, offer) == "awaiting_channel"
    assert await welfare_stays(session, shop.id, fan.id) == []

    stranger = await factories.make_customer(session, shop_id=shop.id, name="路人")
    with pytest.raises(Conflict) as untapped:
        await joins.confirm_by_channel(
            session, actor=actor, offer_id=offer.id,
            data=ChannelConfirmIn(customer_id=stranger.id), secret=SECRET,
        )  # fmt: skip
    assert untapped.value.code == "welfare_not_tapped"

    _, claim = await joins.confirm_by_channel(
        session, actor=actor, offer_id=offer.id, data=ChannelConfirmIn(token=token), secret=SECRET
    )
    assert claim.outcome == "rewarded" and claim.confirmed_via == "channel"
    assert len(await welfare_stays(session, shop.id, fan.id)) == 1
    assert await points_entries(session, shop.id, fan.id) == 1


async def test_a_tapped_link_still_joins_after_the_offer_stops_but_no_new_taps(
    session, actor, shop, room, vip, fan
) -> None:  # type: ignore[no-untyped-def]
    offer = await start(session, actor, room.id, vip.id)
    token = await tap_and_sign(session, offer, fan.id)
    await service.stop_offer(session=session, actor=actor, offer_id=offer.id)
    late = await factories.make_customer(session, shop_id=shop.id, name="迟到")
    with pytest.raises(Conflict) as closed:
        await tap_and_sign(session, offer, late.id)
    assert closed.value.code == "welfare_offer_closed"
    _, claim = await joins.confirm_by_link(session, token, secret=SECRET)
    assert claim.outcome == "rewarded"


# ----------------------------------------------------------------------------- property


confirmations = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(["link", "channel", "tap"])),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=confirmations, already=st.sets(st.integers(0, 2), max_size=2))
async def test_any_sequence_of_callbacks_and_retries_grants_each_reward_once(
    session, actor, shop, steps, already
) -> None:  # type: ignore[no-untyped-def]
    nested = await session.begin_nested()
    try:
        room = await make_live_session(session, shop_id=shop.id, status="live")
        vip = await make_community(session, shop.id)
        people = [
            await factories.make_customer(session, shop_id=shop.id, name=f"观众{n}")
            for n in range(3)
        ]
        for n in already:
            await communities_service.join_community(
                session=session, shop_id=shop.id, community_id=vip.id,
                customer_id=people[n].id, source="manual",
            )  # fmt: skip
        offer = await start(session, actor, room.id, vip.id)
        tokens: dict[int, str] = {}
        for who, how in steps:
            customer = people[who]
            claim = await service.tap_offer(
                session=session, shop_id=shop.id, offer_id=offer.id, customer_id=customer.id,
                live_session_id=room.id,
            )  # fmt: skip
            link = service.personal_link(offer, claim, secret=SECRET, base_url="http://x")
            if link is not None:
                tokens.setdefault(who, link["token"])
            if how == "link" and who in tokens:
                try:
                    await joins.confirm_by_link(session, tokens[who], secret=SECRET)
                except links.LinkUsed:
                    settled = await service.claim_of(
                        session=session, shop_id=shop.id, offer_id=offer.id,
                        customer_id=customer.id,
                    )  # fmt: skip
                    assert settled is not None and settled.settled_at is not None
            elif how == "channel":
                await joins.confirm_by_channel(
                    session, actor=actor, offer_id=offer.id,
                    data=ChannelConfirmIn(customer_id=customer.id), secret=SECRET,
                )  # fmt: skip
        for n, person in enumerate(people):
            granted = await points_entries(session, shop.id, person.id)
            stays = await welfare_stays(session, shop.id, person.id)
            claim = await service.claim_of(
                session=session, shop_id=shop.id, offer_id=offer.id, customer_id=person.id
            )
            assert granted <= 1 and len(stays) <= 1
            if n in already:
                assert granted == 0 and stays == []
            else:
                confirmed = any(w == n and h in ("link", "channel") for w, h in steps)
                assert granted == int(confirmed) == len(stays)
                assert (claim is not None and claim.outcome == "rewarded") == confirmed
        figures = (await service.figures_of(session, shop.id, [offer.id]))[offer.id]
        rewarded = sum([await points_entries(session, shop.id, p.id) for p in people])
        assert figures["rewarded"] == rewarded == figures["joined"]
    finally:
        await nested.rollback()
