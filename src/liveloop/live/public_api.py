"""Public JSON routes of a live room, for the viewer page (/live/{code}): no login.

The room code is the capability: whoever has the link may see the room and get a guest token.
What a viewer does beyond watching (reserve, share) needs their viewer token, sent as
`Authorization: Bearer <viewer token>`. Responses escape <, > and & so the JSON can be put
inside a page's <script> as it is.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput, Unauthenticated
from liveloop.customers.phone_codes.proof import prove_guest_phone, refusal_response
from liveloop.customers.phone_codes.service import PhoneCodeRejected
from liveloop.live import service
from liveloop.live.models import LiveSession
from liveloop.live.schemas import (
    PublicReservationRequest,
    PublicTokenRefreshRequest,
    PublicTokenRequest,
)
from liveloop.live.viewers import VIEWER_TOKEN_TTL, ViewerClaims, read_viewer_token
from liveloop.shops import service as shops_service

router = APIRouter(prefix="/api/v1/public/live", tags=["live (public)"])


class HtmlSafeJSONResponse(JSONResponse):
    """JSON whose text never closes a <script> or starts a tag when embedded in HTML."""

    def render(self, content: Any) -> bytes:
        return (
            orjson.dumps(content)
            .replace(b"<", b"\\u003c")
            .replace(b">", b"\\u003e")
            .replace(b"&", b"\\u0026")
        )


async def room_by_code(code: str, session: DbSession) -> LiveSession:
    return await service.get_by_code(session=session, code=code)


Room = Annotated[LiveSession, Depends(room_by_code)]


def viewer_claims(request: Request, live_session: LiveSession) -> ViewerClaims:
    """The viewer's token claims, checked to be for this very room."""
    authorization = request.headers.get("authorization", "")
    if not authorization.lower().startswith("bearer "):
        raise Unauthenticated(
            "send your viewer token as 'Authorization: Bearer <token>' (reload the room page)",
            code="token_missing",
            field="authorization",
        )
    claims = read_viewer_token(request.app.state.settings, authorization[7:].strip())
    if claims.shop_id != live_session.shop_id or claims.live_session_id != live_session.id:
        raise Unauthenticated(
            "this viewer token is for another live room; reload the page",
            code="token_wrong_room",
            field="authorization",
        )
    return claims


async def room_info(session: Any, live_session: LiveSession) -> dict[str, Any]:
    """What the viewer page draws before (and besides) the socket: the room and its goods."""
    shop = await shops_service.get_shop(session=session, shop_id=live_session.shop_id)
    state = await service.room_snapshot(session=session, live_session=live_session)
    reservations = await service.count_reservations(
        session=session, shop_id=live_session.shop_id, live_session_id=live_session.id
    )
    return {
        "id": live_session.id,
        "code": live_session.code,
        "title": live_session.title,
        "shop_name": shop.name,
        "shop_timezone": shop.timezone,
        "status": live_session.status,
        "planned_start": live_session.planned_start.isoformat(),
        "planned_end": live_session.planned_end.isoformat() if live_session.planned_end else None,
        "started_at": live_session.started_at.isoformat() if live_session.started_at else None,
        "ended_at": live_session.ended_at.isoformat() if live_session.ended_at else None,
        "cover_url": service.cover_url(live_session),
        "hls_url": live_session.hls_url,
        "notice": live_session.notice,
        "announcement": state["announcement"],
        "pinned": state["pinned"],
        "comments_enabled": state["comments_enabled"],
        "product": state["product"],
        "lineup": state["lineup"],
        "like_total": state["like_total"],
        "reservations": reservations,
        "ws_url": f"/ws/live/{live_session.id}",
    }


@router.get("/{code}", response_class=HtmlSafeJSONResponse)
async def get_room(live_session: Room, session: DbSession) -> Any:
    return HtmlSafeJSONResponse(await room_info(session, live_session))


# How old a customer's token may be and still be exchanged for a new one: a viewer who verified
# a phone stays that customer across reloads and the shop's next sessions for this long.
CUSTOMER_TOKEN_REFRESH_S = 30 * 24 * 3600


async def _token_limited(request: Request, device_id: str) -> JSONResponse | None:
    """429 `rate_limited` (with Retry-After) when this address or device asks too often."""
    from liveloop.live import token_limits

    try:
        await token_limits.check_guest_token(
            store=token_limits.window_for(request.app.state.settings.redis_url),
            client_ip=request.client.host if request.client else None,
            device_id=device_id,
        )
    except token_limits.TokenRateLimited as refused:
        return JSONResponse(
            refused.as_dict(),
            status_code=refused.status_code,
            headers={"Retry-After": str(refused.retry_after_s)},
        )
    return None


