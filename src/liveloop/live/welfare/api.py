"""Console JSON routes of welfare offers: start, stop, the session's offers with their
conversion, one offer with the customers who tapped, and the channel adapter's confirmation.

The session's anchor or staff who manage live sessions may run them (as the other room
controls); an integrator's API key with that permission confirms joins seen on a channel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from liveloop.core.deps import DbSession
from liveloop.live.service import check_may_run, get_live_session
from liveloop.live.welfare import joins, service
from liveloop.live.welfare.models import WelfareOffer
from liveloop.live.welfare.schemas import (
    ChannelConfirmIn,
    ClaimOut,
    OfferDetailOut,
    OfferFigures,
    OfferIn,
    OfferOut,
)
from liveloop.shops.auth import CurrentActor, current_actor
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["welfare offers"], dependencies=[Depends(current_actor)])


def offer_out(offer: WelfareOffer, figures: dict[str, Any] | None = None) -> OfferOut:
    out = OfferOut.model_validate(offer)
    out.figures = OfferFigures(**(figures or service.empty_figures()))
    return out


async def _may_run(session: DbSession, actor: Actor, live_session_id: int) -> None:
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_may_run(actor, live_session)


@router.post("/live/{live_session_id}/welfare-offers", response_model=OfferOut, status_code=201)
async def start_offer(
    live_session_id: int, data: OfferIn, session: DbSession, actor: CurrentActor
) -> OfferOut:
    """Put the offer up in the room now (one at a time per room)."""
    offer = await service.start_offer(
        session=session, actor=actor, live_session_id=live_session_id, data=data
    )
    return offer_out(offer)


@router.get("/live/{live_session_id}/welfare-offers", response_model=list[OfferOut])
async def list_offers(
    live_session_id: int, session: DbSession, actor: CurrentActor
) -> list[OfferOut]:
    await _may_run(session, actor, live_session_id)
    offers = await service.list_offers(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    figures = await service.figures_of(session, actor.shop_id, [o.id for o in offers])
    return [offer_out(offer, figures[offer.id]) for offer in offers]


@router.get("/welfare-offers/{offer_id}", response_model=OfferDetailOut)
async def get_offer(offer_id: int, session: DbSession, actor: CurrentActor) -> Any:
    """The offer, its conversion (shown → tapped → opened → joined → rewarded), and each
    customer who tapped with the outcome of their join."""
    offer = await service.get_offer(session=session, shop_id=actor.shop_id, offer_id=offer_id)
    await _may_run(session, actor, offer.live_session_id)
    figures = (await service.figures_of(session, actor.shop_id, [offer.id]))[offer.id]
    detail = OfferDetailOut.model_validate(offer)
    detail.figures = OfferFigures(**figures)
    detail.community_name = await service.community_name(session, actor.shop_id, offer.community_id)
    claims = await service.list_claims(session=session, shop_id=actor.shop_id, offer_id=offer.id)
    detail.claims = [
        ClaimOut(**row) for row in await service.describe_claims(session, actor.shop_id, claims)
    ]
    return detail


@router.post("/welfare-offers/{offer_id}/stop", response_model=OfferOut)
async def stop_offer(offer_id: int, session: DbSession, actor: CurrentActor) -> OfferOut:
    offer = await service.stop_offer(session=session, actor=actor, offer_id=offer_id)
    figures = (await service.figures_of(session, actor.shop_id, [offer.id]))[offer.id]
    return offer_out(offer, figures)


@router.post("/welfare-offers/{offer_id}/confirmations")
async def confirm_join(
    offer_id: int,
    data: ChannelConfirmIn,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
) -> dict[str, Any]:
    """The channel adapter saw the customer join the group: settle the join (idempotent: a
    repeat answers the same outcome and grants nothing more). 409 welfare_not_tapped when the
    customer never tapped the offer."""
    offer, claim = await joins.confirm_by_channel(
        session,
        actor=actor,
        offer_id=offer_id,
        data=data,
        secret=request.app.state.settings.resolved_secret_key(),
    )
    return {
        "offer_id": offer.id,
        "customer_id": claim.customer_id,
        "state": service.viewer_state(claim, offer),
        "member_id": claim.member_id,
        "rewarded_at": claim.rewarded_at.isoformat() if claim.rewarded_at else None,
        "reward_note": claim.reward_note,
    }
