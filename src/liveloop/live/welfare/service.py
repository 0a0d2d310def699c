"""Follow for welfare (关注送福利): a pop-up offer in the live room that moves viewers into one
of the shop's communities, with a reward for joining.

The anchor starts an offer (community, reward, pop-up text); the room shows it as the tool card
`welfare`. A viewer who taps it (a customer: the reward needs someone to go to) gets a personal
join link and its QR code (`links.py`); the join is confirmed by that link or by the channel
adapter, and settled once (`joins.py`). Figures (shown → tapped → opened → joined → rewarded)
come from the claims, one row per viewer and offer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from liveloop.core.jobs import enqueue_after_commit
from liveloop.live.models import LiveStatus
from liveloop.live.outbox import send_after_commit
from liveloop.live.service import check_may_run, check_open, get_live_session
from liveloop.live.welfare import links
from liveloop.live.welfare.models import (
    ClaimOutcome,
    OfferStatus,
    RewardKind,
    WelfareClaim,
    WelfareOffer,
)
from liveloop.live.welfare.schemas import OfferIn
from liveloop.shops.service import Actor, record_audit, system_actor

TRIGGER = "welfare_popup"  # community_members.trigger of a join through an offer
SOURCE = "live_welfare"  # community_members.source


# ----------------------------------------------------------------------------- reading


async def get_offer(*, session: AsyncSession, shop_id: int, offer_id: int) -> WelfareOffer:
    return await get_scoped(
        session, WelfareOffer, shop_id=shop_id, record_id=offer_id, label="welfare offer"
    )


async def lock_offer(session: AsyncSession, shop_id: int, offer_id: int) -> WelfareOffer:
    statement = (
        scoped(WelfareOffer, shop_id)
        .where(WelfareOffer.id == offer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    offer = (await session.execute(statement)).scalar_one_or_none()
    if offer is None:
        raise NotFound(
            f"welfare offer {offer_id} was not found", code="welfare_offer_not_found", field="id"
        )
    return offer


async def list_offers(
    *, session: AsyncSession, shop_id: int, live_session_id: int, limit: int = 50
) -> list[WelfareOffer]:
    statement = (
        scoped(WelfareOffer, shop_id)
        .where(WelfareOffer.live_session_id == live_session_id)
        .order_by(WelfareOffer.id.desc())
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


def is_open(offer: WelfareOffer, now: dt.datetime | None = None) -> bool:
    """Taking taps: running and its duration (if any) not yet over."""
    now = now or utcnow()
    return offer.status == OfferStatus.RUNNING.value and (
        offer.ends_at is None or now < offer.ends_at
    )


async def figures_of(
    session: AsyncSession, shop_id: int, offer_ids: list[int]
) -> dict[int, dict[str, Any]]:
    """The conversion of each offer, in one grouped query over its claims."""
    figures = {offer_id: empty_figures() for offer_id in offer_ids}
    if not offer_ids:
        return figures
    claim = WelfareClaim
    rows = await session.execute(
        scoped(
            claim,
            shop_id,
            claim.offer_id,
            func.count(claim.shown_at),
            func.count(claim.tapped_at),
            func.count(claim.opened_at),
            func.count(claim.joined_at),
            func.count(claim.rewarded_at),
        )
        .where(claim.offer_id.in_(offer_ids))
        .group_by(claim.offer_id)
    )
    for offer_id, shown, tapped, opened, joined, rewarded in rows:
        figures[offer_id] = {
            "shown": int(shown),
            "tapped": int(tapped),
            "opened": int(opened),
            "joined": int(joined),
            "rewarded": int(rewarded),
            "conversion": round(int(rewarded) / int(shown), 4) if shown else 0.0,
        }
    return figures


async def session_conversion(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, Any]:
    """The live session's welfare funnel over all its offers (for analytics): distinct viewers
    shown an offer → tapped → joined → rewarded, with offers run and `conversion`."""
    claim = WelfareClaim

    def viewers(column: Any) -> Any:
        return func.count(func.distinct(case((column.is_not(None), claim.viewer_key))))

    row = (
        await session.execute(
            scoped(
                claim,
                shop_id,
                viewers(claim.shown_at),
                viewers(claim.tapped_at),
                viewers(claim.joined_at),
                viewers(claim.rewarded_at),
            )
            .join(WelfareOffer, WelfareOffer.id == claim.offer_id)
            .where(WelfareOffer.live_session_id == live_session_id)
        )
    ).one()
    offers_run = await session.scalar(
        scoped(WelfareOffer, shop_id, func.count()).where(
            WelfareOffer.live_session_id == live_session_id
        )
    )
    shown, tapped, joined, rewarded = (int(value or 0) for value in row)
    return {
        "offers": int(offers_run or 0),
        "shown": shown,
        "tapped": tapped,
        "joined": joined,
        "rewarded": rewarded,
        "conversion": round(rewarded / shown, 4) if shown else 0.0,
    }


def empty_figures() -> dict[str, Any]:
    return {"shown": 0, "tapped": 0, "opened": 0, "joined": 0, "rewarded": 0, "conversion": 0.0}


async def claim_of(
    *, session: AsyncSession, shop_id: int, offer_id: int, customer_id: int
) -> WelfareClaim | None:
    statement = scoped(WelfareClaim, shop_id).where(
        WelfareClaim.offer_id == offer_id, WelfareClaim.customer_id == customer_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def list_claims(
    *, session: AsyncSession, shop_id: int, offer_id: int, limit: int = 500
) -> list[WelfareClaim]:
    """The customers who tapped, newest first (viewers who only saw it are counted, not listed)."""
    statement = (
        scoped(WelfareClaim, shop_id)
        .where(WelfareClaim.offer_id == offer_id, WelfareClaim.tapped_at.is_not(None))
        .order_by(WelfareClaim.tapped_at.desc(), WelfareClaim.id.desc())
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def community_name(session: AsyncSession, shop_id: int, community_id: int) -> str:
    from liveloop.customers.communities import service as communities

    try:
        community = await communities.get_community(
            session=session, shop_id=shop_id, community_id=community_id
        )
    except NotFound:
        return ""
    return community.name


# ----------------------------------------------------------------------------- the card


def offer_card(offer: WelfareOffer, *, community: str, joined: int) -> dict[str, Any]:
    """The room's card (docs/live-protocol.md "welfare"): no per-viewer data."""
    return {
        "id": offer.id,
        "popup_text": offer.popup_text,
        "reward": {"kind": offer.reward_kind, "name": offer.reward_name},
        "community": {"id": offer.community_id, "name": community},
        "new_members_only": offer.new_members_only,
        "state": "running" if is_open(offer) else "stopped",
        "started_at": offer.started_at.isoformat(),
        "ends_at": offer.ends_at.isoformat() if offer.ends_at else None,
        "joined": joined,
    }


