"""Console pages of referral fission (campaigns, figures, invitees, rewards) and the public
invite landing /f/{code} with its posters, and the campaign page /f/c/{code}."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.core.database import paginate, utcnow
from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound, register_html_error_page
from liveloop.core.schemas import parse_id
from liveloop.customers.fission import service, stats
from liveloop.customers.fission.models import (
    FissionCampaign,
    FissionParticipant,
    InviteStatus,
    RejectReason,
    RewardStatus,
)
from liveloop.customers.fission.poster import PosterText, poster_png, poster_svg
from liveloop.customers.fission.schemas import DEFAULT_COLOR, CampaignCreate
from liveloop.live.pages import error_text, local_input, parse_local
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.errors import render_error_page
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
register_html_error_page("/f/", render_error_page)  # the invite page is opened in a browser
pages = console_router(prefix="/console/fission")
Reader = Annotated[Actor, console_requires(P.CUSTOMERS_READ)]
Manager = Annotated[Actor, console_requires(P.CUSTOMERS_WRITE)]
PER_PAGE = 20

GOAL_TEXT = {"join": N_("Invitees join"), "buy": N_("Invitees buy")}
REWARD_KIND_TEXT = {"coupon": N_("Coupon"), "points": N_("Points"), "product": N_("Product")}
STATUS_TEXT = {"draft": N_("Draft"), "active": N_("Active"), "ended": N_("Ended")}
INVITE_STATUS_TEXT = {
    InviteStatus.COUNTED.value: N_("Counted"),
    InviteStatus.PENDING.value: N_("Pending"),
    InviteStatus.REJECTED.value: N_("Not counted"),
}
REASON_TEXT = {
    RejectReason.SELF_INVITE.value: N_("Invited themself"),
    RejectReason.SAME_DEVICE.value: N_("Same device as the inviter or another invitee"),
    RejectReason.SAME_PHONE.value: N_("Same phone as the inviter or another invitee"),
    RejectReason.EXISTING_CUSTOMER.value: N_("Already a customer"),
    RejectReason.ALREADY_INVITED.value: N_("Invited by someone else first"),
    RejectReason.LEFT_COMMUNITY.value: N_("Left the group within 24 hours"),
    RejectReason.CAMPAIGN_ENDED.value: N_("Qualified after the end"),
}
REWARD_STATUS_TEXT = {
    RewardStatus.GRANTED.value: N_("Granted"),
    RewardStatus.TO_SHIP.value: N_("To ship"),
    RewardStatus.NEEDS_ADDRESS.value: N_("Needs an address"),
    RewardStatus.SHIPPED.value: N_("Shipped"),
    RewardStatus.OUT_OF_STOCK.value: N_("Out of stock"),
    RewardStatus.FAILED.value: N_("Failed"),
}
LABELS = {
    "goal_text": GOAL_TEXT,
    "reward_kind_text": REWARD_KIND_TEXT,
    "status_text": STATUS_TEXT,
    "invite_status_text": INVITE_STATUS_TEXT,
    "reason_text": REASON_TEXT,
    "reward_status_text": REWARD_STATUS_TEXT,
}
FORM_FIELDS = (
    "name", "description", "goal", "invitees_needed", "reward_kind", "reward_coupon_id",
    "reward_points", "reward_product_id", "reward_title", "reward_stock", "starts_at", "ends_at",
    "community_id", "poster_color", "poster_headline", "poster_subtitle", "status",
)  # fmt: skip


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(getattr(request.state.shop, "timezone", None) or "Asia/Shanghai")


def _blank_form() -> dict[str, str]:
    form = dict.fromkeys(FORM_FIELDS, "")
    form.update(goal="join", reward_kind="coupon", invitees_needed="3", status="active")
    form["poster_color"] = DEFAULT_COLOR
    return form


def _form_of(campaign: FissionCampaign, zone: ZoneInfo) -> dict[str, str]:
    def text(value: Any) -> str:
        return "" if value is None else str(value)

    form = {name: text(getattr(campaign, name, "")) for name in FORM_FIELDS}
    form["starts_at"] = local_input(campaign.starts_at, zone)
    form["ends_at"] = local_input(campaign.ends_at, zone)
    poster = campaign.poster or {}
    form["poster_color"] = poster.get("color", DEFAULT_COLOR)
    form["poster_headline"] = poster.get("headline", "")
    form["poster_subtitle"] = poster.get("subtitle", "")
    return form


def _number(form: dict[str, str], name: str) -> int | None:
    value = form.get(name, "").strip()
    if not value:
        return None
    parsed = parse_id(value)
    if parsed is None:
        raise InvalidInput(f"{name.replace('_', ' ')} must be a whole number", field=name)
    return parsed


def _campaign_data(form: dict[str, str], zone: ZoneInfo) -> CampaignCreate:
    return CampaignCreate(
        name=form["name"],
        description=form["description"],
        goal=form["goal"],  # type: ignore[arg-type]
        invitees_needed=_number(form, "invitees_needed") or 0,
        reward_kind=form["reward_kind"],  # type: ignore[arg-type]
        reward_coupon_id=_number(form, "reward_coupon_id"),
        reward_points=_number(form, "reward_points"),
        reward_product_id=_number(form, "reward_product_id"),
        reward_title=form["reward_title"],
        reward_stock=_number(form, "reward_stock"),
        starts_at=parse_local(form["starts_at"], zone, "starts_at"),
        ends_at=parse_local(form["ends_at"], zone, "ends_at"),
        community_id=_number(form, "community_id"),
        poster={
            "color": form["poster_color"] or DEFAULT_COLOR,
            "headline": form["poster_headline"],
            "subtitle": form["poster_subtitle"],
        },
        status=form["status"] or "active",  # type: ignore[arg-type]
    )


async def _read_form(request: Request) -> dict[str, str]:
    submitted = await request.form()
    return {name: str(submitted.get(name, "")).strip() for name in FORM_FIELDS}


def _render_form(
    request: Request, form: dict[str, str], campaign: FissionCampaign | None, status: int = 200
) -> HTMLResponse:
    title = campaign.name if campaign else translate(request, N_("New fission campaign"))
    return render(
        request,
        "customers/fission/form.html",
        {"form": form, "campaign": campaign, "title": title, **LABELS},
        status_code=status,
    )


@pages.get("", response_class=HTMLResponse)
async def campaign_list(
    request: Request, session: DbSession, actor: Reader, page: Annotated[int, Query(ge=1)] = 1
) -> HTMLResponse:
    result = await paginate(
        session, service.campaigns_query(shop_id=actor.shop_id), page=page, per_page=PER_PAGE
    )
    return render(
        request,
        "customers/fission/list.html",
        {"page": result, "title": translate(request, N_("Referral fission")), **LABELS},
    )


@pages.get("/new", response_class=HTMLResponse)
async def new_campaign(request: Request, actor: Manager) -> HTMLResponse:
    return _render_form(request, _blank_form(), None)


@pages.post("/new", response_model=None)
async def create_campaign(request: Request, session: DbSession, actor: Manager) -> Response:
    form = await _read_form(request)
    try:
        data = _campaign_data(form, _zone(request))
        async with session.begin_nested():
            campaign = await service.create_campaign(session=session, actor=actor, data=data)
    except (InvalidInput, Conflict, NotFound, ValidationError) as exc:
        flash(request, error_text(exc), "error")
        return _render_form(request, form, None, status=422)
    flash(request, translate(request, N_("Fission campaign created.")))
    return redirect(f"/console/fission/{campaign.id}")


@pages.get("/{fission_campaign_id}/edit", response_class=HTMLResponse)
async def edit_campaign(
    request: Request, fission_campaign_id: int, session: DbSession, actor: Manager
) -> HTMLResponse:
    campaign = await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    return _render_form(request, _form_of(campaign, _zone(request)), campaign)


@pages.post("/{fission_campaign_id}/edit", response_model=None)
async def update_campaign(
    request: Request, fission_campaign_id: int, session: DbSession, actor: Manager
) -> Response:
    campaign = await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    form = await _read_form(request)
    try:
        data = _campaign_data(form, _zone(request))
        async with session.begin_nested():
            await service.update_campaign(
                session=session, actor=actor, campaign_id=campaign.id, data=data
            )
    except (InvalidInput, Conflict, NotFound, ValidationError) as exc:
        flash(request, error_text(exc), "error")
        await session.refresh(campaign)
        return _render_form(request, form, campaign, status=422)
    flash(request, translate(request, N_("Fission campaign saved.")))
    return redirect(f"/console/fission/{campaign.id}")


@pages.get("/{fission_campaign_id}", response_class=HTMLResponse)
async def campaign_detail(
    request: Request,
    fission_campaign_id: int,
    session: DbSession,
    actor: Reader,
    status: str = "",
    reason: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    campaign = await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    invites = await paginate(
        session,
        service.invites_query(
            shop_id=actor.shop_id,
            campaign_id=campaign.id,
            status=status if status in INVITE_STATUS_TEXT else None,
            reason=reason if reason in REASON_TEXT else None,
        ),
        page=page,
        per_page=PER_PAGE,
    )
    rewards = await paginate(
        session,
        service.rewards_query(shop_id=actor.shop_id, campaign_id=campaign.id),
        page=1,
        per_page=100,
    )
    figures = await stats.campaign_stats(
        session=session, shop_id=actor.shop_id, campaign_id=campaign.id
    )
    board = await stats.leaderboard(session=session, shop_id=actor.shop_id, campaign_id=campaign.id)
    return render(
        request,
        "customers/fission/detail.html",
        {
            "campaign": campaign,
            "invites": invites,
            "rewards": rewards,
            "stats": figures,
            "board": board,
            "status": status,
            "reason": reason,
            "campaign_link": f"/f/c/{campaign.code}",
            "title": campaign.name,
            **LABELS,
        },
    )


@pages.post("/{fission_campaign_id}/qualify")
async def qualify(
    request: Request, fission_campaign_id: int, session: DbSession, actor: Manager
) -> Response:
    done = await service.qualify_invites(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )
    flash(
        request,
        translate(request, N_("%(counted)s invites counted, %(rejected)s not counted.")) % done,
    )
    return redirect(f"/console/fission/{fission_campaign_id}")


async def _reward_action(request: Request, session: DbSession, action: Any) -> Response:
    try:
        async with session.begin_nested():
            reward = await action()
    except Conflict as exc:
        flash(request, error_text(exc), "error")
        return redirect("/console/fission")
    flash(request, translate(request, N_("Reward updated.")))
    return redirect(f"/console/fission/{reward.campaign_id}")


@pages.post("/rewards/{fission_reward_id}/ship")
async def ship_reward(
    request: Request, fission_reward_id: int, session: DbSession, actor: Manager
) -> Response:
    return await _reward_action(
        request,
        session,
        lambda: service.mark_reward_shipped(
            session=session, actor=actor, reward_id=fission_reward_id
        ),
    )


@pages.post("/rewards/{fission_reward_id}/retry")
async def retry_reward(
    request: Request, fission_reward_id: int, session: DbSession, actor: Manager
) -> Response:
    return await _reward_action(
        request,
        session,
        lambda: service.retry_reward(session=session, actor=actor, reward_id=fission_reward_id),
    )


# ------------------------------------------------------------------------------------- public


def _poster_text(
    request: Request, campaign: FissionCampaign, participant: FissionParticipant
) -> PosterText:
    poster = campaign.poster or {}
    base = request.app.state.settings.base_url.rstrip("/") or str(request.base_url).rstrip("/")
    return PosterText(
        headline=poster.get("headline") or campaign.name,
        subtitle=poster.get("subtitle") or f"邀请 {campaign.invitees_needed} 位好友即可领取",
        reward=campaign.reward_title or campaign.name,
        inviter=participant.display_name,
        code=participant.code,
        link=f"{base}/f/{participant.code}",
        color=poster.get("color") or DEFAULT_COLOR,
    )


def _landing_config(campaign: FissionCampaign, code: str | None) -> dict[str, Any]:
    return {"invite_code": code, "campaign_code": campaign.code}


async def _community_link(session: DbSession, campaign: FissionCampaign) -> str | None:
    """Where an invitee joins the campaign's community (its join link), if it has one."""
    if campaign.community_id is None:
        return None
    from liveloop.customers.communities.models import Community

    community = await session.get(Community, campaign.community_id)
    if community is None or community.shop_id != campaign.shop_id:
        return None
    return community.join_url


