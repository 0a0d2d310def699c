"""JSON routes of channel codes (活码): define, statistics, QR codes, WeCom callback settings,
and the public WeCom callback endpoint (URL verification and encrypted events)."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from liveloop.core.deps import DbSession
from liveloop.core.errors import NotFound
from liveloop.customers.channel_codes import service
from liveloop.customers.channel_codes.models import ChannelCode, ChannelCodeStaff
from liveloop.customers.channel_codes.qr import KINDS, qr_image
from liveloop.customers.channel_codes.schemas import (
    ChannelCodeIn,
    ChannelCodeOut,
    ChannelCodeUpdate,
    DayStatsOut,
    StaffLinkOut,
    StatsOut,
    WecomSettingsIn,
    WecomSettingsOut,
)
from liveloop.customers.channel_codes.wecom_callback import WecomCallbackError, parse_event
from liveloop.shops import service as shops_service
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor, system_actor

log = structlog.get_logger(__name__)

router = APIRouter()
console = APIRouter(prefix="/api/v1", tags=["channel codes"], dependencies=[Depends(current_actor)])
public = APIRouter(prefix="/api/v1/public/wecom", tags=["channel codes (callbacks)"])

Reader = Annotated[Actor, requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, requires(P.CUSTOMERS_WRITE)]
ShopManager = Annotated[Actor, requires(P.SHOP_MANAGE)]


def code_out(
    code: ChannelCode,
    links: list[ChannelCodeStaff],
    stats: service.Stats | None = None,
) -> ChannelCodeOut:
    out = ChannelCodeOut.model_validate(code)
    out.staff = [StaffLinkOut.model_validate(link) for link in links]
    out.landing_path = service.landing_path(code)
    out.stats = StatsOut.model_validate(vars(stats)) if stats else None
    return out


async def _one(session: DbSession, shop_id: int, code: ChannelCode) -> ChannelCodeOut:
    links = await service.staff_links(session=session, shop_id=shop_id, code_ids=[code.id])
    stats = await service.code_stats(session=session, shop_id=shop_id, code_ids=[code.id])
    return code_out(code, links[code.id], stats[code.id])


@console.get("/channel-codes", response_model=list[ChannelCodeOut])
async def list_codes(
    session: DbSession, actor: Reader, include_archived: bool = False
) -> list[ChannelCodeOut]:
    """Every code with its staff and statistics (scans, routed, arrivals, conversions)."""
    codes = await service.list_codes(
        session=session, shop_id=actor.shop_id, include_archived=include_archived
    )
    ids = [code.id for code in codes]
    links = await service.staff_links(session=session, shop_id=actor.shop_id, code_ids=ids)
    stats = await service.code_stats(session=session, shop_id=actor.shop_id, code_ids=ids)
    return [code_out(code, links[code.id], stats[code.id]) for code in codes]


@console.post("/channel-codes", response_model=ChannelCodeOut, status_code=201)
async def create_code(data: ChannelCodeIn, session: DbSession, actor: Writer) -> ChannelCodeOut:
    code = await service.create_code(session=session, shop_id=actor.shop_id, data=data)
    return await _one(session, actor.shop_id, code)


@console.get("/channel-codes/{code_id}", response_model=ChannelCodeOut)
async def get_code(code_id: int, session: DbSession, actor: Reader) -> ChannelCodeOut:
    code = await service.get_code(session=session, shop_id=actor.shop_id, code_id=code_id)
    return await _one(session, actor.shop_id, code)


@console.patch("/channel-codes/{code_id}", response_model=ChannelCodeOut)
async def update_code(
    code_id: int, data: ChannelCodeUpdate, session: DbSession, actor: Writer
) -> ChannelCodeOut:
    code = await service.update_code(
        session=session, shop_id=actor.shop_id, code_id=code_id, data=data
    )
    return await _one(session, actor.shop_id, code)


@console.post("/channel-codes/{code_id}/archive", response_model=ChannelCodeOut)
async def archive_code(
    code_id: int, session: DbSession, actor: Writer, archived: bool = True
) -> ChannelCodeOut:
    code = await service.archive_code(
        session=session, shop_id=actor.shop_id, code_id=code_id, archived=archived
    )
    return await _one(session, actor.shop_id, code)


@console.get("/channel-codes/{code_id}/stats", response_model=list[DayStatsOut])
async def code_daily_stats(
    code_id: int,
    session: DbSession,
    actor: Reader,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Any:
    """Per shop-local day, newest first: scans, routed, arrivals, conversions."""
    found = await service.daily_stats(
        session=session, shop_id=actor.shop_id, code_id=code_id, days=days
    )
    return [vars(day) for day in found]


@console.get("/channel-codes/{code_id}/qr.{kind}")
async def code_qr(
    code_id: int, kind: str, request: Request, session: DbSession, actor: Reader
) -> Response:
    """The QR code of the code's landing page (absolute URL), PNG or SVG."""
    if kind not in KINDS:
        raise NotFound(f"no QR code as .{kind}; use .png or .svg", code="qr_kind_not_found")
    code = await service.get_code(session=session, shop_id=actor.shop_id, code_id=code_id)
    base = request.app.state.settings.public_base_url
    return Response(
        qr_image(f"{base}{service.landing_path(code)}", kind),
        media_type=KINDS[kind],
        headers={"Content-Disposition": f'inline; filename="channel-code-{code.code}.{kind}"'},
    )


