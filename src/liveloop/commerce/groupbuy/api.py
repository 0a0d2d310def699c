"""JSON routes of group buy: campaigns and groups for the console; open, join and view a group
for viewers (viewer token, `/api/v1/public/...`)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from liveloop.commerce import addresses
from liveloop.commerce.addresses import AddressData
from liveloop.commerce.groupbuy import service
from liveloop.commerce.groupbuy.models import GroupBuyGroup
from liveloop.commerce.groupbuy.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignUpdate,
    GroupOut,
    GroupSettingsIn,
    GroupSettingsOut,
    GroupView,
    OpenGroupIn,
    StaffGroupView,
    StaffMemberOut,
)
from liveloop.commerce.schemas import AddressIn, OrderOut
from liveloop.commerce.viewer_api import CurrentBuyer
from liveloop.core.database import paginate
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.core.schemas import OutModel, PageOut, StrictModel
from liveloop.customers.phone_codes.proof import prove_guest_phone, refusal_response
from liveloop.customers.phone_codes.service import PhoneCodeRejected
from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter()
console = APIRouter(
    prefix="/api/v1/group-buys", tags=["group buy"], dependencies=[Depends(current_actor)]
)
public = APIRouter(prefix="/api/v1/public", tags=["group buy (viewer)"])

Manager = Annotated[Actor, requires(P.ORDERS_MANAGE)]
LiveManager = Annotated[Actor, requires(P.LIVE_MANAGE)]  # showing one in a room: the anchor's
ShopManager = Annotated[Actor, requires(P.SHOP_MANAGE)]
PageNumber = Annotated[int, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=200)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


# ------------------------------------------------------------------------------------ console


@console.get("/settings", response_model=GroupSettingsOut)
async def get_settings(session: DbSession, actor: Manager) -> GroupSettingsOut:
    found = await service.get_settings(session=session, shop_id=actor.shop_id)
    return GroupSettingsOut.model_validate(found)


@console.put("/settings", response_model=GroupSettingsOut)
async def put_settings(
    data: GroupSettingsIn, session: DbSession, actor: ShopManager
) -> GroupSettingsOut:
    found = await service.update_settings(session=session, actor=actor, data=data)
    return GroupSettingsOut.model_validate(found)


@console.get("", response_model=PageOut[CampaignOut])
async def list_campaigns(
    session: DbSession,
    actor: Manager,
    status: Annotated[str | None, Query(pattern="^(active|ended)$")] = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[CampaignOut]:
    statement = service.campaigns_query(shop_id=actor.shop_id, status=status)
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[CampaignOut].of(result, CampaignOut)


@console.post("", response_model=CampaignOut, status_code=201)
async def create_campaign(data: CampaignCreate, session: DbSession, actor: Manager) -> CampaignOut:
    campaign = await service.create_campaign(session=session, actor=actor, data=data)
    return CampaignOut.model_validate(campaign)


@console.get("/{group_buy_id}", response_model=CampaignOut)
async def get_campaign(group_buy_id: int, session: DbSession, actor: Manager) -> CampaignOut:
    campaign = await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=group_buy_id
    )
    return CampaignOut.model_validate(campaign)


@console.patch("/{group_buy_id}", response_model=CampaignOut)
async def update_campaign(
    group_buy_id: int, data: CampaignUpdate, session: DbSession, actor: Manager
) -> CampaignOut:
    campaign = await service.update_campaign(
        session=session, actor=actor, campaign_id=group_buy_id, data=data
    )
    return CampaignOut.model_validate(campaign)


@console.post("/{group_buy_id}/end", response_model=CampaignOut)
async def end_campaign(group_buy_id: int, session: DbSession, actor: Manager) -> CampaignOut:
    campaign = await service.end_campaign(session=session, actor=actor, campaign_id=group_buy_id)
    return CampaignOut.model_validate(campaign)


class RoomIn(StrictModel):
    live_session_id: int


@console.post("/{group_buy_id}/push", response_model=CampaignOut)
async def push_to_live(
    group_buy_id: int, data: RoomIn, session: DbSession, actor: LiveManager
) -> CampaignOut:
    """Show the group buy's card in a live room (`group_buy_push`)."""
    campaign = await service.push_campaign_to_live(
        session=session, actor=actor, campaign_id=group_buy_id, live_session_id=data.live_session_id
    )
    return CampaignOut.model_validate(campaign)


