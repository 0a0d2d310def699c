"""Referral fission (裂变 / 任务宝): a customer joins a campaign and shares /f/{code}; when N
invitees count, they get the reward (coupon, points or a product to ship).

An invite counts when it passes every rule, checked in this order and recorded with the first
that fails: not the inviter themself (self_invite); not the inviter's device nor one an earlier
invitee of the same inviter used (same_device); likewise for the phone (same_phone); for join
goals, new to the shop (existing_customer); one live invite per person per campaign
(already_invited, a partial unique index so it holds under races). Then:
- join goal, no community: counted at once;
- buy goal: counted at the invitee's first order paid after the invite (before the end);
- with a community: also member for 24 h — a stay that began after the invite and ended within
  24 h rejects it (left_community); `qualify_invites` (a job, every 10 minutes) decides.
Counting is a conditional UPDATE (pending → counted) and the participant's counter moves by
UPDATE ... RETURNING: exactly one increment sees N, and it grants the reward; the reward row is
unique per (campaign, participant), and the stock moves by `rewards_given < reward_stock`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Select, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers.communities.models import Community, CommunityMember
from liveloop.customers.fission.models import (
    CampaignStatus,
    FissionCampaign,
    FissionInvite,
    FissionParticipant,
    FissionReward,
    Goal,
    InviteStatus,
    RejectReason,
    RewardKind,
    RewardStatus,
)
from liveloop.customers.fission.rewards import GRANT_ERRORS, address_snapshot, fill_reward
from liveloop.customers.fission.schemas import CampaignFields
from liveloop.customers.models import CustomerIdentity
from liveloop.shops.service import Actor, record_audit

log = structlog.get_logger(__name__)

CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
STAY_NEEDED = dt.timedelta(hours=24)
QUALIFY_GRACE = dt.timedelta(days=3)  # ended campaigns keep being qualified this long

REJECT_MESSAGES = {
    RejectReason.SELF_INVITE: "you cannot accept your own invitation",
    RejectReason.SAME_DEVICE: "this device was already used by the inviter or another invitee",
    RejectReason.SAME_PHONE: "this phone number was already used by the inviter or another invitee",
    RejectReason.EXISTING_CUSTOMER: "this campaign counts new customers only",
    RejectReason.ALREADY_INVITED: "you already accepted an invitation in this campaign",
    RejectReason.LEFT_COMMUNITY: "left the group within 24 hours",
    RejectReason.CAMPAIGN_ENDED: "qualified after the campaign ended",
}


def new_code(length: int = 8) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def mask_name(name: str) -> str:
    name = (name or "").strip()
    return f"{name[0]}**" if name else "**"


# ----------------------------------------------------------------------------------- campaigns


async def _check_references(session: AsyncSession, shop_id: int, data: CampaignFields) -> None:
    if data.reward_kind == RewardKind.COUPON.value:
        from liveloop.commerce.coupons import service as coupons_service

        assert data.reward_coupon_id is not None
        await coupons_service.get_coupon(
            session=session, shop_id=shop_id, coupon_id=data.reward_coupon_id
        )
    if data.reward_kind == RewardKind.PRODUCT.value:
        from liveloop.catalog import service as catalog_service

        assert data.reward_product_id is not None
        await catalog_service.get_product(
            session=session, shop_id=shop_id, product_id=data.reward_product_id
        )
    if data.community_id is not None:
        await get_scoped(
            session, Community, shop_id=shop_id, record_id=data.community_id, label="community"
        )


def _values(data: CampaignFields) -> dict[str, Any]:
    values = data.model_dump()
    keep = {"coupon": "reward_coupon_id", "points": "reward_points", "product": "reward_product_id"}
    for kind, name in keep.items():
        if kind != data.reward_kind:
            values[name] = None
    values["poster"] = data.poster.model_dump()
    return values


async def create_campaign(
    *, session: AsyncSession, actor: Actor, data: CampaignFields
) -> FissionCampaign:
    await _check_references(session, actor.shop_id, data)
    campaign = FissionCampaign(shop_id=actor.shop_id, code=new_code(10), **_values(data))
    session.add(campaign)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="fission.campaign_created",
        target_type="fission_campaign",
        target_id=campaign.id,
        details={"name": campaign.name, "reward_kind": campaign.reward_kind},
    )
    return campaign


async def update_campaign(
    *, session: AsyncSession, actor: Actor, campaign_id: int, data: CampaignFields
) -> FissionCampaign:
    campaign = await get_campaign(session=session, shop_id=actor.shop_id, campaign_id=campaign_id)
    await _check_references(session, actor.shop_id, data)
    values = _values(data)
    if values["reward_stock"] is not None:
        # Shrink only down to what was given; the CHECK holds even against a concurrent grant.
        updated = await session.execute(
            update(FissionCampaign)
            .where(
                FissionCampaign.id == campaign.id,
                FissionCampaign.rewards_given <= values["reward_stock"],
            )
            .values(reward_stock=values["reward_stock"])
            .execution_options(synchronize_session=False)
        )
        if not updated.rowcount:  # type: ignore[attr-defined]
            await session.refresh(campaign)
            raise InvalidInput(
                f"reward stock cannot be {values['reward_stock']}: "
                f"{campaign.rewards_given} rewards were already given",
                code="stock_below_given",
                field="reward_stock",
            )
    values.pop("reward_stock")
    await session.refresh(campaign)
    for name, value in values.items():
        setattr(campaign, name, value)
    campaign.reward_stock = data.reward_stock
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="fission.campaign_updated",
        target_type="fission_campaign",
        target_id=campaign.id,
    )
    return campaign


async def get_campaign(*, session: AsyncSession, shop_id: int, campaign_id: int) -> FissionCampaign:
    return await get_scoped(
        session, FissionCampaign, shop_id=shop_id, record_id=campaign_id, label="fission campaign"
    )


def campaigns_query(*, shop_id: int) -> Select[Any]:
    return scoped(FissionCampaign, shop_id).order_by(FissionCampaign.id.desc())


async def get_campaign_by_code(*, session: AsyncSession, code: str) -> FissionCampaign:
    """Public: the code is the capability (any shop)."""
    campaign = (
        await session.execute(select(FissionCampaign).where(FissionCampaign.code == code[:16]))
    ).scalar_one_or_none()
    if campaign is None or campaign.status == CampaignStatus.DRAFT.value:
        raise NotFound(f"campaign {code} was not found", code="campaign_not_found", field="code")
    return campaign


def is_open(campaign: FissionCampaign, now: dt.datetime) -> bool:
    return (
        campaign.status == CampaignStatus.ACTIVE.value
        and (campaign.starts_at is None or campaign.starts_at <= now)
        and (campaign.ends_at is None or now < campaign.ends_at)
    )


def check_open(campaign: FissionCampaign, now: dt.datetime) -> None:
    if not is_open(campaign, now):
        if campaign.starts_at is not None and now < campaign.starts_at:
            message = f"campaign {campaign.name} starts at {campaign.starts_at:%Y-%m-%d %H:%M} UTC"
        else:
            message = f"campaign {campaign.name} has ended"
        raise Conflict(message, code="campaign_closed", field="code")


# -------------------------------------------------------------------------------- participants


async def phone_key_of(session: AsyncSession, shop_id: int, customer_id: int) -> str | None:
    return (
        await session.execute(
            scoped(CustomerIdentity, shop_id, CustomerIdentity.key)
            .where(CustomerIdentity.customer_id == customer_id, CustomerIdentity.channel == "phone")
            .order_by(CustomerIdentity.id)
            .limit(1)
        )
    ).scalar_one_or_none()


async def _participant_of(
    session: AsyncSession, shop_id: int, campaign_id: int, customer_id: int
) -> FissionParticipant | None:
    return (
        await session.execute(
            scoped(FissionParticipant, shop_id).where(
                FissionParticipant.campaign_id == campaign_id,
                FissionParticipant.customer_id == customer_id,
            )
        )
    ).scalar_one_or_none()


async def join_campaign(
    *,
    session: AsyncSession,
    shop_id: int,
    campaign_id: int,
    customer_id: int,
    device_id: str = "",
    display_name: str = "",
) -> FissionParticipant:
    """The customer's participation with its invite code (one each: a repeat returns it)."""
    campaign = await get_campaign(session=session, shop_id=shop_id, campaign_id=campaign_id)
    existing = await _participant_of(session, shop_id, campaign.id, customer_id)
    if existing is not None:
        return existing
    check_open(campaign, utcnow())
    from liveloop.customers import service as customers_service

    await customers_service.get_active_customer(
        session=session, shop_id=shop_id, customer_id=customer_id
    )
    participant = FissionParticipant(
        shop_id=shop_id,
        campaign_id=campaign.id,
        customer_id=customer_id,
        code=new_code(),
        display_name=mask_name(display_name),
        device_id=device_id[:64],
        phone_key=await phone_key_of(session, shop_id, customer_id),
    )
    try:
        async with session.begin_nested():
            session.add(participant)
            await session.flush()
    except IntegrityError:  # joined twice at once: the first one stands
        found = await _participant_of(session, shop_id, campaign.id, customer_id)
        if found is None:
            raise
        return found
    return participant


