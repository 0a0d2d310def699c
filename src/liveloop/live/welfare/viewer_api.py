"""Viewer routes of welfare offers: the card and my state, seen, tap (my join link and its QR
code), and the join link itself: its page /live/welfare/{token} and the confirmation behind it.

The join link carries its own credential (the signed token), so the page, its QR code and
the confirmation need no viewer token: a viewer may open it in another browser or app."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select

from liveloop.commerce.viewer_api import CurrentBuyer
from liveloop.core.deps import DbSession
from liveloop.core.errors import LiveLoopError
from liveloop.live.welfare import joins, links, service
from liveloop.live.welfare.models import WelfareClaim, WelfareOffer
from liveloop.live.welfare.schemas import JoinIn
from liveloop.shops.service import record_audit, system_actor
from liveloop.web import i18n
from liveloop.web.templating import render

log = structlog.get_logger(__name__)

router = APIRouter(tags=["welfare offers (viewer)"])
PUBLIC = "/api/v1/public"


def _secret(request: Request) -> str:
    return str(request.app.state.settings.resolved_secret_key())


def _base_url(request: Request) -> str:
    configured = request.app.state.settings.base_url
    return str(configured or request.base_url).rstrip("/")


def _me(request: Request, offer: WelfareOffer, claim: WelfareClaim | None) -> dict[str, Any]:
    return service.viewer_me(offer, claim, secret=_secret(request), base_url=_base_url(request))


@router.get(PUBLIC + "/welfare-offers/{offer_id}")
async def offer_card(
    offer_id: int, request: Request, session: DbSession, claims: CurrentBuyer
) -> dict[str, Any]:
    """The room's card (null while the offer is down) and where this viewer stands (`me`,
    with a fresh join link while they have tapped and not yet joined)."""
    offer = await service.get_offer(session=session, shop_id=claims.shop_id, offer_id=offer_id)
    service.check_room(offer, claims.live_session_id)
    claim = None
    if claims.customer_id is not None:
        claim = await service.claim_of(
            session=session, shop_id=claims.shop_id, offer_id=offer.id,
            customer_id=claims.customer_id,
        )  # fmt: skip
    return {"card": await service.room_card(session, offer), "me": _me(request, offer, claim)}


@router.post(PUBLIC + "/welfare-offers/{offer_id}/seen")
async def seen(offer_id: int, session: DbSession, claims: CurrentBuyer) -> dict[str, bool]:
    """The pop-up showed on this screen (guests too): counted once per viewer."""
    await service.record_shown(
        session=session,
        shop_id=claims.shop_id,
        offer_id=offer_id,
        viewer_key=claims.viewer_key,
        customer_id=claims.customer_id,
        live_session_id=claims.live_session_id,
    )
    return {"ok": True}


@router.post(PUBLIC + "/welfare-offers/{offer_id}/tap")
async def tap(
    offer_id: int, request: Request, session: DbSession, claims: CurrentBuyer
) -> dict[str, Any]:
    """My personal join link and its QR code; 401 customer_required for a guest (verify a
    phone first); state already_member for a current member of the group."""
    claim = await service.tap_offer(
        session=session,
        shop_id=claims.shop_id,
        offer_id=offer_id,
        customer_id=claims.customer_id,
        live_session_id=claims.live_session_id,
        device_id=claims.device_id,
    )
    offer = await service.get_offer(session=session, shop_id=claims.shop_id, offer_id=offer_id)
    return _me(request, offer, claim)


async def _refused(session: DbSession, request: Request, token: str, error: LiveLoopError) -> None:
    """A forged link is worth a line in the shop's audit log (when it names a real offer)."""
    log.warning("welfare_link_refused", code=error.code, reason=error.message)
    if not isinstance(error, links.LinkForged):
        return
    try:
        offer_id = links.parse_link(token).offer_id
    except LiveLoopError:
        return
    shop_id = (
        await session.execute(select(WelfareOffer.shop_id).where(WelfareOffer.id == offer_id))
    ).scalar_one_or_none()
    if shop_id is not None:
        await record_audit(
            session=session,
            actor=system_actor(shop_id, "welfare join link"),
            action="live.welfare_link_refused",
            target_type="welfare_offer",
            target_id=offer_id,
            details={"reason": error.message, "ip": request.client.host if request.client else ""},
        )


async def _outcome(
    request: Request, session: DbSession, offer: WelfareOffer, claim: WelfareClaim
) -> dict[str, Any]:
    from liveloop.customers.communities import service as communities

    community = await communities.get_community(
        session=session, shop_id=offer.shop_id, community_id=offer.community_id
    )
    return {
        "offer_id": offer.id,
        "state": service.viewer_state(claim, offer),
        "rewarded": claim.rewarded_at is not None,
        "reward": {"kind": offer.reward_kind, "name": offer.reward_name},
        "reward_note": claim.reward_note,
        "community": {"id": community.id, "name": community.name, "join_url": community.join_url},
    }


@router.post(PUBLIC + "/welfare-links/join")
async def join(data: JoinIn, request: Request, session: DbSession) -> Response:
    """The join link's confirmation: verifies the token (400 welfare_link_invalid, 403
    welfare_link_forged, 410 welfare_link_expired: nothing joined, nothing granted), joins the
    group and grants the reward once; a replay is refused (409 welfare_link_used, saying what
    the first use did)."""
    try:
        offer, claim = await joins.confirm_by_link(session, data.token, secret=_secret(request))
    except links.LinkUsed as error:
        log.info("welfare_link_replayed", code=error.code)
        return JSONResponse(error.as_dict(), status_code=error.status_code)
    except (links.LinkMalformed, links.LinkForged, links.LinkExpired) as error:
        # Returned, not raised: the request's unit of work commits the audit line.
        await _refused(session, request, data.token, error)
        return JSONResponse(error.as_dict(), status_code=error.status_code)
    return JSONResponse(await _outcome(request, session, offer, claim))


@router.get(PUBLIC + "/welfare-links/{token}/qr.png")
async def link_qr(token: str, request: Request, session: DbSession) -> Response:
    """The QR code of the join link (what a viewer scans with another phone)."""
    await joins.resolve_link(session, token, secret=_secret(request))
    png = links.link_qr_png(links.page_url(_base_url(request), token))
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})


@router.get("/live/welfare/{token}", response_class=HTMLResponse, include_in_schema=False)
async def join_page(token: str, request: Request, session: DbSession) -> Response:
    """The page a join link opens: the group, the reward, a button to join (and claim)."""
    chosen = i18n.normalize_language(request.query_params.get("lang"))
    if chosen:
        request.state.language = chosen
    try:
        offer, claim = await joins.open_link(session, token, secret=_secret(request))
    except (links.LinkMalformed, links.LinkForged, links.LinkExpired) as error:
        await _refused(session, request, token, error)
        refused: dict[str, Any] = {"error": error.message, "error_code": error.code, "token": token}
        return render(request, "live/welfare_join.html", refused, status_code=error.status_code)
    outcome = await _outcome(request, session, offer, claim)
    context: dict[str, Any] = {
        "token": token,
        "offer": offer,
        "outcome": outcome,
        "error": "",
        "error_code": "",
        "shop_name": await _shop_name(session, offer.shop_id),
    }
    return render(request, "live/welfare_join.html", context)


async def _shop_name(session: DbSession, shop_id: int) -> str:
    from liveloop.shops import service as shops_service

    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    return shop.name
