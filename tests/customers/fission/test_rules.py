"""Fission invites one rule at a time: what counts, what is refused and why, and the reward."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from liveloop.commerce.coupons.models import CustomerCoupon
from liveloop.core.database import utcnow
from liveloop.customers.communities.models import Community, CommunityMember
from liveloop.customers.fission import service as fission
from liveloop.customers.fission.models import FissionInvite, FissionParticipant, FissionReward
from tests import factories
from tests.customers.fission.helpers import (
    INVITER_DEVICE,
    INVITER_PHONE,
    accept,
    make_campaign,
    make_inviter,
)


async def _new(session, shop, name: str = "李娜"):  # type: ignore[no-untyped-def]
    return await factories.make_customer(session, shop_id=shop.id, name=name)


async def _reload(session, participant):  # type: ignore[no-untyped-def]
    await session.refresh(participant)
    return participant


async def test_two_new_invitees_count_and_the_inviter_gets_the_coupon_once(session, shop) -> None:
    campaign = await make_campaign(session, shop.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    first = await accept(session, inviter, (await _new(session, shop)).id, device="d-1")
    assert (first.status, first.reason) == ("counted", None)
    assert (await _reload(session, inviter)).reached_at is None
    second = await accept(session, inviter, (await _new(session, shop, "王芳")).id, device="d-2")
    assert second.status == "counted"
    third = await accept(session, inviter, (await _new(session, shop, "刘洋")).id, device="d-3")
    assert third.status == "counted"  # counts on the leaderboard; no second reward
    inviter = await _reload(session, inviter)
    assert (inviter.counted_count, inviter.invitee_count) == (3, 3)
    assert inviter.reached_at is not None
    rewards = (
        (
            await session.execute(
                select(FissionReward).where(FissionReward.campaign_id == campaign.id)
            )
        )
        .scalars()
        .all()
    )
    assert [(r.status, r.customer_id) for r in rewards] == [("granted", inviter.customer_id)]
    coupons = (
        await session.execute(
            select(func.count()).where(CustomerCoupon.customer_id == inviter.customer_id)
        )
    ).scalar_one()
    assert coupons == 1 and rewards[0].customer_coupon_id is not None
    await session.refresh(campaign)
    assert campaign.rewards_given == 1


async def test_accepting_the_same_link_twice_records_one_invite(session, shop) -> None:
    campaign = await make_campaign(session, shop.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    invitee = await _new(session, shop)
    first = await accept(session, inviter, invitee.id, device="d-1")
    again = await accept(session, inviter, invitee.id, device="d-1")
    assert again.invite.id == first.invite.id
    assert (await _reload(session, inviter)).counted_count == 1


async def test_self_invite_is_recorded_and_not_counted(session, shop) -> None:
    campaign = await make_campaign(session, shop.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    outcome = await accept(session, inviter, inviter.customer_id, device="another-device")
    assert (outcome.status, outcome.reason) == ("rejected", "self_invite")
    assert (await _reload(session, inviter)).counted_count == 0


async def test_the_inviters_device_does_not_count(session, shop) -> None:
    campaign = await make_campaign(session, shop.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    outcome = await accept(session, inviter, (await _new(session, shop)).id, device=INVITER_DEVICE)
    assert (outcome.status, outcome.reason) == ("rejected", "same_device")


async def test_a_device_used_by_another_invitee_of_the_same_inviter_does_not_count(
    session, shop
) -> None:
    campaign = await make_campaign(session, shop.id, invitees_needed=5)
    inviter = await make_inviter(session, shop.id, campaign.id)
    assert (
        await accept(session, inviter, (await _new(session, shop)).id, device="d-x")
    ).status == ("counted")
    second = await accept(session, inviter, (await _new(session, shop, "王芳")).id, device="d-x")
    assert (second.status, second.reason) == ("rejected", "same_device")
    # The same device for another inviter is someone else's business: it counts there.
    other = await fission.join_campaign(
        session=session,
        shop_id=shop.id,
        campaign_id=campaign.id,
        customer_id=(await _new(session, shop, "赵强")).id,
        device_id="device-other-inviter",
    )
    third = await accept(session, other, (await _new(session, shop, "孙丽")).id, device="d-x")
    assert third.status == "counted"


async def test_the_inviters_phone_does_not_count(session, shop) -> None:
    campaign = await make_campaign(session, shop.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    assert inviter.phone_key is not None
    outcome = await accept(
        session, inviter, (await _new(session, shop)).id, device="d-1", phone=INVITER_PHONE
    )
    assert (outcome.status, outcome.reason) == ("rejected", "same_phone")


async def test_a_phone_used_by_another_invitee_does_not_count(session, shop) -> None:
    campaign = await make_campaign(session, shop.id, invitees_needed=5)
    inviter = await make_inviter(session, shop.id, campaign.id)
    phone = "13911112222"
    first = await accept(
        session, inviter, (await _new(session, shop)).id, device="d-1", phone=phone
    )
    assert first.status == "counted"
    second = await accept(
        session, inviter, (await _new(session, shop, "王芳")).id, device="d-2", phone=phone
    )
    assert (second.status, second.reason) == ("rejected", "same_phone")


async def test_an_existing_customer_does_not_count_for_a_join_goal(session, shop) -> None:
    campaign = await make_campaign(session, shop.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    regular = await _new(session, shop, "老客户")
    outcome = await accept(session, inviter, regular.id, device="d-1", new=False)
    assert (outcome.status, outcome.reason) == ("rejected", "existing_customer")


async def test_a_customer_older_than_the_link_is_not_new_whatever_the_flag(session, shop) -> None:
    campaign = await make_campaign(session, shop.id)
    regular = await _new(session, shop, "老客户")  # before the inviter joined
    inviter = await make_inviter(session, shop.id, campaign.id)
    outcome = await accept(session, inviter, regular.id, device="d-1", new=True)
    assert (outcome.status, outcome.reason) == ("rejected", "existing_customer")


async def test_a_person_counts_for_the_first_inviter_only(session, shop) -> None:
    campaign = await make_campaign(session, shop.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    other = await fission.join_campaign(
        session=session,
        shop_id=shop.id,
        campaign_id=campaign.id,
        customer_id=(await _new(session, shop, "赵强")).id,
        device_id="device-other-inviter",
    )
    invitee = await _new(session, shop)
    assert (await accept(session, inviter, invitee.id, device="d-1")).status == "counted"
    second = await accept(session, other, invitee.id, device="d-1")
    assert (second.status, second.reason) == ("rejected", "already_invited")


async def test_a_closed_campaign_refuses_invites(session, shop) -> None:
    campaign = await make_campaign(session, shop.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    campaign.ends_at = utcnow() - dt.timedelta(minutes=1)
    await session.flush()
    from liveloop.core.errors import Conflict

    with pytest.raises(Conflict) as refused:
        await accept(session, inviter, (await _new(session, shop)).id, device="d-1")
    assert refused.value.code == "campaign_closed"


async def _community_campaign(session, shop):  # type: ignore[no-untyped-def]
    community = Community(shop_id=shop.id, name="新人福利群", kind="newcomer")
    session.add(community)
    await session.flush()
    campaign = await make_campaign(session, shop.id, invitees_needed=1, community_id=community.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    return community, campaign, inviter


async def _stay(session, shop, community, customer_id, joined, left=None) -> None:  # type: ignore[no-untyped-def]
    session.add(
        CommunityMember(
            shop_id=shop.id,
            community_id=community.id,
            customer_id=customer_id,
            joined_at=joined,
            left_at=left,
            source="fission",
        )
    )
    await session.flush()


async def test_an_invitee_who_leaves_the_group_within_24_hours_does_not_count(
    session, shop
) -> None:
    community, campaign, inviter = await _community_campaign(session, shop)
    invitee = await _new(session, shop)
    outcome = await accept(session, inviter, invitee.id, device="d-1")
    assert outcome.status == "pending"
    joined = outcome.invite.created_at + dt.timedelta(minutes=1)
    await _stay(session, shop, community, invitee.id, joined, joined + dt.timedelta(hours=2))
    decided = await fission.qualify_invites(
        session=session,
        shop_id=shop.id,
        campaign_id=campaign.id,
        now=joined + dt.timedelta(hours=30),
    )
    assert decided == {"counted": 0, "rejected": 1}
    invite = await session.get(FissionInvite, outcome.invite.id)
    await session.refresh(invite)
    assert (invite.status, invite.reason) == ("rejected", "left_community")
    assert (await _reload(session, inviter)).counted_count == 0


async def test_an_invitee_who_stays_24_hours_counts_and_not_before(session, shop) -> None:
    community, campaign, inviter = await _community_campaign(session, shop)
    invitee = await _new(session, shop)
    outcome = await accept(session, inviter, invitee.id, device="d-1")
    joined = outcome.invite.created_at + dt.timedelta(minutes=1)
    await _stay(session, shop, community, invitee.id, joined)
    early = await fission.qualify_invites(
        session=session,
        shop_id=shop.id,
        campaign_id=campaign.id,
        now=joined + dt.timedelta(hours=23),
    )
    assert early == {"counted": 0, "rejected": 0}
    later = joined + dt.timedelta(hours=24, minutes=1)
    done = await fission.qualify_invites(
        session=session, shop_id=shop.id, campaign_id=campaign.id, now=later
    )
    assert done == {"counted": 1, "rejected": 0}
    again = await fission.qualify_invites(
        session=session, shop_id=shop.id, campaign_id=campaign.id, now=later
    )
    assert again == {"counted": 0, "rejected": 0}  # idempotent
    inviter = await _reload(session, inviter)
    assert inviter.counted_count == 1 and inviter.reached_at is not None


async def test_a_buy_goal_counts_at_the_first_paid_order(session, shop) -> None:
    from liveloop.commerce import orders as orders_service

    campaign = await make_campaign(session, shop.id, goal="buy", invitees_needed=1)
    inviter = await make_inviter(session, shop.id, campaign.id)
    regular = await _new(session, shop, "老客户")
    outcome = await accept(session, inviter, regular.id, device="d-1", new=False)
    assert outcome.status == "pending"  # buy goals take existing customers too
    tea = await factories.make_product(session, shop_id=shop.id, name="龙井", price_fen=5000)
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=regular.id, lines=[(tea.skus[0].id, 1)]
    )
    await orders_service.mark_order_paid(
        session=session, shop_id=shop.id, order_id=order.id, amount_fen=order.total_fen,
        paid_at=utcnow(), payment_ref="pay-fission-1",
    )  # fmt: skip
    invite = await session.get(FissionInvite, outcome.invite.id)
    await session.refresh(invite)
    assert (invite.status, invite.order_id) == ("counted", order.id)
    assert (await _reload(session, inviter)).reached_at is not None


async def test_reward_stock_never_goes_below_zero_and_a_retry_grants_after_a_top_up(
    session, shop, actor
) -> None:
    campaign = await make_campaign(session, shop.id, invitees_needed=1, reward_stock=1)
    first = await make_inviter(session, shop.id, campaign.id)
    second = await fission.join_campaign(
        session=session,
        shop_id=shop.id,
        campaign_id=campaign.id,
        customer_id=(await _new(session, shop, "赵强")).id,
        device_id="device-second",
    )
    await accept(session, first, (await _new(session, shop, "甲")).id, device="d-1")
    await accept(session, second, (await _new(session, shop, "乙")).id, device="d-2")
    rewards = {
        r.participant_id: r
        for r in (await session.execute(select(FissionReward))).scalars()
        if r.campaign_id == campaign.id
    }
    assert rewards[first.id].status == "granted"
    assert rewards[second.id].status == "out_of_stock"
    await session.refresh(campaign)
    assert (campaign.rewards_given, campaign.stock_left) == (1, 0)
    with pytest.raises(Exception) as too_small:
        data = fission_update_data(campaign, reward_stock=0)
        await fission.update_campaign(
            session=session, actor=actor, campaign_id=campaign.id, data=data
        )
    assert getattr(too_small.value, "code", "") == "stock_below_given"
    await fission.update_campaign(
        session=session,
        actor=actor,
        campaign_id=campaign.id,
        data=fission_update_data(campaign, reward_stock=2),
    )
    retried = await fission.retry_reward(
        session=session, actor=actor, reward_id=rewards[second.id].id
    )
    assert retried.status == "granted"
    await session.refresh(campaign)
    assert campaign.rewards_given == 2


def fission_update_data(campaign, **changes):  # type: ignore[no-untyped-def]
    from liveloop.customers.fission.schemas import CampaignUpdate

    fields = {
        name: getattr(campaign, name)
        for name in (
            "name", "description", "goal", "invitees_needed", "reward_kind", "reward_coupon_id",
            "reward_points", "reward_product_id", "reward_title", "reward_stock", "starts_at",
            "ends_at", "community_id", "poster", "status",
        )
    }  # fmt: skip
    return CampaignUpdate(**{**fields, **changes})


async def test_a_product_reward_waits_for_an_address_then_ships(session, shop, actor) -> None:
    tea = await factories.make_product(session, shop_id=shop.id, name="礼盒", price_fen=19900)
    campaign = await make_campaign(
        session, shop.id, invitees_needed=1, reward_kind="product", reward_product_id=tea.id
    )
    inviter = await make_inviter(session, shop.id, campaign.id)
    await accept(session, inviter, (await _new(session, shop)).id, device="d-1")
    reward = (
        await session.execute(
            select(FissionReward).where(FissionReward.participant_id == inviter.id)
        )
    ).scalar_one()
    assert reward.status == "needs_address"
    address = await factories.make_address(
        session, shop_id=shop.id, customer_id=inviter.customer_id
    )
    reward = await fission.set_reward_address(
        session=session, shop_id=shop.id, customer_id=inviter.customer_id,
        campaign_id=campaign.id, address_id=address.id,
    )  # fmt: skip
    assert reward.status == "to_ship" and reward.address["city"] == "杭州市"
    assert "文三路" not in str(reward.address)  # the street stays encrypted
    shipped = await fission.mark_reward_shipped(session=session, actor=actor, reward_id=reward.id)
    assert shipped.status == "shipped" and shipped.shipped_at is not None


async def test_a_points_reward_goes_through_the_points_service_or_says_it_is_missing(
    session, shop
) -> None:
    import importlib.util

    campaign = await make_campaign(
        session, shop.id, invitees_needed=1, reward_kind="points", reward_points=500
    )
    inviter = await make_inviter(session, shop.id, campaign.id)
    await accept(session, inviter, (await _new(session, shop)).id, device="d-1")
    reward = (
        await session.execute(
            select(FissionReward).where(FissionReward.participant_id == inviter.id)
        )
    ).scalar_one()
    await session.refresh(campaign)
    if importlib.util.find_spec("liveloop.customers.points.service") is None:
        assert reward.status == "failed"
        assert "grant_points" in reward.note
        assert campaign.rewards_given == 0  # the stock was given back
    else:
        from liveloop.customers.points.models import PointsEntry

        assert (reward.status, reward.points) == ("granted", 500)
        entries = (
            (
                await session.execute(
                    select(PointsEntry.delta).where(PointsEntry.customer_id == inviter.customer_id)
                )
            )
            .scalars()
            .all()
        )
        assert list(entries) == [500]


async def test_another_shops_invite_code_is_not_found(session, shop, other_shop) -> None:
    from liveloop.core.errors import NotFound

    campaign = await make_campaign(session, shop.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    stranger = await factories.make_customer(session, shop_id=other_shop.id, name="外店")
    with pytest.raises(NotFound):
        await fission.accept_invite(
            session=session, shop_id=other_shop.id, code=inviter.code,
            invitee_customer_id=stranger.id, invitee_was_new=True, device_id="d-9", phone_key=None,
        )  # fmt: skip
    participants = (
        await session.execute(
            select(func.count()).where(FissionParticipant.campaign_id == campaign.id)
        )
    ).scalar_one()
    assert participants == 1


async def test_the_periodic_job_decides_pending_invites_of_every_shop(session, shop) -> None:
    community, _campaign, inviter = await _community_campaign(session, shop)
    stayed, left = await _new(session, shop), await _new(session, shop, "王芳")
    first = await accept(session, inviter, stayed.id, device="d-1")
    second = await accept(session, inviter, left.id, device="d-2")
    long_ago = utcnow() - dt.timedelta(hours=30)
    for outcome in (first, second):  # as if accepted 30 hours ago
        outcome.invite.created_at = long_ago
    await session.flush()
    await _stay(session, shop, community, stayed.id, long_ago + dt.timedelta(minutes=5))
    await _stay(
        session, shop, community, left.id, long_ago + dt.timedelta(minutes=5),
        long_ago + dt.timedelta(hours=3),
    )  # fmt: skip
    assert await fission.qualify_due_invites(session=session) >= 2
    statuses = {}
    for outcome in (first, second):
        await session.refresh(outcome.invite)
        statuses[outcome.invite.invitee_customer_id] = (
            outcome.invite.status,
            outcome.invite.reason,
        )
    assert statuses == {stayed.id: ("counted", None), left.id: ("rejected", "left_community")}