async def find_participant(
    *, session: AsyncSession, shop_id: int, campaign_id: int, customer_id: int
) -> FissionParticipant | None:
    return await _participant_of(session, shop_id, campaign_id, customer_id)


def participants_query(*, shop_id: int, campaign_id: int) -> Select[Any]:
    return (
        scoped(FissionParticipant, shop_id)
        .where(FissionParticipant.campaign_id == campaign_id)
        .order_by(FissionParticipant.id.desc())
    )


def invites_query(
    *, shop_id: int, campaign_id: int, status: str | None = None, reason: str | None = None
) -> Select[Any]:
    statement = scoped(FissionInvite, shop_id).where(FissionInvite.campaign_id == campaign_id)
    if status:
        statement = statement.where(FissionInvite.status == status)
    if reason:
        statement = statement.where(FissionInvite.reason == reason)
    return statement.order_by(FissionInvite.id.desc())


def rewards_query(*, shop_id: int, campaign_id: int, status: str | None = None) -> Select[Any]:
    statement = scoped(FissionReward, shop_id).where(FissionReward.campaign_id == campaign_id)
    if status:
        statement = statement.where(FissionReward.status == status)
    return statement.order_by(FissionReward.id.desc())


async def get_participant_by_code(*, session: AsyncSession, code: str) -> FissionParticipant:
    """Public: the invite code is the capability (any shop)."""
    participant = (
        await session.execute(
            select(FissionParticipant)
            .where(FissionParticipant.code == code[:16])
            .execution_options(populate_existing=True)  # counters move by UPDATE statements
        )
    ).scalar_one_or_none()
    if participant is None:
        raise NotFound(f"invitation {code} was not found", code="invite_not_found", field="code")
    return participant