async def _token_answer(
    session: Any, live_session: LiveSession, token: str, claims: ViewerClaims
) -> HtmlSafeJSONResponse:
    return HtmlSafeJSONResponse(
        {
            "token": token,
            "expires_in": VIEWER_TOKEN_TTL,
            "viewer": {"key": claims.viewer_key, "name": claims.name, "role": claims.role},
            "room": await room_info(session, live_session),
        }
    )


@router.post("/{code}/token", response_class=HtmlSafeJSONResponse)
async def guest_token(
    code: str, data: PublicTokenRequest, session: DbSession, request: Request
) -> Any:
    """A guest's token (by device id) and the room, in one round trip. Rate limited per client
    address and per device (429 `rate_limited` with `retry_after_s` and a Retry-After header)."""
    limited = await _token_limited(request, data.device_id)
    if limited is not None:
        return limited
    live_session = await room_by_code(code, session)  # after the limit: guessing codes counts
    token, claims = await service.issue_viewer_token(
        session=session,
        settings=request.app.state.settings,
        live_session=live_session,
        device_id=data.device_id,
        nickname=data.nickname,
        source_code=data.src,
        share_code=data.share,
    )
    return await _token_answer(session, live_session, token, claims)


@router.post("/{code}/token/refresh", response_class=HtmlSafeJSONResponse)
async def customer_token(
    code: str, data: PublicTokenRefreshRequest, session: DbSession, request: Request
) -> Any:
    """A customer's token for this room in exchange for one the page kept (up to 30 days old,
    from any room of the same shop), so that a viewer who verified a phone is still that
    customer after a reload or in the next session. 401 `token_invalid` / `token_expired` for a
    guest's, another shop's, forged or too old token (the page then asks for a guest token);
    409 `customer_merged` / `customer_deleted`; 403 `banned`; 429 as for a guest token."""
    limited = await _token_limited(request, data.device_id)
    if limited is not None:
        return limited
    live_session = await room_by_code(code, session)
    settings = request.app.state.settings
    kept = read_viewer_token(settings, data.token, max_age=CUSTOMER_TOKEN_REFRESH_S)
    if kept.customer_id is None or kept.shop_id != live_session.shop_id:
        raise Unauthenticated(
            "this token is not a customer's of this shop; ask for a guest token instead",
            code="token_invalid",
            field="token",
        )
    token, claims = await service.issue_viewer_token(
        session=session,
        settings=settings,
        live_session=live_session,
        customer_id=kept.customer_id,
        device_id=data.device_id,
        nickname=data.nickname,
        source_code=data.src,
        share_code=data.share,
    )
    return await _token_answer(session, live_session, token, claims)


@router.post("/{code}/reservations", response_class=HtmlSafeJSONResponse)
async def reserve(
    data: PublicReservationRequest,
    live_session: Room,
    session: DbSession,
    request: Request,
) -> Any:
    """预约. A guest gives a mainland mobile number, proven by the code texted to it
    (`phone_code`), and becomes (or is found as) a customer; the answer then carries a new
    token naming that customer."""
    claims = viewer_claims(request, live_session)
    customer_id = claims.customer_id
    new_token = None
    if customer_id is None:
        if not data.phone:
            raise InvalidInput(
                "leave a mobile number so we can remind you when the live starts",
                code="phone_required",
                field="phone",
            )
        try:
            customer_id = await prove_guest_phone(
                session=session,
                claims=claims,
                phone=data.phone,
                code=data.phone_code,
                phone_field="phone",
                code_field="phone_code",
            )
        except PhoneCodeRejected as refused:
            return refusal_response(refused)
        new_token, claims = await service.issue_viewer_token(
            session=session,
            settings=request.app.state.settings,
            live_session=live_session,
            customer_id=customer_id,
            device_id=claims.device_id,
            source_code=claims.source_code,
            share_code=claims.share_code,
        )
    await service.reserve(
        session=session,
        live_session=live_session,
        customer_id=customer_id,
        source_code=claims.source_code,
    )
    count = await service.count_reservations(
        session=session, shop_id=live_session.shop_id, live_session_id=live_session.id
    )
    return HtmlSafeJSONResponse(
        {"reserved": True, "reservations": count, "token": new_token}, status_code=201
    )


@router.delete("/{code}/reservations", status_code=204)
async def cancel_reservation(live_session: Room, session: DbSession, request: Request) -> Response:
    claims = viewer_claims(request, live_session)
    if claims.customer_id is not None:
        await service.cancel_reservation(
            session=session, live_session=live_session, customer_id=claims.customer_id
        )
    return Response(status_code=204)


@router.post("/{code}/shares", response_class=HtmlSafeJSONResponse)
async def share(live_session: Room, session: DbSession, request: Request) -> Any:
    """The viewer's share link: whoever comes through it is counted as brought by them."""
    claims = viewer_claims(request, live_session)
    code = await service.create_share(session=session, live_session=live_session, claims=claims)
    return HtmlSafeJSONResponse(
        {"code": code, "url": f"/live/{live_session.code}?share={code}"}, status_code=201
    )