async def room_card(session: AsyncSession, offer: WelfareOffer) -> dict[str, Any] | None:
    if not is_open(offer):
        return None
    figures = (await figures_of(session, offer.shop_id, [offer.id]))[offer.id]
    name = await community_name(session, offer.shop_id, offer.community_id)
    return offer_card(offer, community=name, joined=figures["joined"])


async def current_room_card(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, Any] | None:
    """The room's running offer, for a room opening in a process."""
    statement = (
        scoped(WelfareOffer, shop_id)
        .where(
            WelfareOffer.live_session_id == live_session_id,
            WelfareOffer.status == OfferStatus.RUNNING.value,
        )
        .order_by(WelfareOffer.id.desc())
        .limit(1)
    )
    offer = (await session.execute(statement)).scalar_one_or_none()
    return None if offer is None else await room_card(session, offer)


async def send_card(session: AsyncSession, offer: WelfareOffer) -> None:
    """The card (or `null`, taken down) to the room, after commit."""
    send_after_commit(
        session,
        live_session_id=offer.live_session_id,
        message={"type": "welfare", "card": await room_card(session, offer)},
    )


# ----------------------------------------------------------------------------- start, stop


async def _check_reward(session: AsyncSession, shop_id: int, data: OfferIn) -> str:
    """The reward's display name."""
    if data.reward_kind == RewardKind.COUPON.value:
        from liveloop.commerce.coupons import service as coupons

        try:
            coupon = await coupons.get_coupon(
                session=session, shop_id=shop_id, coupon_id=int(data.reward_coupon_id or 0)
            )
        except NotFound:
            raise InvalidInput(
                f"coupon {data.reward_coupon_id} was not found in this shop",
                code="coupon_not_found",
                field="reward_coupon_id",
            ) from None
        if coupon.status not in ("active", "draft"):
            raise Conflict(
                f"coupon {coupon.id} ({coupon.title}) is {coupon.status}; choose an active one",
                code="coupon_not_active",
                field="reward_coupon_id",
            )
        if coupon.claimed_count >= coupon.total_quantity:
            raise Conflict(
                f"coupon {coupon.id} ({coupon.title}) has none left "
                f"({coupon.total_quantity} issued); raise its quantity first",
                code="reward_coupon_used_up",
                field="reward_coupon_id",
            )
        return data.reward_name.strip() or coupon.title
    return data.reward_name.strip() or f"{data.reward_points} 积分"