async def record_link_open(*, session: AsyncSession, participant_id: int) -> None:
    await session.execute(
        update(FissionParticipant)
        .where(FissionParticipant.id == participant_id)
        .values(link_opens=FissionParticipant.link_opens + 1)
        .execution_options(synchronize_session=False)
    )


# ------------------------------------------------------------------------------------- invites


@dataclass
class InviteOutcome:
    invite: FissionInvite
    status: str  # counted / pending / rejected
    reason: str | None
    message: str


async def _live_invite_of(
    session: AsyncSession, campaign_id: int, invitee_id: int
) -> FissionInvite | None:
    return (
        await session.execute(
            select(FissionInvite).where(
                FissionInvite.campaign_id == campaign_id,
                FissionInvite.invitee_customer_id == invitee_id,
                FissionInvite.status != InviteStatus.REJECTED.value,
            )
        )
    ).scalar_one_or_none()


async def _reject_reason(
    session: AsyncSession,
    campaign: FissionCampaign,
    participant: FissionParticipant,
    *,
    invitee_id: int,
    was_new: bool,
    device_id: str,
    phone_key: str | None,
) -> RejectReason | None:
    if invitee_id == participant.customer_id:
        return RejectReason.SELF_INVITE
    earlier = (
        await session.execute(
            select(FissionInvite.device_id, FissionInvite.phone_key).where(
                FissionInvite.participant_id == participant.id,
                FissionInvite.invitee_customer_id != invitee_id,
                or_(
                    FissionInvite.device_id == device_id,
                    FissionInvite.phone_key == phone_key if phone_key else false(),
                ),
            )
        )
    ).all()
    if device_id and (
        device_id == participant.device_id or any(row.device_id == device_id for row in earlier)
    ):
        return RejectReason.SAME_DEVICE
    if phone_key and (
        phone_key == participant.phone_key or any(row.phone_key == phone_key for row in earlier)
    ):
        return RejectReason.SAME_PHONE
    if campaign.goal == Goal.JOIN.value and not (
        was_new and await _created_since(session, invitee_id, participant.created_at)
    ):
        return RejectReason.EXISTING_CUSTOMER
    return None