@router.get("/f/c/{campaign_code}", response_class=HTMLResponse)
async def campaign_page(request: Request, campaign_code: str, session: DbSession) -> HTMLResponse:
    campaign = await service.get_campaign_by_code(session=session, code=campaign_code)
    return render(
        request,
        "customers/fission/landing.html",
        {
            "campaign": campaign,
            "participant": None,
            "open": service.is_open(campaign, utcnow()),
            "community_link": await _community_link(session, campaign),
            "config": _landing_config(campaign, None),
            "title": campaign.name,
        },
    )


@router.get("/f/{code}", response_class=HTMLResponse)
async def invite_page(request: Request, code: str, session: DbSession) -> HTMLResponse:
    participant = await service.get_participant_by_code(session=session, code=code)
    campaign = await service.get_campaign(
        session=session, shop_id=participant.shop_id, campaign_id=participant.campaign_id
    )
    await service.record_link_open(session=session, participant_id=participant.id)
    return render(
        request,
        "customers/fission/landing.html",
        {
            "campaign": campaign,
            "participant": participant,
            "open": service.is_open(campaign, utcnow()),
            "community_link": await _community_link(session, campaign),
            "config": _landing_config(campaign, participant.code),
            "title": campaign.name,
        },
    )


async def _poster_parts(
    request: Request, session: DbSession, code: str
) -> tuple[FissionCampaign, PosterText]:
    participant = await service.get_participant_by_code(session=session, code=code)
    campaign = await service.get_campaign(
        session=session, shop_id=participant.shop_id, campaign_id=participant.campaign_id
    )
    return campaign, _poster_text(request, campaign, participant)


CACHE = {"Cache-Control": "public, max-age=300"}


@router.get("/f/{code}/poster.png")
async def poster_png_page(request: Request, code: str, session: DbSession) -> Response:
    _campaign, text = await _poster_parts(request, session, code)
    return Response(poster_png(text), media_type="image/png", headers=CACHE)


@router.get("/f/{code}/poster.svg")
async def poster_svg_page(request: Request, code: str, session: DbSession) -> Response:
    _campaign, text = await _poster_parts(request, session, code)
    return Response(poster_svg(text), media_type="image/svg+xml", headers=CACHE)


router.include_router(pages)
