"""JSON routes of referral fission: campaigns, figures, invites and rewards for the console
(`/api/v1/fission`); joining, my link/poster/progress and accepting an invite for viewers
(`/api/v1/public/fission`, viewer token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from liveloop.commerce.viewer_api import CurrentBuyer, CurrentCustomer
from liveloop.core.database import paginate, utcnow
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.core.schemas import OutModel, PageOut, StrictModel
from liveloop.customers.fission import service, stats
from liveloop.customers.fission.identity import identify_viewer
from liveloop.customers.fission.models import (
    FissionCampaign,
    FissionParticipant,
    InviteStatus,
    RejectReason,
    RewardStatus,
)
from liveloop.customers.fission.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignUpdate,
    InviteOut,
    LeaderOut,
    MyProgressOut,
    ParticipantOut,
    RewardOut,
    StatsOut,
)
from liveloop.customers.phone_codes.proof import refusal_response
from liveloop.customers.phone_codes.schemas import PhoneCodeValue
from liveloop.customers.phone_codes.service import PhoneCodeRejected
from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter()
console = APIRouter(
    prefix="/api/v1/fission", tags=["fission"], dependencies=[Depends(current_actor)]
)
public = APIRouter(prefix="/api/v1/public/fission", tags=["fission (viewer)"])

Reader = Annotated[Actor, requires(P.CUSTOMERS_READ)]
Manager = Annotated[Actor, requires(P.CUSTOMERS_WRITE)]
PageNumber = Annotated[int, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=200)]
INVITE_STATUSES = "^(" + "|".join(s.value for s in InviteStatus) + ")$"
REASONS = "^(" + "|".join(r.value for r in RejectReason) + ")$"
REWARD_STATUSES = "^(" + "|".join(s.value for s in RewardStatus) + ")$"


# ------------------------------------------------------------------------------------ console


@console.get("/campaigns", response_model=PageOut[CampaignOut])
async def list_campaigns(
    session: DbSession, actor: Reader, page: PageNumber = 1, per_page: PerPage = 50
) -> PageOut[CampaignOut]:
    result = await paginate(
        session, service.campaigns_query(shop_id=actor.shop_id), page=page, per_page=per_page
    )
    return PageOut[CampaignOut].of(result, CampaignOut)


@console.post("/campaigns", response_model=CampaignOut, status_code=201)
async def create_campaign(data: CampaignCreate, session: DbSession, actor: Manager) -> CampaignOut:
    campaign = await service.create_campaign(session=session, actor=actor, data=data)
    return CampaignOut.model_validate(campaign)


@console.get("/campaigns/{fission_campaign_id}", response_model=CampaignOut)
async def get_campaign(fission_campaign_id: int, session: DbSession, actor: Reader) -> CampaignOut:
    campaign = await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    return CampaignOut.model_validate(campaign)


@console.put("/campaigns/{fission_campaign_id}", response_model=CampaignOut)
async def update_campaign(
    fission_campaign_id: int, data: CampaignUpdate, session: DbSession, actor: Manager
) -> CampaignOut:
    campaign = await service.update_campaign(
        session=session, actor=actor, campaign_id=fission_campaign_id, data=data
    )
    return CampaignOut.model_validate(campaign)


@console.get("/campaigns/{fission_campaign_id}/stats", response_model=StatsOut)
async def campaign_stats(fission_campaign_id: int, session: DbSession, actor: Reader) -> StatsOut:
    """The funnel and the K-factor (docs/private-domain.md, "Referral fission")."""
    await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    figures = await stats.campaign_stats(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    return StatsOut(**figures)


@console.get("/campaigns/{fission_campaign_id}/leaderboard", response_model=list[LeaderOut])
async def leaderboard(
    fission_campaign_id: int,
    session: DbSession,
    actor: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[LeaderOut]:
    await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    rows = await stats.leaderboard(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id, limit=limit
    )
    return [LeaderOut(**row) for row in rows]


@console.get(
    "/campaigns/{fission_campaign_id}/participants", response_model=PageOut[ParticipantOut]
)
async def list_participants(
    fission_campaign_id: int,
    session: DbSession,
    actor: Reader,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[ParticipantOut]:
    await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    statement = service.participants_query(shop_id=actor.shop_id, campaign_id=fission_campaign_id)
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[ParticipantOut].of(result, ParticipantOut)


@console.get("/campaigns/{fission_campaign_id}/invites", response_model=PageOut[InviteOut])
async def list_invites(
    fission_campaign_id: int,
    session: DbSession,
    actor: Reader,
    status: Annotated[str | None, Query(pattern=INVITE_STATUSES)] = None,
    reason: Annotated[str | None, Query(pattern=REASONS)] = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[InviteOut]:
    """Every invitee, counted or not; rejected ones carry the reason."""
    await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    statement = service.invites_query(
        shop_id=actor.shop_id, campaign_id=fission_campaign_id, status=status, reason=reason
    )
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[InviteOut].of(result, InviteOut)


@console.get("/campaigns/{fission_campaign_id}/rewards", response_model=PageOut[RewardOut])
async def list_rewards(
    fission_campaign_id: int,
    session: DbSession,
    actor: Reader,
    status: Annotated[str | None, Query(pattern=REWARD_STATUSES)] = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[RewardOut]:
    await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    statement = service.rewards_query(
        shop_id=actor.shop_id, campaign_id=fission_campaign_id, status=status
    )
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[RewardOut].of(result, RewardOut)


@console.post("/campaigns/{fission_campaign_id}/qualify")
async def qualify(fission_campaign_id: int, session: DbSession, actor: Manager) -> dict[str, int]:
    """Decide pending invites now (the job does it every 10 minutes)."""
    return await service.qualify_invites(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )


@console.post("/rewards/{fission_reward_id}/ship", response_model=RewardOut)
async def ship_reward(fission_reward_id: int, session: DbSession, actor: Manager) -> RewardOut:
    reward = await service.mark_reward_shipped(
        session=session, actor=actor, reward_id=fission_reward_id
    )
    return RewardOut.model_validate(reward)


@console.post("/rewards/{fission_reward_id}/retry", response_model=RewardOut)
async def retry_reward(fission_reward_id: int, session: DbSession, actor: Manager) -> RewardOut:
    reward = await service.retry_reward(session=session, actor=actor, reward_id=fission_reward_id)
    return RewardOut.model_validate(reward)


# ------------------------------------------------------------------------------------- viewer

DeviceId = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class TokenIn(StrictModel):
    device_id: DeviceId


class IdentifyIn(StrictModel):
    """A guest names themselves by phone; a customer token needs nothing."""

    phone: Annotated[str | None, Field(min_length=5, max_length=32)] = None
    phone_code: PhoneCodeValue | None = Field(
        None, description="The code texted to `phone` (a guest proves the number is theirs)"
    )
    name: Annotated[str, Field(max_length=50)] = ""


class AddressChoiceIn(StrictModel):
    address_id: int


class PublicCampaignOut(OutModel):
    code: str
    name: str
    description: str
    goal: str
    invitees_needed: int
    reward_kind: str
    reward_title: str
    stock_left: int | None
    ends_at: Any
    poster: dict[str, Any]
    open: bool


class InvitationOut(OutModel):
    campaign: PublicCampaignOut
    inviter_name: str
    counted: int


class AcceptOut(OutModel):
    status: str
    reason: str | None
    message: str
    campaign_code: str
    viewer_token: str | None = None


def public_campaign(campaign: FissionCampaign) -> PublicCampaignOut:
    return PublicCampaignOut(
        code=campaign.code,
        name=campaign.name,
        description=campaign.description,
        goal=campaign.goal,
        invitees_needed=campaign.invitees_needed,
        reward_kind=campaign.reward_kind,
        reward_title=campaign.reward_title,
        stock_left=campaign.stock_left,
        ends_at=campaign.ends_at,
        poster=campaign.poster,
        open=service.is_open(campaign, utcnow()),
    )


def _guest_token(request: Request, shop_id: int, device_id: str) -> dict[str, Any]:
    claims = ViewerClaims(
        shop_id=shop_id, live_session_id=None, customer_id=None, device_id=device_id, name=""
    )
    return {"viewer_token": sign_viewer_token(request.app.state.settings, claims)}


def _same_shop(claims: ViewerClaims, shop_id: int, code: str) -> None:
    if claims.shop_id != shop_id:
        raise NotFound(f"campaign {code} was not found", code="campaign_not_found", field="code")


@public.post("/invites/{code}/token")
async def invite_token(
    code: str, data: TokenIn, request: Request, session: DbSession
) -> dict[str, Any]:
    """A guest token for the shop of this invitation (the link is the capability)."""
    participant = await service.get_participant_by_code(session=session, code=code)
    return _guest_token(request, participant.shop_id, data.device_id)


@public.post("/campaigns/{campaign_code}/token")
async def campaign_token(
    campaign_code: str, data: TokenIn, request: Request, session: DbSession
) -> dict[str, Any]:
    campaign = await service.get_campaign_by_code(session=session, code=campaign_code)
    return _guest_token(request, campaign.shop_id, data.device_id)


@public.get("/campaigns/{campaign_code}", response_model=PublicCampaignOut)
async def view_campaign(campaign_code: str, session: DbSession) -> PublicCampaignOut:
    return public_campaign(await service.get_campaign_by_code(session=session, code=campaign_code))


@public.get("/invites/{code}", response_model=InvitationOut)
async def view_invitation(code: str, session: DbSession) -> InvitationOut:
    participant = await service.get_participant_by_code(session=session, code=code)
    campaign = await service.get_campaign(
        session=session, shop_id=participant.shop_id, campaign_id=participant.campaign_id
    )
    return InvitationOut(
        campaign=public_campaign(campaign),
        inviter_name=participant.display_name,
        counted=participant.counted_count,
    )


async def progress_of(
    session: DbSession, participant: FissionParticipant, campaign: FissionCampaign
) -> MyProgressOut:
    mine = await service.my_progress(session=session, participant=participant)
    return MyProgressOut(
        campaign=CampaignOut.model_validate(campaign),
        code=participant.code,
        link_path=f"/f/{participant.code}",
        poster_png=f"/f/{participant.code}/poster.png",
        poster_svg=f"/f/{participant.code}/poster.svg",
        invitees_needed=campaign.invitees_needed,
        counted=mine["counted"],
        pending=mine["pending"],
        reward_status=mine["reward"],
    )


@public.post("/campaigns/{campaign_code}/join", response_model=MyProgressOut, status_code=201)
async def join_campaign(
    campaign_code: str,
    data: IdentifyIn,
    request: Request,
    session: DbSession,
    claims: CurrentBuyer,
) -> MyProgressOut:
    """Take part: my invite link, my posters and my progress (a repeat returns the same)."""
    campaign = await service.get_campaign_by_code(session=session, code=campaign_code)
    _same_shop(claims, campaign.shop_id, campaign_code)
    try:
        who = await identify_viewer(
            request, session, claims, phone=data.phone, code=data.phone_code, name=data.name
        )
    except PhoneCodeRejected as refused:
        return refusal_response(refused)  # type: ignore[return-value]
    if who is None:
        raise InvalidInput(
            "enter your phone number to get your invite link", code="phone_required", field="phone"
        )
    participant = await service.join_campaign(
        session=session,
        shop_id=campaign.shop_id,
        campaign_id=campaign.id,
        customer_id=who.customer_id,
        device_id=claims.device_id,
        display_name=data.name or claims.name,
    )
    progress = await progress_of(session, participant, campaign)
    progress.viewer_token = who.viewer_token
    return progress


@public.get("/campaigns/{campaign_code}/me", response_model=MyProgressOut)
async def my_progress(
    campaign_code: str, session: DbSession, claims: CurrentCustomer
) -> MyProgressOut:
    campaign = await service.get_campaign_by_code(session=session, code=campaign_code)
    _same_shop(claims, campaign.shop_id, campaign_code)
    assert claims.customer_id is not None
    participant = await service.find_participant(
        session=session,
        shop_id=campaign.shop_id,
        campaign_id=campaign.id,
        customer_id=claims.customer_id,
    )
    if participant is None:
        raise NotFound(
            "you have not joined this campaign yet", code="not_participating", field="code"
        )
    return await progress_of(session, participant, campaign)


@public.post("/invites/{code}/accept", response_model=AcceptOut)
async def accept_invite(
    code: str, data: IdentifyIn, request: Request, session: DbSession, claims: CurrentBuyer
) -> AcceptOut:
    """Accept a friend's invitation. Not counting is an answer, not an error (status rejected
    with the reason): the refusal is recorded for the console."""
    participant = await service.get_participant_by_code(session=session, code=code)
    _same_shop(claims, participant.shop_id, code)
    try:
        who = await identify_viewer(
            request, session, claims, phone=data.phone, code=data.phone_code, name=data.name
        )
    except PhoneCodeRejected as refused:
        return refusal_response(refused)  # type: ignore[return-value]
    if who is None:
        raise InvalidInput(
            "enter your phone number to accept the invitation", code="phone_required", field="phone"
        )
    outcome = await service.accept_invite(
        session=session,
        shop_id=participant.shop_id,
        code=code,
        invitee_customer_id=who.customer_id,
        invitee_was_new=who.was_new,
        device_id=claims.device_id,
        phone_key=who.phone_key,
    )
    campaign = await service.get_campaign(
        session=session, shop_id=participant.shop_id, campaign_id=participant.campaign_id
    )
    return AcceptOut(
        status=outcome.status,
        reason=outcome.reason,
        message=outcome.message,
        campaign_code=campaign.code,
        viewer_token=who.viewer_token,
    )


@public.post("/campaigns/{campaign_code}/reward-address", response_model=RewardOut)
async def choose_reward_address(
    campaign_code: str, data: AddressChoiceIn, session: DbSession, claims: CurrentCustomer
) -> RewardOut:
    """Where to ship my product reward (one of my saved addresses)."""
    campaign = await service.get_campaign_by_code(session=session, code=campaign_code)
    _same_shop(claims, campaign.shop_id, campaign_code)
    assert claims.customer_id is not None
    reward = await service.set_reward_address(
        session=session,
        shop_id=campaign.shop_id,
        customer_id=claims.customer_id,
        campaign_id=campaign.id,
        address_id=data.address_id,
    )
    return RewardOut.model_validate(reward)


router.include_router(console)
router.include_router(public)