@console.put("/channel-codes-wecom", response_model=WecomSettingsOut)
async def save_wecom_settings(
    data: WecomSettingsIn, session: DbSession, actor: ShopManager
) -> WecomSettingsOut:
    """The WeCom callback settings (corp id, Token, EncodingAESKey) of the shop."""
    saved = await service.save_wecom_settings(session=session, shop_id=actor.shop_id, data=data)
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="wecom.callback_settings_saved",
        target_type="shop",
        target_id=actor.shop_id,
        details={"corp_id": saved.corp_id},
    )
    return WecomSettingsOut(
        corp_id=saved.corp_id, token=saved.token, callback_path=callback_path(actor.shop_id)
    )


def callback_path(shop_id: int) -> str:
    return f"/api/v1/public/wecom/{shop_id}/callback"


# ------------------------------------------------------------------- WeCom callback


async def _refuse(
    session: DbSession, shop_id: int, request: Request, error: WecomCallbackError
) -> PlainTextResponse:
    log.warning("wecom_callback_refused", shop_id=shop_id, reason=str(error))
    if error.forged:
        await shops_service.record_audit(
            session=session,
            actor=system_actor(shop_id, label="wecom callback"),
            action="wecom.callback_refused",
            details={"reason": str(error), "ip": request.client.host if request.client else ""},
        )
    return PlainTextResponse(str(error), status_code=401 if error.forged else 400)


@public.get("/{shop_id}/callback", response_class=PlainTextResponse)
async def wecom_verify_url(
    shop_id: int,
    request: Request,
    session: DbSession,
    msg_signature: str = "",
    timestamp: str = "",
    nonce: str = "",
    echostr: str = "",
) -> PlainTextResponse:
    """WeCom checks the URL when it is saved: answer the decrypted echostr."""
    crypto = await service.wecom_crypto(session=session, shop_id=shop_id)
    try:
        return PlainTextResponse(crypto.verify_url(msg_signature, timestamp, nonce, echostr))
    except WecomCallbackError as error:
        return await _refuse(session, shop_id, request, error)


@public.post("/{shop_id}/callback", response_class=PlainTextResponse)
async def wecom_event(
    shop_id: int,
    request: Request,
    session: DbSession,
    msg_signature: str = "",
    timestamp: str = "",
    nonce: str = "",
) -> PlainTextResponse:
    """An encrypted event: change_external_contact (arrivals through a code, State = the
    code) and change_external_chat (group members joining and leaving)."""
    from liveloop.customers.communities import callbacks

    crypto = await service.wecom_crypto(session=session, shop_id=shop_id)
    try:
        message = crypto.open_message(msg_signature, timestamp, nonce, await request.body())
        event = parse_event(message)
    except WecomCallbackError as error:
        return await _refuse(session, shop_id, request, error)
    outcome = await callbacks.apply_wecom_event(session=session, shop_id=shop_id, event=event)
    log.info("wecom_event", shop_id=shop_id, wecom_event=event.event, **outcome)
    return PlainTextResponse("success")


router.include_router(public)
router.include_router(console)