async def _check_community(session: AsyncSession, shop_id: int, community_id: int) -> None:
    from liveloop.customers.communities import service as communities

    try:
        community = await communities.get_community(
            session=session, shop_id=shop_id, community_id=community_id
        )
    except NotFound:
        raise InvalidInput(
            f"community {community_id} was not found in this shop",
            code="community_not_found",
            field="community_id",
        ) from None
    if community.archived_at is not None:
        raise Conflict(
            f"community {community.name} is archived; restore it or choose another",
            code="community_archived",
            field="community_id",
        )


async def _refuse_running(session: AsyncSession, actor: Actor, live_session_id: int) -> None:
    """A readable refusal (the unique key refuses a race all the same); an offer whose duration
    passed without its stop job having run yet is stopped here first."""
    statement = scoped(WelfareOffer, actor.shop_id).where(
        WelfareOffer.running_room_key == live_session_id
    )
    running = (await session.execute(statement)).scalar_one_or_none()
    if running is None:
        return
    if not is_open(running):
        await _stop(session, running, system_actor(actor.shop_id, "welfare duration"))
        return
    raise Conflict(
        f"welfare offer {running.id} ({running.title}) is still up in this room; stop it first",
        code="welfare_offer_running",
        field="live_session_id",
    )


async def start_offer(
    *, session: AsyncSession, actor: Actor, live_session_id: int, data: OfferIn
) -> WelfareOffer:
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_may_run(actor, live_session)
    check_open(live_session, "show a welfare offer")
    if live_session.status != LiveStatus.LIVE.value:
        raise Conflict(
            f"live session {live_session.id} is not on air; start the live first",
            code="live_session_not_live",
            field="live_session_id",
        )
    await _check_community(session, actor.shop_id, data.community_id)
    reward_name = await _check_reward(session, actor.shop_id, data)
    await _refuse_running(session, actor, live_session.id)
    now = utcnow()
    offer = WelfareOffer(
        shop_id=actor.shop_id,
        live_session_id=live_session.id,
        community_id=data.community_id,
        title=(data.title.strip() or data.popup_text)[:100],
        popup_text=data.popup_text,
        reward_kind=data.reward_kind,
        reward_name=reward_name,
        reward_coupon_id=data.reward_coupon_id if data.reward_kind == "coupon" else None,
        reward_points=int(data.reward_points or 0) if data.reward_kind == "points" else 0,
        new_members_only=data.new_members_only,
        confirm_by=data.confirm_by,
        started_at=now,
        ends_at=now + dt.timedelta(seconds=data.duration_seconds)
        if data.duration_seconds
        else None,
        running_room_key=live_session.id,
        created_by=actor.staff_id,
    )
    try:
        async with session.begin_nested():
            session.add(offer)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "another welfare offer was started in this room at the same moment",
            code="welfare_offer_running",
            field="live_session_id",
        ) from None
    await record_audit(
        session=session,
        actor=actor,
        action="live.welfare_start",
        target_type="welfare_offer",
        target_id=offer.id,
        details={
            "live_session_id": live_session.id,
            "community_id": offer.community_id,
            "reward": {"kind": offer.reward_kind, "name": reward_name},
            "popup_text": offer.popup_text,
            "new_members_only": offer.new_members_only,
            "confirm_by": offer.confirm_by,
            "ends_at": offer.ends_at.isoformat() if offer.ends_at else None,
        },
    )
    await send_card(session, offer)
    if offer.ends_at is not None:
        from liveloop.live.welfare import tasks

        enqueue_after_commit(
            session,
            tasks.stop_offer_when_due,
            eta=offer.ends_at,
            shop_id=offer.shop_id,
            offer_id=offer.id,
        )
    return offer