@console.post("/{group_buy_id}/withdraw", response_model=CampaignOut)
async def withdraw_from_live(
    group_buy_id: int, data: RoomIn, session: DbSession, actor: LiveManager
) -> CampaignOut:
    """Take the card down from its room: the campaign ends (open groups run to their deadline)."""
    campaign = await service.withdraw_campaign_from_live(
        session=session, actor=actor, campaign_id=group_buy_id, live_session_id=data.live_session_id
    )
    return CampaignOut.model_validate(campaign)


@console.get("/{group_buy_id}/groups", response_model=PageOut[GroupOut])
async def list_groups(
    group_buy_id: int,
    session: DbSession,
    actor: Manager,
    status: Annotated[str | None, Query(pattern="^(open|confirmed|failed)$")] = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[GroupOut]:
    await service.get_campaign(session=session, shop_id=actor.shop_id, campaign_id=group_buy_id)
    statement = service.groups_query(shop_id=actor.shop_id, campaign_id=group_buy_id, status=status)
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[GroupOut].of(result, GroupOut)


async def staff_group_view(session: DbSession, group: GroupBuyGroup) -> StaffGroupView:
    members = await service.list_members(session=session, shop_id=group.shop_id, group_id=group.id)
    return StaffGroupView.model_validate(
        {
            **GroupOut.model_validate(group).model_dump(),
            "members": [
                StaffMemberOut.model_validate(
                    {
                        "id": m.id,
                        "customer_id": m.customer_id,
                        "order_id": m.order_id,
                        "refund_id": m.refund_id,
                        "name": m.display_name,
                        "is_leader": m.is_leader,
                        "status": m.status,
                        "quantity": m.quantity,
                        "paid_at": m.paid_at,
                    }
                )
                for m in members
            ],
        }
    )


@console.get("/groups/{buy_group_id}", response_model=StaffGroupView)
async def get_group(buy_group_id: int, session: DbSession, actor: Manager) -> StaffGroupView:
    group = await service.get_group(session=session, shop_id=actor.shop_id, group_id=buy_group_id)
    return await staff_group_view(session, group)


@console.post("/groups/{buy_group_id}/close", response_model=StaffGroupView)
async def close_group(buy_group_id: int, session: DbSession, actor: Manager) -> StaffGroupView:
    """Run the deadline now (for a group already past it; an open group in time is left)."""
    group = await service.get_group(session=session, shop_id=actor.shop_id, group_id=buy_group_id)
    await service.close_group(session=session, shop_id=actor.shop_id, group_id=group.id)
    await session.refresh(group)
    return await staff_group_view(session, group)


# ------------------------------------------------------------------------------------- viewer


class GroupTokenIn(StrictModel):
    device_id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class GroupTokenOut(OutModel):
    viewer_token: str
    shop_id: int


class GroupBuyIn(OpenGroupIn):
    address: AddressIn | None = Field(None, description="A new address (saved for the buyer)")


class GroupPurchaseResult(OutModel):
    group: GroupView
    order: OrderOut
    share_path: str
    viewer_token: str | None = None


async def _shop_of_code(session: DbSession, code: str) -> int:
    shop_id = await service.find_group_shop(session=session, code=code)
    if shop_id is None:
        raise NotFound(
            f"group {code} was not found", code="group_buy_group_not_found", field="code"
        )
    return shop_id


@public.post("/group-buys/groups/{code}/token", response_model=GroupTokenOut)
async def group_token(
    code: str, data: GroupTokenIn, request: Request, session: DbSession
) -> GroupTokenOut:
    """A guest token for the shop of this group (the share link is the capability); the
    buyer becomes a customer when ordering with a phone number."""
    shop_id = await _shop_of_code(session, code)
    claims = ViewerClaims(
        shop_id=shop_id,
        live_session_id=None,
        customer_id=None,
        device_id=data.device_id,
        name="",
        share_code=code,
    )
    token = sign_viewer_token(request.app.state.settings, claims)
    return GroupTokenOut(viewer_token=token, shop_id=shop_id)


async def identify_buyer(
    session: DbSession, claims: ViewerClaims, address: AddressIn | None
) -> tuple[int, int | None, bool]:
    """(customer id, address id of `address`, whether a guest became a customer): a guest is
    turned into a customer by the phone in the address, proven by `address.phone_code` as at
    checkout (PhoneCodeRejected: answer it with `refusal_response`)."""
    customer_id, became = claims.customer_id, False
    if customer_id is None:
        if address is None:
            raise InvalidInput(
                "enter a delivery address with your phone number",
                code="address_required",
                field="address",
            )
        customer_id = await prove_guest_phone(
            session=session,
            claims=claims,
            phone=address.phone,
            code=address.phone_code,
            phone_field="address.phone",
            code_field="address.phone_code",
        )
        became = True
    address_id = None
    if address is not None:
        saved = await addresses.find_or_create_address(
            session=session,
            shop_id=claims.shop_id,
            customer_id=customer_id,
            data=AddressData(**address.model_dump(exclude={"phone_code"})),
        )
        address_id = saved.id
    return customer_id, address_id, became


async def _purchase_result(
    request: Request,
    session: DbSession,
    claims: ViewerClaims,
    purchase: service.GroupPurchase,
    became_customer: bool,
) -> GroupPurchaseResult:
    token = None
    if became_customer:
        token = sign_viewer_token(
            request.app.state.settings,
            dataclasses.replace(claims, customer_id=purchase.member.customer_id),
        )
    await session.refresh(purchase.group)
    view = await service.group_view(session=session, group=purchase.group)
    return GroupPurchaseResult(
        group=GroupView.model_validate(view),
        order=OrderOut.model_validate(purchase.order),
        share_path=f"/group/{purchase.group.code}",
        viewer_token=token,
    )


BuyerClaims = CurrentBuyer


@public.get("/group-buys", response_model=list[CampaignOut])
async def public_campaigns(
    session: DbSession, claims: BuyerClaims, live_session_id: int | None = None
) -> list[CampaignOut]:
    """Group buys open now (of a live session when given): what a room or mall offers."""
    found = await service.open_campaigns(
        session=session, shop_id=claims.shop_id, live_session_id=live_session_id
    )
    return [CampaignOut.model_validate(c) for c in found]


@public.get("/group-buys/{group_buy_id}", response_model=CampaignOut)
async def public_campaign(
    group_buy_id: int, session: DbSession, claims: BuyerClaims
) -> CampaignOut:
    campaign = await service.get_campaign(
        session=session, shop_id=claims.shop_id, campaign_id=group_buy_id
    )
    return CampaignOut.model_validate(campaign)


@public.post(
    "/group-buys/{group_buy_id}/groups", response_model=GroupPurchaseResult, status_code=201
)
async def open_group(
    group_buy_id: int,
    data: GroupBuyIn,
    request: Request,
    session: DbSession,
    claims: BuyerClaims,
    idempotency_key: IdempotencyKey = None,
) -> GroupPurchaseResult | JSONResponse:
    """Open a group as its leader: an order at the group price, and a link to share."""
    try:
        customer_id, new_address_id, became = await identify_buyer(session, claims, data.address)
    except PhoneCodeRejected as refused:
        return refusal_response(refused)
    purchase = await service.open_group(
        session=session,
        shop_id=claims.shop_id,
        campaign_id=group_buy_id,
        customer_id=customer_id,
        address_id=new_address_id or data.address_id,
        quantity=data.quantity,
        display_name=data.address.recipient_name if data.address else claims.name,
        idempotency_key=idempotency_key,
        source_code=claims.source_code,
        share_code=claims.share_code,
    )
    return await _purchase_result(request, session, claims, purchase, became)


@public.post("/group-buys/groups/{code}/join", response_model=GroupPurchaseResult, status_code=201)
async def join_group(
    code: str,
    data: GroupBuyIn,
    request: Request,
    session: DbSession,
    claims: BuyerClaims,
    idempotency_key: IdempotencyKey = None,
) -> GroupPurchaseResult | JSONResponse:
    try:
        customer_id, new_address_id, became = await identify_buyer(session, claims, data.address)
    except PhoneCodeRejected as refused:
        return refusal_response(refused)
    purchase = await service.join_group(
        session=session,
        shop_id=claims.shop_id,
        code=code,
        customer_id=customer_id,
        address_id=new_address_id or data.address_id,
        quantity=data.quantity,
        display_name=data.address.recipient_name if data.address else claims.name,
        idempotency_key=idempotency_key,
        source_code=claims.source_code,
    )
    return await _purchase_result(request, session, claims, purchase, became)


@public.get("/group-buys/groups/{code}", response_model=GroupView)
async def view_group(code: str, session: DbSession) -> GroupView:
    """What the share page shows: members masked, seats left, the deadline. Public: the code
    is the capability, as for a live room."""
    shop_id = await _shop_of_code(session, code)
    group = await service.get_group_by_code(session=session, shop_id=shop_id, code=code)
    return GroupView.model_validate(await service.group_view(session=session, group=group))


router.include_router(console)
router.include_router(public)
