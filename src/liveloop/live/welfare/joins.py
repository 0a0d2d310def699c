"""Confirming a welfare join and granting its reward exactly once.

Two ways in: the viewer's personal join link (`confirm_by_link`: the signed token is checked,
then the join is the confirmation unless the offer waits for its channel), and the channel
adapter (`confirm_by_channel`: a server-side call saying the customer is in the group).
Both end in `settle_join`, which locks the claim row and sets its `settled_at` with a
conditional UPDATE: whichever callback gets there first decides the outcome and grants the
reward; every repeat, retry or concurrent twin finds it settled and changes nothing.

Who is rewarded: a customer who joins the group through the offer. A current member has
nothing to join (already_member, at the tap or at the confirmation). With new_members_only (the
default) a customer who was ever in the group before joins again, attributed, but unrewarded
(not_new): welfare is for newcomers, or leaving and rejoining would farm it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import scoped, utcnow
from liveloop.core.errors import Conflict
from liveloop.customers.communities import service as communities
from liveloop.live.service import check_may_run, get_live_session
from liveloop.live.welfare import links, service
from liveloop.live.welfare.models import (
    ClaimOutcome,
    ConfirmBy,
    RewardKind,
    WelfareClaim,
    WelfareOffer,
)
from liveloop.live.welfare.schemas import ChannelConfirmIn
from liveloop.shops.service import Actor, record_audit, system_actor

log = structlog.get_logger(__name__)


async def resolve_link(
    session: AsyncSession, token: str, *, secret: str, now: dt.datetime | None = None
) -> tuple[WelfareOffer, int]:
    """The offer and customer of a join link: LinkMalformed (400), LinkForged (403: not signed
    by us, or changed), LinkExpired (410)."""
    parts = links.parse_link(token)
    offer = (
        await session.execute(select(WelfareOffer).where(WelfareOffer.id == parts.offer_id))
    ).scalar_one_or_none()
    if offer is None:  # we never issued a link for an offer that does not exist
        raise links.LinkForged(
            "this join link was not issued by the shop; tap the offer in the live room to get "
            "your own link",
            field="token",
        )
    links.check_link(
        secret,
        parts,
        shop_id=offer.shop_id,
        live_session_id=offer.live_session_id,
        now=now or utcnow(),
    )
    return offer, parts.customer_id


async def open_link(
    session: AsyncSession, token: str, *, secret: str
) -> tuple[WelfareOffer, WelfareClaim]:
    """The join page opened: verified, and counted once as opened."""
    offer, customer_id = await resolve_link(session, token, secret=secret)
    claim = await service.customer_claim(session, offer, customer_id)
    await _mark_opened(session, claim)
    return offer, claim


async def _mark_opened(session: AsyncSession, claim: WelfareClaim) -> None:
    now = utcnow()
    await session.execute(
        update(WelfareClaim)
        .where(WelfareClaim.id == claim.id, WelfareClaim.opened_at.is_(None))
        .values(opened_at=now, tapped_at=claim.tapped_at or now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(claim)


async def confirm_by_link(
    session: AsyncSession, token: str, *, secret: str
) -> tuple[WelfareOffer, WelfareClaim]:
    """The viewer confirms on the join page (or the link's callback is called)."""
    offer, customer_id = await resolve_link(session, token, secret=secret)
    claim = await service.customer_claim(session, offer, customer_id)
    await _mark_opened(session, claim)
    if offer.confirm_by == ConfirmBy.CHANNEL.value:
        return offer, claim  # the channel adapter confirms the join
    return offer, await settle_join(session, offer, claim, via="link", refuse_settled=True)


def used_link(offer: WelfareOffer, claim: WelfareClaim) -> links.LinkUsed:
    """The refusal of a replayed link, saying what the first use did."""
    done = {
        ClaimOutcome.REWARDED.value: f"you joined and got {offer.reward_name}",
        ClaimOutcome.ALREADY_MEMBER.value: "you are in this group already",
        ClaimOutcome.NOT_NEW.value: "you joined again (the reward is for first-time members)",
        ClaimOutcome.FAILED.value: f"you joined, but the reward failed: {claim.reward_note}",
    }.get(str(claim.outcome), "your join was settled")
    return links.LinkUsed(
        f"this join link was used already: {done}; nothing more is granted", field="token"
    )


async def confirm_by_channel(
    session: AsyncSession, *, actor: Actor, offer_id: int, data: ChannelConfirmIn, secret: str
) -> tuple[WelfareOffer, WelfareClaim]:
    """The channel adapter saw the customer join the offer's group (server to server)."""
    offer = await service.get_offer(session=session, shop_id=actor.shop_id, offer_id=offer_id)
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=offer.live_session_id
    )
    check_may_run(actor, live_session)
    customer_id = data.customer_id
    if data.token is not None:
        linked, customer_id = await resolve_link(session, data.token, secret=secret)
        if linked.id != offer.id:
            raise links.LinkForged(
                f"this join link is for welfare offer {linked.id}, not {offer.id}", field="token"
            )
    claim = await service.claim_of(
        session=session, shop_id=actor.shop_id, offer_id=offer.id, customer_id=int(customer_id or 0)
    )
    if claim is None or claim.tapped_at is None:
        raise Conflict(
            f"customer {customer_id} never tapped welfare offer {offer.id}; a join that did not "
            f"come through the offer is not rewarded by it",
            code="welfare_not_tapped",
            field="customer_id",
        )
    return offer, await settle_join(session, offer, claim, via="channel", joined_at=data.joined_at)