async def _stop(session: AsyncSession, offer: WelfareOffer, actor: Actor) -> None:
    offer.status = OfferStatus.STOPPED.value
    offer.stopped_at = utcnow()
    offer.running_room_key = None
    await session.flush()
    figures = (await figures_of(session, offer.shop_id, [offer.id]))[offer.id]
    await record_audit(
        session=session,
        actor=actor,
        action="live.welfare_stop",
        target_type="welfare_offer",
        target_id=offer.id,
        details={"live_session_id": offer.live_session_id, "figures": figures},
    )
    send_after_commit(
        session, live_session_id=offer.live_session_id, message={"type": "welfare", "card": None}
    )


async def stop_offer(*, session: AsyncSession, actor: Actor, offer_id: int) -> WelfareOffer:
    """Take the offer down. Viewers who tapped keep their link until it expires."""
    offer = await lock_offer(session, actor.shop_id, offer_id)
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=offer.live_session_id
    )
    check_may_run(actor, live_session)
    if offer.status != OfferStatus.RUNNING.value:
        raise Conflict(f"welfare offer {offer.id} is already stopped", code="welfare_offer_stopped")
    await _stop(session, offer, actor)
    return offer


async def stop_if_due(
    *, session: AsyncSession, shop_id: int, offer_id: int, now: dt.datetime | None = None
) -> WelfareOffer:
    """The duration's end (a job): stop a running offer past ends_at; else leave it be."""
    offer = await lock_offer(session, shop_id, offer_id)
    now = now or utcnow()
    if offer.status == OfferStatus.RUNNING.value and offer.ends_at and offer.ends_at <= now:
        await _stop(session, offer, system_actor(shop_id, "welfare duration"))
    return offer


async def due_offer_ids(
    *, session: AsyncSession, now: dt.datetime | None = None
) -> list[tuple[int, int]]:
    now = now or utcnow()
    rows = await session.execute(
        select(WelfareOffer.shop_id, WelfareOffer.id).where(
            WelfareOffer.status == OfferStatus.RUNNING.value,
            WelfareOffer.ends_at.is_not(None),
            WelfareOffer.ends_at <= now,
        )
    )
    return [(row[0], row[1]) for row in rows]


# ----------------------------------------------------------------------------- the viewer


def check_room(offer: WelfareOffer, live_session_id: int | None) -> None:
    if live_session_id != offer.live_session_id:
        raise InvalidInput(
            "the viewer token is for another live room; reload the page",
            code="token_wrong_room",
            field="token",
        )


