"""JSON routes of assist: campaigns, assists and the abuse list for the console; start, help,
view and redeem for viewers (viewer token, `/api/v1/public/...`)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from liveloop.commerce.assist import service
from liveloop.commerce.assist.models import RefusalReason
from liveloop.commerce.assist.schemas import (
    AssistCampaignCreate,
    AssistCampaignOut,
    AssistView,
    HelpOutcomeOut,
    RefusalOut,
    StaffAssistOut,
)
from liveloop.commerce.groupbuy.api import identify_buyer
from liveloop.commerce.schemas import AddressIn, OrderOut
from liveloop.commerce.viewer_api import CurrentBuyer
from liveloop.core.database import paginate
from liveloop.core.deps import DbSession
from liveloop.core.errors import NotFound
from liveloop.core.schemas import OutModel, PageOut, StrictModel
from liveloop.customers.phone_codes.proof import prove_guest_phone, refusal_response
from liveloop.customers.phone_codes.schemas import PhoneCodeValue
from liveloop.customers.phone_codes.service import PhoneCodeRejected
from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter()
console = APIRouter(
    prefix="/api/v1/assists", tags=["assist"], dependencies=[Depends(current_actor)]
)
public = APIRouter(prefix="/api/v1/public/assists", tags=["assist (viewer)"])

Manager = Annotated[Actor, requires(P.ORDERS_MANAGE)]
PageNumber = Annotated[int, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=200)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]
REASONS = "^(" + "|".join(r.value for r in RefusalReason) + ")$"


# ------------------------------------------------------------------------------------ console


@console.get("", response_model=PageOut[AssistCampaignOut])
async def list_campaigns(
    session: DbSession, actor: Manager, page: PageNumber = 1, per_page: PerPage = 50
) -> PageOut[AssistCampaignOut]:
    statement = service.campaigns_query(shop_id=actor.shop_id)
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[AssistCampaignOut].of(result, AssistCampaignOut)


@console.post("", response_model=AssistCampaignOut, status_code=201)
async def create_campaign(
    data: AssistCampaignCreate, session: DbSession, actor: Manager
) -> AssistCampaignOut:
    campaign = await service.create_campaign(session=session, actor=actor, data=data)
    return AssistCampaignOut.model_validate(campaign)


@console.get("/{assist_campaign_id}", response_model=AssistCampaignOut)
async def get_campaign(
    assist_campaign_id: int, session: DbSession, actor: Manager
) -> AssistCampaignOut:
    campaign = await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=assist_campaign_id
    )
    return AssistCampaignOut.model_validate(campaign)


@console.post("/{assist_campaign_id}/end", response_model=AssistCampaignOut)
async def end_campaign(
    assist_campaign_id: int, session: DbSession, actor: Manager
) -> AssistCampaignOut:
    campaign = await service.end_campaign(
        session=session, actor=actor, campaign_id=assist_campaign_id
    )
    return AssistCampaignOut.model_validate(campaign)


@console.get("/{assist_campaign_id}/assists", response_model=PageOut[StaffAssistOut])
async def list_assists(
    assist_campaign_id: int,
    session: DbSession,
    actor: Manager,
    status: Annotated[str | None, Query(pattern="^(open|completed|expired)$")] = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[StaffAssistOut]:
    await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=assist_campaign_id
    )
    statement = service.assists_query(
        shop_id=actor.shop_id, campaign_id=assist_campaign_id, status=status
    )
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[StaffAssistOut].of(result, StaffAssistOut)


@console.get("/{assist_campaign_id}/refusals", response_model=PageOut[RefusalOut])
async def list_refusals(
    assist_campaign_id: int,
    session: DbSession,
    actor: Manager,
    reason: Annotated[str | None, Query(pattern=REASONS)] = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[RefusalOut]:
    """The abuse list: every refused help with its reason."""
    await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=assist_campaign_id
    )
    statement = service.refusals_query(
        shop_id=actor.shop_id, campaign_id=assist_campaign_id, reason=reason
    )
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[RefusalOut].of(result, RefusalOut)


# ------------------------------------------------------------------------------------- viewer


class AssistTokenIn(StrictModel):
    device_id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class IdentifyIn(StrictModel):
    """A guest names themselves by phone, proven by the code texted to it (as at checkout); a
    customer token needs neither."""

    phone: Annotated[str | None, Field(min_length=5, max_length=32)] = None
    phone_code: PhoneCodeValue | None = None
    name: Annotated[str, Field(max_length=50)] = ""


class AssistStarted(OutModel):
    assist: AssistView
    share_path: str
    viewer_token: str | None = None


class RedeemIn(StrictModel):
    address_id: int | None = None
    address: AddressIn | None = None


class RedeemOut(OutModel):
    order: OrderOut
    viewer_token: str | None = None


async def _shop_of_code(session: DbSession, code: str) -> int:
    shop_id = await service.find_assist_shop(session=session, code=code)
    if shop_id is None:
        raise NotFound(f"assist {code} was not found", code="assist_not_found", field="code")
    return shop_id


async def _identify(
    request: Request, session: DbSession, claims: ViewerClaims, data: IdentifyIn
) -> tuple[int | None, str | None]:
    """(customer id or None for a guest without a phone, a fresh token when one was made)."""
    if claims.customer_id is not None:
        return claims.customer_id, None
    if not data.phone:
        return None, None
    customer_id = await prove_guest_phone(
        session=session,
        claims=claims,
        phone=data.phone,
        code=data.phone_code,
        phone_field="phone",
        code_field="phone_code",
    )
    token = sign_viewer_token(
        request.app.state.settings,
        dataclasses.replace(claims, customer_id=customer_id, name=data.name or claims.name),
    )
    return customer_id, token


@public.post("/{code}/token")
async def assist_token(
    code: str, data: AssistTokenIn, request: Request, session: DbSession
) -> dict[str, str | int]:
    """A guest token for the shop of this assist (the share link is the capability)."""
    shop_id = await _shop_of_code(session, code)
    claims = ViewerClaims(
        shop_id=shop_id, live_session_id=None, customer_id=None, device_id=data.device_id, name=""
    )
    return {
        "viewer_token": sign_viewer_token(request.app.state.settings, claims),
        "shop_id": shop_id,
    }


@public.post("/campaigns/{assist_campaign_id}/start", response_model=AssistStarted, status_code=201)
async def start_assist(
    assist_campaign_id: int,
    data: IdentifyIn,
    request: Request,
    session: DbSession,
    claims: CurrentBuyer,
) -> AssistStarted | JSONResponse:
    try:
        customer_id, token = await _identify(request, session, claims, data)
    except PhoneCodeRejected as refused:
        return refusal_response(refused)
    if customer_id is None:
        return JSONResponse(
            {
                "code": "customer_required",
                "message": "enter your phone number to start an assist",
                "field": "phone",
            },
            status_code=422,
        )
    assist = await service.start_assist(
        session=session,
        shop_id=claims.shop_id,
        campaign_id=assist_campaign_id,
        customer_id=customer_id,
        device_id=claims.device_id,
        display_name=data.name or claims.name,
    )
    view = await service.assist_view(session=session, assist=assist)
    return AssistStarted(
        assist=AssistView.model_validate(view),
        share_path=f"/assist/{assist.code}",
        viewer_token=token,
    )


@public.get("/{code}", response_model=AssistView)
async def view_assist(code: str, session: DbSession) -> AssistView:
    shop_id = await _shop_of_code(session, code)
    assist = await service.get_assist_by_code(session=session, shop_id=shop_id, code=code)
    return AssistView.model_validate(await service.assist_view(session=session, assist=assist))


@public.post("/{code}/help", response_model=HelpOutcomeOut)
async def help_assist(
    code: str, data: IdentifyIn, request: Request, session: DbSession, claims: CurrentBuyer
) -> HelpOutcomeOut | JSONResponse:
    """Help once. A refused help is a 409 whose code says why (self_help, already_helped,
    device_used, not_new_customer, helper_cap, assist_closed, no_customer); it is recorded,
    so this route returns the error instead of raising it (raising would roll it back)."""
    try:
        customer_id, token = await _identify(request, session, claims, data)
    except PhoneCodeRejected as refused:
        return refusal_response(refused)
    outcome = await service.help_assist(
        session=session,
        shop_id=claims.shop_id,
        code=code,
        helper_customer_id=customer_id,
        device_id=claims.device_id,
        display_name=data.name or claims.name,
    )
    view = AssistView.model_validate(
        await service.assist_view(session=session, assist=outcome.assist)
    )
    if not outcome.accepted:
        return JSONResponse(
            {
                "code": outcome.reason,
                "message": outcome.message,
                "field": "code",
                "assist": view.model_dump(mode="json"),
            },
            status_code=409,
        )
    response = HelpOutcomeOut(
        accepted=True,
        code=outcome.reason,
        message=outcome.message,
        cut_fen=outcome.cut_fen,
        assist=view,
    )
    if token is not None:
        return JSONResponse(
            {**response.model_dump(mode="json"), "viewer_token": token}, status_code=200
        )
    return response


@public.post("/{code}/redeem", response_model=RedeemOut, status_code=201)
async def redeem(
    code: str,
    data: RedeemIn,
    request: Request,
    session: DbSession,
    claims: CurrentBuyer,
    idempotency_key: IdempotencyKey = None,
) -> RedeemOut | JSONResponse:
    """The owner of a completed price-cut assist orders the SKU at the target price (once)."""
    try:
        customer_id, new_address_id, became = await identify_buyer(session, claims, data.address)
    except PhoneCodeRejected as refused:
        return refusal_response(refused)
    order = await service.redeem_price_cut(
        session=session,
        shop_id=claims.shop_id,
        code=code,
        customer_id=customer_id,
        address_id=new_address_id or data.address_id,
        idempotency_key=idempotency_key,
    )
    token = None
    if became:
        token = sign_viewer_token(
            request.app.state.settings, dataclasses.replace(claims, customer_id=customer_id)
        )
    return RedeemOut(order=OrderOut.model_validate(order), viewer_token=token)


router.include_router(console)
router.include_router(public)