async def _created_since(session: AsyncSession, customer_id: int, since: dt.datetime) -> bool:
    """A second opinion on newness: a customer record older than the inviter's link is not
    new, whatever the identity step said."""
    from liveloop.customers.models import Customer

    created = (
        await session.execute(select(Customer.created_at).where(Customer.id == customer_id))
    ).scalar_one_or_none()
    return created is not None and created >= since


async def accept_invite(
    *,
    session: AsyncSession,
    shop_id: int,
    code: str,
    invitee_customer_id: int,
    invitee_was_new: bool,
    device_id: str,
    phone_key: str | None,
) -> InviteOutcome:
    """Record that `invitee` came through the link `code`, counted or not (and why).
    `invitee_was_new`: the identity step created the customer just now. A refusal is a
    recorded outcome, not an error (raising would roll the record back)."""
    participant = await get_participant_by_code(session=session, code=code)
    if participant.shop_id != shop_id:
        raise NotFound(f"invitation {code} was not found", code="invite_not_found", field="code")
    campaign = await get_campaign(
        session=session, shop_id=shop_id, campaign_id=participant.campaign_id
    )
    now = utcnow()
    check_open(campaign, now)
    live = await _live_invite_of(session, campaign.id, invitee_customer_id)
    if live is not None and live.participant_id == participant.id:
        return _outcome(live)  # the same person accepting the same link again
    device_id = device_id[:64]
    reason = (
        RejectReason.ALREADY_INVITED
        if live is not None
        else await _reject_reason(
            session,
            campaign,
            participant,
            invitee_id=invitee_customer_id,
            was_new=invitee_was_new,
            device_id=device_id,
            phone_key=phone_key,
        )
    )
    values = {
        "shop_id": shop_id,
        "campaign_id": campaign.id,
        "participant_id": participant.id,
        "inviter_customer_id": participant.customer_id,
        "invitee_customer_id": invitee_customer_id,
        "device_id": device_id,
        "phone_key": phone_key,
        "invitee_was_new": invitee_was_new,
        "created_at": now,
    }
    invite = FissionInvite(**values)
    if reason is not None:
        invite.status, invite.reason, invite.decided_at = InviteStatus.REJECTED.value, reason, now
    try:
        async with session.begin_nested():
            session.add(invite)
            await session.flush()
    except IntegrityError:  # another inviter's live invite of this person won the race
        invite = FissionInvite(
            **values,
            status=InviteStatus.REJECTED.value,
            reason=RejectReason.ALREADY_INVITED.value,
            decided_at=now,
        )
        session.add(invite)
        await session.flush()
    await session.execute(
        update(FissionParticipant)
        .where(FissionParticipant.id == participant.id)
        .values(invitee_count=FissionParticipant.invitee_count + 1)
        .execution_options(synchronize_session=False)
    )
    if invite.status == InviteStatus.PENDING.value and (
        campaign.goal == Goal.JOIN.value and campaign.community_id is None
    ):
        await count_invite(session=session, shop_id=shop_id, invite_id=invite.id)
        await session.refresh(invite)
    log.debug("fission_invite", invite_id=invite.id, status=invite.status, reason=invite.reason)
    return _outcome(invite)


def _outcome(invite: FissionInvite) -> InviteOutcome:
    if invite.status == InviteStatus.REJECTED.value:
        reason = RejectReason(invite.reason or "")
        return InviteOutcome(invite, invite.status, reason.value, REJECT_MESSAGES[reason])
    if invite.status == InviteStatus.COUNTED.value:
        return InviteOutcome(invite, invite.status, None, "thank you: your friend's invite counts")
    return InviteOutcome(invite, invite.status, None, "accepted; it counts once the goal is met")