async def _claim_for(
    session: AsyncSession, offer: WelfareOffer, viewer_key: str, customer_id: int | None
) -> WelfareClaim:
    """The viewer's claim row, created when missing (a double tap on two devices: one row)."""
    statement = (
        scoped(WelfareClaim, offer.shop_id)
        .where(WelfareClaim.offer_id == offer.id, WelfareClaim.viewer_key == viewer_key)
        .execution_options(populate_existing=True)  # a guest's row may have just been adopted
    )
    found = (await session.execute(statement)).scalar_one_or_none()
    if found is not None:
        return found
    claim = WelfareClaim(
        shop_id=offer.shop_id, offer_id=offer.id, viewer_key=viewer_key, customer_id=customer_id
    )
    try:
        async with session.begin_nested():
            session.add(claim)
            await session.flush()
    except IntegrityError:
        found = (await session.execute(statement)).scalar_one_or_none()
        if found is None:
            raise
        return found
    return claim


async def customer_claim(
    session: AsyncSession, offer: WelfareOffer, customer_id: int
) -> WelfareClaim:
    return await _claim_for(session, offer, f"c:{customer_id}", customer_id)


async def _adopt_guest_claim(
    session: AsyncSession, offer: WelfareOffer, device_id: str, customer_id: int
) -> None:
    """A guest who saw the pop-up and then verified a phone to tap it is one viewer: their
    device's row becomes the customer's (else the funnel would count them shown twice)."""
    if await claim_of(
        session=session, shop_id=offer.shop_id, offer_id=offer.id, customer_id=customer_id
    ):
        return  # the customer already has a row (another device): the guest's stays a guest
    try:
        async with session.begin_nested():
            await session.execute(
                update(WelfareClaim)
                .where(
                    WelfareClaim.shop_id == offer.shop_id,
                    WelfareClaim.offer_id == offer.id,
                    WelfareClaim.viewer_key == f"d:{device_id}",
                    WelfareClaim.customer_id.is_(None),
                )
                .values(viewer_key=f"c:{customer_id}", customer_id=customer_id)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        pass  # the customer's row was made at this very moment: keep both


async def _mark(session: AsyncSession, claim: WelfareClaim, column: str, now: dt.datetime) -> bool:
    """Set a claim's time column once (conditional: a repeat or a race changes nothing)."""
    attribute = getattr(WelfareClaim, column)
    result = await session.execute(
        update(WelfareClaim)
        .where(WelfareClaim.id == claim.id, attribute.is_(None))
        .values({column: now})
        .execution_options(synchronize_session=False)
    )
    await session.refresh(claim)
    return bool(getattr(result, "rowcount", 0))


async def record_shown(
    *,
    session: AsyncSession,
    shop_id: int,
    offer_id: int,
    viewer_key: str,
    customer_id: int | None,
    live_session_id: int | None,
) -> None:
    """The pop-up showed on this viewer's screen (counted once per viewer)."""
    offer = await get_offer(session=session, shop_id=shop_id, offer_id=offer_id)
    check_room(offer, live_session_id)
    claim = await _claim_for(session, offer, viewer_key, customer_id)
    if await _mark(session, claim, "shown_at", utcnow()):
        await record_event(
            session, offer, "welfare_shown", customer_id=customer_id, anonymous_id=viewer_key
        )


async def tap_offer(
    *,
    session: AsyncSession,
    shop_id: int,
    offer_id: int,
    customer_id: int | None,
    live_session_id: int | None,
    device_id: str | None = None,
) -> WelfareClaim:
    """The viewer taps the pop-up: a customer's claim is recorded (tapped); a current member of
    the group is settled at once as already_member (nothing to join, no reward). `device_id`:
    the row of this device's guest view, if any, becomes the customer's."""
    offer = await get_offer(session=session, shop_id=shop_id, offer_id=offer_id)
    check_room(offer, live_session_id)
    if customer_id is None:
        raise Unauthenticated(
            "verify your phone number first: the reward needs someone to go to",
            code="customer_required",
        )
    if device_id:
        await _adopt_guest_claim(session, offer, device_id, customer_id)
    claim = await customer_claim(session, offer, customer_id)
    if claim.settled_at is not None:
        return claim
    if not is_open(offer):
        raise Conflict(
            f"welfare offer {offer.id} has ended", code="welfare_offer_closed", field="id"
        )
    now = utcnow()
    await _mark(session, claim, "shown_at", now)
    if await _mark(session, claim, "tapped_at", now):
        await record_event(session, offer, "welfare_tap", customer_id=customer_id)
    from liveloop.live.welfare import joins

    await joins.settle_if_member(session, offer, claim, now)
    return claim


def personal_link(
    offer: WelfareOffer, claim: WelfareClaim, *, secret: str, base_url: str
) -> dict[str, Any] | None:
    """A fresh join link (and its QR code) for a customer's unsettled, tapped claim."""
    if claim.customer_id is None or claim.tapped_at is None or claim.settled_at is not None:
        return None
    now = utcnow()
    expires = now + links.LINK_TTL
    if not is_open(offer, now):
        expires = min(expires, claim.tapped_at + links.LINK_TTL)
        if expires <= now:
            return None
    token = links.sign_link(
        secret,
        shop_id=offer.shop_id,
        live_session_id=offer.live_session_id,
        offer_id=offer.id,
        customer_id=claim.customer_id,
        expires_at=expires,
    )
    return {
        "token": token,
        "url": links.page_url(base_url, token),
        "qr_url": links.qr_url(token),
        "expires_at": expires.isoformat(),
    }


def viewer_state(claim: WelfareClaim | None, offer: WelfareOffer) -> str:
    """Where this viewer stands: none, tapped, opened, awaiting_channel, or the outcome."""
    if claim is None or claim.tapped_at is None:
        return "none"
    if claim.outcome is not None:
        return claim.outcome
    if claim.opened_at is not None:
        return "awaiting_channel" if offer.confirm_by == "channel" else "opened"
    return "tapped"


def viewer_me(
    offer: WelfareOffer, claim: WelfareClaim | None, *, secret: str, base_url: str
) -> dict[str, Any]:
    state = viewer_state(claim, offer)
    return {
        "state": state,
        "rewarded": state == ClaimOutcome.REWARDED.value,
        "reward_note": claim.reward_note if claim is not None else "",
        "link": personal_link(offer, claim, secret=secret, base_url=base_url) if claim else None,
    }


async def record_event(
    session: AsyncSession,
    offer: WelfareOffer,
    kind: str,
    *,
    customer_id: int | None,
    anonymous_id: str | None = None,
    **properties: Any,
) -> None:
    """welfare_shown / welfare_tap / join_group / welfare_reward, once each per viewer."""
    from liveloop.events import service as events_service

    who: dict[str, Any] = (
        {"customer_id": customer_id}
        if customer_id is not None
        else {"anonymous_id": (anonymous_id or "viewer")[:64]}
    )
    viewer = hashlib.sha256(f"{customer_id}:{anonymous_id}".encode()).hexdigest()[:20]
    await events_service.ingest_events(
        session=session,
        shop_id=offer.shop_id,
        items=[
            {
                "type": kind,
                **who,
                "live_session_id": offer.live_session_id,
                "properties": {
                    "offer_id": offer.id,
                    "community_id": offer.community_id,
                    "trigger": TRIGGER,
                    **properties,
                },
                "client_event_id": f"welfare-{kind}-{offer.id}-{viewer}",
            }
        ],
        mark_customers_active=False,
    )


async def describe_claims(
    session: AsyncSession, shop_id: int, claims: list[WelfareClaim]
) -> list[dict[str, Any]]:
    from liveloop.customers.communities import service as communities

    names = await communities.customer_names(
        session=session,
        shop_id=shop_id,
        customer_ids=[c.customer_id for c in claims if c.customer_id is not None],
    )
    return [
        {
            "id": claim.id,
            "customer_id": claim.customer_id,
            "name": (names.get(claim.customer_id) if claim.customer_id else None) or "—",
            "tapped_at": claim.tapped_at,
            "opened_at": claim.opened_at,
            "joined_at": claim.joined_at,
            "rewarded_at": claim.rewarded_at,
            "outcome": claim.outcome,
            "confirmed_via": claim.confirmed_via,
            "reward_note": claim.reward_note,
        }
        for claim in claims
    ]