async def _lock_claim(session: AsyncSession, claim: WelfareClaim) -> WelfareClaim:
    statement = (
        scoped(WelfareClaim, claim.shop_id)
        .where(WelfareClaim.id == claim.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one()


async def _settle(
    session: AsyncSession,
    claim: WelfareClaim,
    now: dt.datetime,
    *,
    outcome: str | None,
    via: str | None,
    member_id: int | None = None,
) -> bool:
    """Settle the claim once: True for the one caller whose conditional UPDATE took it."""
    values: dict[str, Any] = {"settled_at": now, "outcome": outcome, "confirmed_via": via}
    if member_id is not None:
        values.update(member_id=member_id, joined_at=now)
    result = await session.execute(
        update(WelfareClaim)
        .where(WelfareClaim.id == claim.id, WelfareClaim.settled_at.is_(None))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(claim)
    return bool(getattr(result, "rowcount", 0))


async def settle_if_member(
    session: AsyncSession, offer: WelfareOffer, claim: WelfareClaim, now: dt.datetime
) -> None:
    """At the tap: a current member of the group has nothing to join."""
    stay = await communities.current_stay(
        session=session,
        shop_id=offer.shop_id,
        community_id=offer.community_id,
        customer_id=int(claim.customer_id or 0),
    )
    if stay is not None:
        await _settle(session, claim, now, outcome=ClaimOutcome.ALREADY_MEMBER.value, via=None)


async def settle_join(
    session: AsyncSession,
    offer: WelfareOffer,
    claim: WelfareClaim,
    *,
    via: str,
    joined_at: dt.datetime | None = None,
    refuse_settled: bool = False,
) -> WelfareClaim:
    """Join the customer to the offer's group (attributed) and grant the reward, once. A claim
    settled already is answered as it stands (the channel adapter's at-least-once delivery)
    or, with `refuse_settled` (a replayed join link), refused with LinkUsed (409)."""
    claim = await _lock_claim(session, claim)
    if claim.settled_at is not None:
        if refuse_settled:
            raise used_link(offer, claim)
        return claim
    now = utcnow()
    if not service.is_open(offer, now) and (
        claim.tapped_at is None or now >= claim.tapped_at + links.LINK_TTL
    ):
        raise Conflict(
            f"welfare offer {offer.id} has ended and this viewer's link with it",
            code="welfare_offer_closed",
            field="id",
        )
    customer_id = int(claim.customer_id or 0)
    stays = [
        stay
        for stay, community in await communities.customer_communities(
            session=session, shop_id=offer.shop_id, customer_id=customer_id
        )
        if community.id == offer.community_id
    ]
    if any(stay.left_at is None for stay in stays):
        await _settle(session, claim, now, outcome=ClaimOutcome.ALREADY_MEMBER.value, via=via)
        return claim
    try:
        async with session.begin_nested():
            stay = await communities.join_community(
                session=session,
                shop_id=offer.shop_id,
                community_id=offer.community_id,
                customer_id=customer_id,
                source=service.SOURCE,
                live_session_id=offer.live_session_id,
                trigger=service.TRIGGER,
                joined_at=joined_at,
                # A channel reports a join that already happened: the record follows the group.
                enforce_capacity=via == "link",
            )
    except Conflict as error:
        if error.code == "community_full":
            raise Conflict(
                "the group is full at the moment; the shop is opening more room, try again later",
                code="community_full",
                field="community_id",
            ) from None
        raise
    if stay.source != service.SOURCE or stay.trigger != service.TRIGGER:
        # Joined by another way at this very moment (a channel event): not this offer's join.
        await _settle(session, claim, now, outcome=ClaimOutcome.ALREADY_MEMBER.value, via=via)
        return claim
    newcomer = not stays
    outcome = None if newcomer or not offer.new_members_only else ClaimOutcome.NOT_NEW.value
    if not await _settle(session, claim, now, outcome=outcome, via=via, member_id=stay.id):
        # Settled by a concurrent confirmation (the row lock makes this rare).
        if refuse_settled:
            raise used_link(offer, claim)
        return claim
    await service.record_event(
        session, offer, "join_group", customer_id=customer_id, source=service.SOURCE, via=via
    )
    if outcome is None:
        await _grant(session, offer, claim, now)
    await service.send_card(session, offer)
    return claim


async def _grant(
    session: AsyncSession, offer: WelfareOffer, claim: WelfareClaim, now: dt.datetime
) -> None:
    """The coupon or points. A failure (the coupon ran out, the customer already holds it) is
    recorded on the claim; the join stands and the console shows it."""
    customer_id = int(claim.customer_id or 0)
    reason = f"welfare offer {offer.id}: {offer.popup_text}"[:200]
    try:
        async with session.begin_nested():
            if offer.reward_kind == RewardKind.COUPON.value and offer.reward_coupon_id:
                from liveloop.commerce.coupons import service as coupons

                await coupons.grant_coupon(
                    session=session,
                    shop_id=offer.shop_id,
                    coupon_id=offer.reward_coupon_id,
                    customer_id=customer_id,
                    reason=reason,
                )
            elif offer.reward_kind == RewardKind.POINTS.value:
                from liveloop.customers.points import service as points

                await points.grant_points_once(
                    session=session,
                    shop_id=offer.shop_id,
                    customer_id=customer_id,
                    points=offer.reward_points,
                    reason=reason,
                    ref_type="welfare",
                    ref_id=offer.id,
                    idempotency_key=f"welfare:{offer.id}:{customer_id}",
                )
            else:
                raise Conflict(f"the reward of welfare offer {offer.id} is gone (deleted)")
        claim.outcome = ClaimOutcome.REWARDED.value
        claim.rewarded_at = now
    except Exception as error:
        log.warning("welfare_reward_failed", offer_id=offer.id, error=repr(error))
        claim.outcome = ClaimOutcome.FAILED.value
        claim.reward_note = str(getattr(error, "message", error))[:200]
    await session.flush()
    await record_audit(
        session=session,
        actor=system_actor(offer.shop_id, "welfare reward"),
        action="live.welfare_grant",
        target_type="welfare_offer",
        target_id=offer.id,
        details={
            "customer_id": customer_id,
            "reward": {"kind": offer.reward_kind, "name": offer.reward_name},
            "status": claim.outcome,
            "via": claim.confirmed_via,
            "note": claim.reward_note,
        },
    )
    if claim.outcome == ClaimOutcome.REWARDED.value:
        await service.record_event(
            session, offer, "welfare_reward", customer_id=customer_id, reward=offer.reward_kind
        )