async def count_invite(*, session: AsyncSession, shop_id: int, invite_id: int) -> bool:
    """pending → counted, once; the inviter's counter moves and the N-th count grants the
    reward. True only for the call that counted it."""
    counted = (
        await session.execute(
            update(FissionInvite)
            .where(
                FissionInvite.id == invite_id,
                FissionInvite.shop_id == shop_id,
                FissionInvite.status == InviteStatus.PENDING.value,
            )
            .values(status=InviteStatus.COUNTED.value, decided_at=utcnow())
            .returning(FissionInvite.participant_id, FissionInvite.campaign_id)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if counted is None:
        return False
    participant_id, campaign_id = counted
    position = (
        await session.execute(
            update(FissionParticipant)
            .where(FissionParticipant.id == participant_id)
            .values(counted_count=FissionParticipant.counted_count + 1)
            .returning(FissionParticipant.counted_count)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    campaign = await get_campaign(session=session, shop_id=shop_id, campaign_id=campaign_id)
    if position == campaign.invitees_needed:
        await _reach_goal(session, campaign, participant_id)
    return True


async def reject_invite(
    *, session: AsyncSession, shop_id: int, invite_id: int, reason: RejectReason
) -> bool:
    rejected = await session.execute(
        update(FissionInvite)
        .where(
            FissionInvite.id == invite_id,
            FissionInvite.shop_id == shop_id,
            FissionInvite.status == InviteStatus.PENDING.value,
        )
        .values(status=InviteStatus.REJECTED.value, reason=reason.value, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(rejected.rowcount)  # type: ignore[attr-defined]


# -------------------------------------------------------------------------------------- reward


async def _reach_goal(
    session: AsyncSession, campaign: FissionCampaign, participant_id: int
) -> FissionReward | None:
    now = utcnow()
    await session.execute(
        update(FissionParticipant)
        .where(FissionParticipant.id == participant_id, FissionParticipant.reached_at.is_(None))
        .values(reached_at=now)
        .execution_options(synchronize_session=False)
    )
    participant = await session.get(FissionParticipant, participant_id)
    assert participant is not None
    reward = FissionReward(
        shop_id=campaign.shop_id,
        campaign_id=campaign.id,
        participant_id=participant_id,
        customer_id=participant.customer_id,
        kind=campaign.reward_kind,
        status=RewardStatus.OUT_OF_STOCK.value,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(reward)
            await session.flush()
    except IntegrityError:  # rewarded already: one reward per participant per campaign
        return None
    took = await session.execute(
        update(FissionCampaign)
        .where(
            FissionCampaign.id == campaign.id,
            or_(
                FissionCampaign.reward_stock.is_(None),
                FissionCampaign.rewards_given < FissionCampaign.reward_stock,
            ),
        )
        .values(rewards_given=FissionCampaign.rewards_given + 1)
        .execution_options(synchronize_session=False)
    )
    if not took.rowcount:  # type: ignore[attr-defined]
        reward.note = "the reward stock ran out before this participant reached the goal"
        await session.flush()
        return reward
    await _fill(session, campaign, reward)
    return reward


async def _fill(session: AsyncSession, campaign: FissionCampaign, reward: FissionReward) -> None:
    reward_id = reward.id
    try:
        async with session.begin_nested():
            await fill_reward(session, campaign, reward)
    except GRANT_ERRORS as exc:
        reward = await session.get(FissionReward, reward_id) or reward
        await session.refresh(reward)
        reward.status, reward.note = RewardStatus.FAILED.value, str(exc)[:300]
        await session.execute(
            update(FissionCampaign)
            .where(FissionCampaign.id == campaign.id, FissionCampaign.rewards_given > 0)
            .values(rewards_given=FissionCampaign.rewards_given - 1)
            .execution_options(synchronize_session=False)
        )
        await session.flush()
    await session.refresh(campaign, attribute_names=["rewards_given"])


async def retry_reward(*, session: AsyncSession, actor: Actor, reward_id: int) -> FissionReward:
    """Try a failed or out-of-stock reward again (e.g. after topping up the coupon or stock)."""
    reward = await get_scoped(
        session, FissionReward, shop_id=actor.shop_id, record_id=reward_id, label="reward"
    )
    retryable = (RewardStatus.FAILED.value, RewardStatus.OUT_OF_STOCK.value)
    claimed = await session.execute(
        update(FissionReward)
        .where(FissionReward.id == reward.id, FissionReward.status.in_(retryable))
        .values(status=RewardStatus.OUT_OF_STOCK.value, note="")
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise Conflict(
            f"reward {reward.id} is {reward.status}; only failed or out-of-stock ones are retried",
            code="reward_not_retryable",
        )
    await session.refresh(reward)
    campaign = await get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=reward.campaign_id
    )
    took = await session.execute(
        update(FissionCampaign)
        .where(
            FissionCampaign.id == campaign.id,
            or_(
                FissionCampaign.reward_stock.is_(None),
                FissionCampaign.rewards_given < FissionCampaign.reward_stock,
            ),
        )
        .values(rewards_given=FissionCampaign.rewards_given + 1)
        .execution_options(synchronize_session=False)
    )
    if took.rowcount:  # type: ignore[attr-defined]
        await _fill(session, campaign, reward)
    else:
        reward.note = "the reward stock is still empty"
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="fission.reward_retried",
        target_type="fission_reward",
        target_id=reward.id,
        details={"status": reward.status},
    )
    return reward


async def mark_reward_shipped(
    *, session: AsyncSession, actor: Actor, reward_id: int
) -> FissionReward:
    reward = await get_scoped(
        session, FissionReward, shop_id=actor.shop_id, record_id=reward_id, label="reward"
    )
    shipped = await session.execute(
        update(FissionReward)
        .where(FissionReward.id == reward.id, FissionReward.status == RewardStatus.TO_SHIP.value)
        .values(status=RewardStatus.SHIPPED.value, shipped_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(reward)
    if not shipped.rowcount:  # type: ignore[attr-defined]
        raise Conflict(
            f"reward {reward.id} is {reward.status}; only rewards to ship can be marked shipped",
            code="reward_not_to_ship",
        )
    await record_audit(
        session=session,
        actor=actor,
        action="fission.reward_shipped",
        target_type="fission_reward",
        target_id=reward.id,
    )
    return reward


async def set_reward_address(
    *, session: AsyncSession, shop_id: int, customer_id: int, campaign_id: int, address_id: int
) -> FissionReward:
    """The winner names where to ship a product reward (needs_address → to_ship)."""
    from liveloop.commerce import addresses

    reward = (
        await session.execute(
            scoped(FissionReward, shop_id).where(
                FissionReward.campaign_id == campaign_id, FissionReward.customer_id == customer_id
            )
        )
    ).scalar_one_or_none()
    if reward is None:
        raise NotFound("no reward of yours in this campaign", code="reward_not_found")
    address = await addresses.get_address(
        session=session, shop_id=shop_id, customer_id=customer_id, address_id=address_id
    )
    moved = await session.execute(
        update(FissionReward)
        .where(
            FissionReward.id == reward.id,
            FissionReward.status.in_(
                (RewardStatus.NEEDS_ADDRESS.value, RewardStatus.TO_SHIP.value)
            ),
        )
        .values(
            status=RewardStatus.TO_SHIP.value,
            address_id=address.id,
            address=address_snapshot(address),
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(reward)
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise Conflict(f"this reward is {reward.status}", code="reward_address_locked")
    return reward


# ------------------------------------------------------------------------------- qualification


async def _stays(
    session: AsyncSession, shop_id: int, community_id: int, customer_id: int
) -> list[Any]:
    return list(
        (
            await session.execute(
                scoped(
                    CommunityMember, shop_id, CommunityMember.joined_at, CommunityMember.left_at
                ).where(
                    CommunityMember.community_id == community_id,
                    CommunityMember.customer_id == customer_id,
                )
            )
        ).all()
    )


def community_verdict(
    stays: list[Any], *, invited_at: dt.datetime, now: dt.datetime
) -> RejectReason | bool | None:
    """True: a member for 24 h since the invite; LEFT_COMMUNITY: a stay begun after the invite
    ended within 24 h; None: not decided yet (not joined, or joined less than 24 h ago)."""
    after = [stay for stay in stays if stay.joined_at >= invited_at - dt.timedelta(minutes=5)]
    if any(s.left_at is not None and s.left_at - s.joined_at < STAY_NEEDED for s in after):
        return RejectReason.LEFT_COMMUNITY
    current = [s for s in stays if s.left_at is None]
    if any(now - s.joined_at >= STAY_NEEDED for s in current):
        return True
    return None


async def qualify_invites(
    *, session: AsyncSession, shop_id: int, campaign_id: int, now: dt.datetime | None = None
) -> dict[str, int]:
    """Decide the pending invites of a campaign that can be decided now; idempotent."""
    now = now or utcnow()
    campaign = await get_campaign(session=session, shop_id=shop_id, campaign_id=campaign_id)
    pending = (
        (
            await session.execute(
                scoped(FissionInvite, shop_id)
                .where(
                    FissionInvite.campaign_id == campaign.id,
                    FissionInvite.status == InviteStatus.PENDING.value,
                )
                .order_by(FissionInvite.id)
            )
        )
        .scalars()
        .all()
    )
    done = {"counted": 0, "rejected": 0}
    for invite in pending:
        if campaign.goal == Goal.BUY.value and invite.order_id is None:
            continue
        verdict: RejectReason | bool | None = True
        if campaign.community_id is not None:
            stays = await _stays(
                session, shop_id, campaign.community_id, invite.invitee_customer_id
            )
            verdict = community_verdict(stays, invited_at=invite.created_at, now=now)
        if isinstance(verdict, RejectReason):
            if await reject_invite(
                session=session, shop_id=shop_id, invite_id=invite.id, reason=verdict
            ):
                done["rejected"] += 1
        elif verdict is True and await count_invite(
            session=session, shop_id=shop_id, invite_id=invite.id
        ):
            done["counted"] += 1
    return done


async def qualify_due_invites(*, session: AsyncSession) -> int:
    """Every shop's campaigns that can still have pending invites (for the periodic job)."""
    now = utcnow()
    rows = (
        await session.execute(
            select(FissionCampaign.shop_id, FissionCampaign.id).where(
                FissionCampaign.status != CampaignStatus.DRAFT.value,
                or_(
                    FissionCampaign.ends_at.is_(None),
                    FissionCampaign.ends_at > now - QUALIFY_GRACE,
                ),
                FissionCampaign.id.in_(
                    select(FissionInvite.campaign_id).where(
                        FissionInvite.status == InviteStatus.PENDING.value
                    )
                ),
            )
        )
    ).all()
    decided = 0
    for shop_id, campaign_id in rows:
        result = await qualify_invites(
            session=session, shop_id=shop_id, campaign_id=campaign_id, now=now
        )
        decided += sum(result.values())
    return decided


@hooks.on("order_paid")
async def count_first_purchase(*, session: AsyncSession, order: Any, **_: Any) -> None:
    """Buy goals: the invitee's first order paid after the invite qualifies it."""
    now = utcnow()
    rows = (
        await session.execute(
            select(FissionInvite.id, FissionCampaign)
            .join(FissionCampaign, FissionCampaign.id == FissionInvite.campaign_id)
            .where(
                FissionInvite.shop_id == order.shop_id,
                FissionInvite.invitee_customer_id == order.customer_id,
                FissionInvite.status == InviteStatus.PENDING.value,
                FissionInvite.order_id.is_(None),
                FissionCampaign.goal == Goal.BUY.value,
            )
        )
    ).all()
    for invite_id, campaign in rows:
        taken = await session.execute(
            update(FissionInvite)
            .where(FissionInvite.id == invite_id, FissionInvite.order_id.is_(None))
            .values(order_id=order.id)
            .execution_options(synchronize_session=False)
        )
        if not taken.rowcount:  # type: ignore[attr-defined]
            continue
        if campaign.ends_at is not None and now >= campaign.ends_at:
            await reject_invite(
                session=session,
                shop_id=order.shop_id,
                invite_id=invite_id,
                reason=RejectReason.CAMPAIGN_ENDED,
            )
        elif campaign.community_id is None:
            await count_invite(session=session, shop_id=order.shop_id, invite_id=invite_id)
        else:
            await qualify_invites(session=session, shop_id=order.shop_id, campaign_id=campaign.id)


# -------------------------------------------------------------------------------- viewer reads


async def my_progress(*, session: AsyncSession, participant: FissionParticipant) -> dict[str, Any]:
    pending = (
        await session.execute(
            select(func.count()).where(
                FissionInvite.participant_id == participant.id,
                FissionInvite.status == InviteStatus.PENDING.value,
            )
        )
    ).scalar_one()
    reward_status = (
        await session.execute(
            select(FissionReward.status).where(FissionReward.participant_id == participant.id)
        )
    ).scalar_one_or_none()
    return {"counted": participant.counted_count, "pending": pending, "reward": reward_status}
