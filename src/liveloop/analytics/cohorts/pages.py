"""Console pages of the analytics area: the hub (/console/analytics), retention and LTV cohorts,
and value figures (AARRR, CAC, KOL report, ROI per live session, K-factor) with the costs
they are computed from. Every figure is the service's own (docs/value-figures.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.cohorts import service, value
from liveloop.analytics.cohorts.models import CostKind, ValueCost
from liveloop.catalog.pages import yuan_to_fen
from liveloop.commerce.affiliates.models import Affiliate
from liveloop.core.database import utcnow
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.customers.fission.models import FissionCampaign
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.shops import service as shops_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, form_error_text, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import fen_to_yuan, flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/analytics")

Analyst = Annotated[Actor, console_requires(P.ANALYTICS_READ)]
CostEditor = Annotated[Actor, console_requires(P.LIVE_MANAGE)]
FormErrors = (InvalidInput, NotFound, ValidationError)

HUB_SESSIONS = 12
LISTED = 50  # live sessions, campaigns and cost lines a value page shows at most
DEFAULT_COHORT_MONTHS = 6
DEFAULT_VALUE_DAYS = 30

PERIOD_LABELS = {"month": N_("Month"), "week": N_("Week")}
ACTIVITY_LABELS = {"purchase": N_("Paid again"), "live": N_("Came back to a live session")}
COHORT_LABELS = {
    "period": N_("First period"),
    "channel": N_("Entry channel"),
    "first_live": N_("First live session"),
}
CHANNEL_LABELS = {
    "wecom": N_("WeCom"),
    "wechat_openid": N_("WeChat"),
    "wechat_unionid": N_("WeChat (UnionID)"),
    "douyin": N_("Douyin"),
    "miniprogram": N_("Mini program"),
    "phone": N_("Phone"),
    "email": N_("E-mail"),
    "import": N_("Import"),
    "console": N_("Added in the console"),
    "kol": N_("KOL"),
    "share": N_("Viewers' share links"),
    "fission": N_("Referral fission"),
    "(none)": N_("No channel"),
}
KIND_LABELS = {
    CostKind.ANCHOR_FEE.value: N_("Anchor fee"),
    CostKind.COUPONS.value: N_("Coupons"),
    CostKind.ADS.value: N_("Ads"),
    CostKind.COMMISSION.value: N_("Commission"),
    CostKind.OTHER.value: N_("Other"),
}
COHORT_CHART_TEXTS = {
    "rate": N_("Retention"),
    "ltv": N_("LTV per customer"),
    "month_axis": N_("Months since first purchase"),
    "week_axis": N_("Weeks since first activity"),
    "period_axis": N_("Months since first activity"),
    "empty": N_("No customer had a first activity in this range."),
}


def _labels(request: Request, *groups: dict[str, str]) -> dict[str, str]:
    return {key: translate(request, text) for group in groups for key, text in group.items()}


def _date(text: str | None, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a date such as 2026-01-31", code="invalid_date", field=field
        ) from None


async def _today(session: AsyncSession, shop_id: int) -> dt.date:
    return utcnow().astimezone(await service.shop_zone(session, shop_id)).date()


def _months_back(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months - 1` before `day`'s month."""
    index = day.year * 12 + day.month - 1 - (months - 1)
    return dt.date(index // 12, index % 12 + 1, 1)


async def _on_air_sessions(session: AsyncSession, shop_id: int, limit: int) -> list[LiveSession]:
    """Sessions that went on air, the one live now first, then the latest."""
    statement = (
        select(LiveSession)
        .where(
            LiveSession.shop_id == shop_id,
            LiveSession.status.in_((LiveStatus.LIVE.value, LiveStatus.ENDED.value)),
        )
        .order_by(
            case((LiveSession.status == LiveStatus.LIVE.value, 0), else_=1),
            LiveSession.started_at.desc(),
            LiveSession.id.desc(),
        )
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


# ---------------------------------------------------------------- hub


@pages.get("", response_class=HTMLResponse)
async def analytics_hub(request: Request, session: DbSession, actor: Analyst) -> HTMLResponse:
    """Recent sessions with their report and dashboard, and a card per analysis."""
    return render(
        request,
        "analytics/index.html",
        {
            "title": translate(request, N_("Analytics")),
            "sessions": await _on_air_sessions(session, actor.shop_id, HUB_SESSIONS),
        },
    )


# ---------------------------------------------------------------- cohorts


def _cohort_label(
    request: Request, kind: str, period: str, key: Any, titles: dict[int, str]
) -> str:
    if kind == "period":
        return str(key)[:7] if period == "month" else str(key)
    if kind == "first_live":
        if key is None:
            return translate(request, N_("No live session"))
        return f"{titles.get(int(key), '')} #{key}"
    return translate(request, CHANNEL_LABELS[key]) if key in CHANNEL_LABELS else str(key)


async def _session_titles(session: AsyncSession, shop_id: int, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(LiveSession.id, LiveSession.title).where(
            LiveSession.shop_id == shop_id, LiveSession.id.in_(ids)
        )
    )
    return {int(i): title for i, title in rows.all()}


async def _label_cohorts(
    request: Request, session: AsyncSession, shop_id: int, retention: dict[str, Any]
) -> None:
    """What each row is called: its month or week, channel, or first live session's title."""
    kind, period = retention["cohort_kind"], retention["period"]
    titles: dict[int, str] = {}
    if kind == "first_live":
        ids = {int(c["cohort"]) for c in retention["cohorts"] if c["cohort"] is not None}
        titles = await _session_titles(session, shop_id, ids)
    for line in retention["cohorts"]:
        line["label"] = _cohort_label(request, kind, period, line["cohort"], titles)


def _cohort_chart(
    request: Request, retention: dict[str, Any], ltv: dict[str, Any]
) -> dict[str, Any]:
    axis = {"week": "week_axis", "month": "period_axis"}[retention["period"]]
    texts = _labels(request, COHORT_CHART_TEXTS)
    return {
        "retention": [
            {"name": c["label"], "rates": [round(r * 100, 2) for r in c["rates"]]}
            for c in retention["cohorts"]
        ],
        "ltv": [{"name": c["cohort"][:7], "fen": c["ltv_fen"]} for c in ltv["cohorts"]],
        "texts": {**texts, "axis": texts[axis]},
    }


@pages.get("/cohorts", response_class=HTMLResponse)
async def cohorts_page(
    request: Request,
    session: DbSession,
    actor: Analyst,
    start: Annotated[str | None, Query()] = None,
    end: Annotated[str | None, Query()] = None,
    period: Annotated[str, Query()] = "month",
    activity: Annotated[str, Query()] = "purchase",
    cohort: Annotated[str, Query()] = "period",
) -> HTMLResponse:
    """Retention triangle (heat-map table and curves) and historical LTV for [start, end]."""
    if not start and not end:
        end_day = await _today(session, actor.shop_id)
        start, end = _months_back(end_day, DEFAULT_COHORT_MONTHS).isoformat(), end_day.isoformat()
    retention: dict[str, Any] | None = None
    ltv: dict[str, Any] | None = None
    error, status = None, 200
    try:
        low, high = _date(start, "start"), _date(end, "end")
        retention = await service.retention(
            session=session, shop_id=actor.shop_id, start=low, end=high,
            period=period, activity=activity, cohort=cohort,
        )  # fmt: skip
        ltv = await service.ltv_by_cohort(
            session=session, shop_id=actor.shop_id, start=low, end=high
        )
    except InvalidInput as problem:
        retention, ltv, error, status = None, None, form_error_text(problem), 422
    if retention is not None:
        await _label_cohorts(request, session, actor.shop_id, retention)
    return render(
        request,
        "analytics/cohorts.html",
        {
            "title": translate(request, N_("Cohorts and retention")),
            "form": {
                "start": start or "",
                "end": end or "",
                "period": period,
                "activity": activity,
                "cohort": cohort,
            },
            "choices": {
                "period": service.PERIODS,
                "activity": service.ACTIVITIES,
                "cohort": service.COHORT_KINDS,
            },
            "labels": _labels(request, PERIOD_LABELS, ACTIVITY_LABELS, COHORT_LABELS),
            "retention": retention,
            "width": max((len(c["counts"]) for c in retention["cohorts"]), default=0)
            if retention
            else 0,
            "ltv": ltv,
            "ltv_width": max((len(c["ltv_fen"]) for c in ltv["cohorts"]), default=0) if ltv else 0,
            "chart": _cohort_chart(request, retention, ltv) if retention and ltv else None,
            "error": error,
        },
        status_code=status,
    )


# ---------------------------------------------------------------- value


async def _live_values(
    session: AsyncSession, shop_id: int, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """ROI and ROAS of each session that went on air in [start, end] (shop's calendar)."""
    low, high = service.utc_bounds(start, end, await service.shop_zone(session, shop_id))
    statement = (
        select(LiveSession)
        .where(
            LiveSession.shop_id == shop_id,
            LiveSession.status.in_((LiveStatus.LIVE.value, LiveStatus.ENDED.value)),
            LiveSession.started_at >= low,
            LiveSession.started_at < high,
        )
        .order_by(LiveSession.started_at.desc(), LiveSession.id.desc())
        .limit(LISTED)
    )
    out = []
    for live in (await session.execute(statement)).scalars():
        figures = await value.live_session_value(
            session=session, shop_id=shop_id, live_session_id=live.id
        )
        out.append({"live": live, **figures})
    return out


async def _k_factors(session: AsyncSession, shop_id: int) -> list[dict[str, Any]]:
    statement = (
        select(FissionCampaign.id, FissionCampaign.name)
        .where(FissionCampaign.shop_id == shop_id)
        .order_by(FissionCampaign.id.desc())
        .limit(LISTED)
    )
    out = []
    for campaign_id, name in (await session.execute(statement)).all():
        figures = await value.k_factor(session=session, shop_id=shop_id, campaign_id=campaign_id)
        out.append({"name": name, **figures})
    return out


async def _costs_in_range(
    session: AsyncSession, shop_id: int, start: dt.date, end: dt.date
) -> list[ValueCost]:
    statement = (
        select(ValueCost)
        .where(ValueCost.shop_id == shop_id, ValueCost.spent_on >= start, ValueCost.spent_on <= end)
        .order_by(ValueCost.spent_on.desc(), ValueCost.id.desc())
        .limit(LISTED * 4)
    )
    return list((await session.execute(statement)).scalars())


async def _value_figures(
    session: AsyncSession, shop_id: int, start: dt.date | None, end: dt.date | None
) -> dict[str, Any]:
    low, high = service.check_range(start, end)
    ranged: dict[str, Any] = {"session": session, "shop_id": shop_id, "start": low, "end": high}
    return {
        "aarrr": await value.aarrr(**ranged),
        "cac": await value.cac_by_channel(**ranged),
        "kols": await value.kol_report(**ranged),
        "lives": await _live_values(session, shop_id, low, high),
        "k_factors": await _k_factors(session, shop_id),
        "costs": await _costs_in_range(session, shop_id, low, high),
    }


async def _value_page(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    start: str | None,
    end: str | None,
    *,
    cost_form: dict[str, str] | None = None,
    cost_error: str | None = None,
    editing: int | None = None,
) -> HTMLResponse:
    if not start and not end:
        end_day = await _today(session, actor.shop_id)
        start = (end_day - dt.timedelta(days=DEFAULT_VALUE_DAYS - 1)).isoformat()
        end = end_day.isoformat()
    figures: dict[str, Any] | None = None
    error = None
    try:
        figures = await _value_figures(
            session, actor.shop_id, _date(start, "start"), _date(end, "end")
        )
    except InvalidInput as problem:
        error = form_error_text(problem)
    can_enter = actor.can(P.LIVE_MANAGE)
    affiliates = await session.execute(
        select(Affiliate.id, Affiliate.name)
        .where(Affiliate.shop_id == actor.shop_id)
        .order_by(Affiliate.name)
    )
    return render(
        request,
        "analytics/value.html",
        {
            "title": translate(request, N_("Value figures")),
            "start": start or "",
            "end": end or "",
            "figures": figures,
            "error": error,
            "labels": _labels(request, CHANNEL_LABELS),
            "kind_labels": _labels(request, KIND_LABELS),
            "can_enter": can_enter,
            "sessions": await _on_air_sessions(session, actor.shop_id, LISTED) if can_enter else [],
            "affiliates": affiliates.all() if can_enter else [],
            "cost_form": cost_form or {"spent_on": end or ""},
            "cost_error": cost_error,
            "editing": editing,
        },
        status_code=422 if error or cost_error else 200,
    )


def _back_to_value(start: str, end: str) -> str:
    query = urlencode({k: v for k, v in (("start", start), ("end", end)) if v})
    return "/console/analytics/value" + (f"?{query}" if query else "")


@pages.get("/value", response_class=HTMLResponse)
async def value_page(
    request: Request,
    session: DbSession,
    actor: Analyst,
    start: Annotated[str | None, Query()] = None,
    end: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """AARRR, CAC per channel, KOL report, ROI per live session, K-factor; the costs behind."""
    return await _value_page(request, session, actor, start, end)


def _optional_id(text: str, field: str) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput(f"{text!r} is not an id", code="invalid_id", field=field)
    return int(text)


def _cost_in(form: dict[str, str]) -> value.CostIn:
    spent_on = _date(form.get("spent_on"), "spent_on")
    if spent_on is None:
        raise InvalidInput("give the day the money was spent", field="spent_on")
    return value.CostIn(
        kind=form.get("kind", ""),
        amount_fen=yuan_to_fen(form.get("amount", ""), "amount"),
        spent_on=spent_on,
        live_session_id=_optional_id(form.get("live_session_id", ""), "live_session_id"),
        broadcast_id=_optional_id(form.get("broadcast_id", ""), "broadcast_id"),
        affiliate_id=_optional_id(form.get("affiliate_id", ""), "affiliate_id"),
        channel=form.get("channel") or None,
        note=form.get("note", ""),
    )


@pages.post("/value/costs", response_class=HTMLResponse)
async def create_cost(
    request: Request, session: DbSession, actor: Analyst, editor: CostEditor
) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}
    start, end = form.pop("start", ""), form.pop("end", "")
    try:
        cost = await value.do_create_cost(
            session=session, shop_id=editor.shop_id, data=_cost_in(form)
        )
    except FormErrors as problem:
        return await _value_page(
            request, session, actor, start, end, cost_form=form,
            cost_error=form_error_text(problem),
        )  # fmt: skip
    await shops_service.record_audit(
        session=session, actor=editor, action="analytics.cost.create", target_type="value_cost",
        target_id=cost.id, details=value.cost_out(cost),
    )  # fmt: skip
    flash(request, translate(request, N_("The cost was entered.")))
    return redirect(_back_to_value(start, end))


def _cost_form(cost: ValueCost) -> dict[str, str]:
    """A stored cost as the form shows it (amount in yuan)."""
    return {
        "kind": cost.kind,
        "amount": fen_to_yuan(cost.amount_fen),
        "spent_on": cost.spent_on.isoformat(),
        "live_session_id": "" if cost.live_session_id is None else str(cost.live_session_id),
        "broadcast_id": "" if cost.broadcast_id is None else str(cost.broadcast_id),
        "affiliate_id": "" if cost.affiliate_id is None else str(cost.affiliate_id),
        "channel": cost.channel or "",
        "note": cost.note,
    }


@pages.get("/value/costs/{cost_id}/edit", response_class=HTMLResponse)
async def edit_cost_page(
    request: Request,
    cost_id: int,
    session: DbSession,
    actor: Analyst,
    editor: CostEditor,
    start: Annotated[str | None, Query()] = None,
    end: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """The value page with the cost form filled with this cost, saving over it."""
    cost = await value.access_cost(session=session, shop_id=editor.shop_id, cost_id=cost_id)
    return await _value_page(
        request, session, actor, start, end, cost_form=_cost_form(cost), editing=cost.id
    )


@pages.post("/value/costs/{cost_id}", response_class=HTMLResponse)
async def update_cost(
    request: Request, cost_id: int, session: DbSession, actor: Analyst, editor: CostEditor
) -> Response:
    cost = await value.access_cost(session=session, shop_id=editor.shop_id, cost_id=cost_id)
    before = value.cost_out(cost)
    form = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}
    start, end = form.pop("start", ""), form.pop("end", "")
    try:
        cost = await value.do_update_cost(
            session=session, shop_id=editor.shop_id, cost_id=cost_id, data=_cost_in(form)
        )
    except FormErrors as problem:
        return await _value_page(
            request, session, actor, start, end, cost_form=form,
            cost_error=form_error_text(problem), editing=cost_id,
        )  # fmt: skip
    await shops_service.record_audit(
        session=session, actor=editor, action="analytics.cost.update", target_type="value_cost",
        target_id=cost.id, details={"before": before, "after": value.cost_out(cost)},
    )  # fmt: skip
    flash(request, translate(request, N_("The cost was saved.")))
    return redirect(_back_to_value(start, end))


@pages.post("/value/costs/{cost_id}/delete")
async def delete_cost(
    request: Request,
    cost_id: int,
    session: DbSession,
    actor: Analyst,
    editor: CostEditor,
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
) -> Response:
    cost = await value.access_cost(session=session, shop_id=editor.shop_id, cost_id=cost_id)
    details = value.cost_out(cost)
    await value.do_delete_cost(session=session, shop_id=editor.shop_id, cost_id=cost_id)
    await shops_service.record_audit(
        session=session, actor=editor, action="analytics.cost.delete", target_type="value_cost",
        target_id=cost_id, details=details,
    )  # fmt: skip
    flash(request, translate(request, N_("The cost was deleted.")))
    return redirect(_back_to_value(start, end))


router.include_router(pages)
