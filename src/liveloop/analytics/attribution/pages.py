"""Console page of attribution: pick a live session or a date range, the breakdown, lookback and
half-life; see every model side by side per channel or touchpoint, as a table and an ECharts
bar chart drawn from the same figures the API returns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from liveloop.analytics.attribution import credit, service
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput, LiveLoopError
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/analytics")

Analyst = Annotated[Actor, console_requires(P.ANALYTICS_READ)]

MODEL_LABELS = {
    credit.FIRST_TOUCH: N_("First touch"),
    credit.LAST_TOUCH: N_("Last touch"),
    credit.LINEAR: N_("Linear"),
    credit.TIME_DECAY: N_("Time decay"),
    credit.POSITION_BASED: N_("Position based (40/20/40)"),
    credit.DATA_DRIVEN: N_("Data-driven (Markov)"),
}
CHANNEL_LABELS = {
    "broadcast": N_("Broadcast messages"),
    "channel_code": N_("Channel codes"),
    "kol": N_("KOL links"),
    "entry_link": N_("Entry links"),
    "share": N_("Shares"),
    "live_session": N_("Live sessions"),
    "other": N_("Other source codes"),
    "direct": N_("Direct (no touchpoint)"),
}
BY_LABELS = {"channel": N_("Channel"), "touchpoint": N_("Touchpoint")}


async def _sessions(session: DbSession, shop_id: int) -> list[LiveSession]:
    statement = (
        select(LiveSession)
        .where(
            LiveSession.shop_id == shop_id,
            LiveSession.status.in_((LiveStatus.LIVE.value, LiveStatus.ENDED.value)),
        )
        .order_by(LiveSession.started_at.desc(), LiveSession.id.desc())
        .limit(50)
    )
    return list((await session.execute(statement)).scalars())


def _number(value: str | None, field: str, kind: type) -> Any:
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a number", code="invalid_number", field=field
        ) from None


def _chart(request: Request, body: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    rows = [row for row in body["rows"] if row["orders_touched"]]
    return {
        "categories": [labels.get(row["label"], row["label"]) for row in rows],
        "series": [
            {
                "model": model,
                "name": labels[model],
                "fen": [row["revenue_fen"][model] for row in rows],
            }
            for model in body["models"]
        ],
        "empty": translate(request, N_("No paid orders in this scope.")),
    }


@pages.get("/attribution", response_class=HTMLResponse)
async def attribution_page(
    request: Request,
    session: DbSession,
    actor: Analyst,
    live_session_id: Annotated[str | None, Query()] = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    by: Annotated[str | None, Query()] = None,
    lookback_days: Annotated[str | None, Query()] = None,
    half_life_days: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """Every model side by side for a session (?live_session_id=) or a range (?from=&to=)."""
    labels = {
        key: translate(request, text)
        for key, text in {**CHANNEL_LABELS, **MODEL_LABELS, **BY_LABELS}.items()
    }
    body: dict[str, Any] | None = None
    error: str | None = None
    status = 200
    live_id: int | None = None
    try:
        live_id = _number(live_session_id, "live_session_id", int)
        options = service.parse_options(
            _number(lookback_days, "lookback_days", int),
            _number(half_life_days, "half_life_days", float),
        )
        breakdown = service.parse_by(by)
        if live_id is not None or date_from or date_to:
            scope = await service.resolve_scope(
                session=session, shop_id=actor.shop_id, live_session_id=live_id,
                date_from=date_from, date_to=date_to,
            )  # fmt: skip
            body = await service.compare(
                session=session, scope=scope, models_wanted=list(credit.MODELS),
                by=breakdown, options=options,
            )  # fmt: skip
    except LiveLoopError as problem:
        if problem.status_code == 404:
            raise
        error, status = problem.message, 422
    return render(
        request,
        "analytics/attribution.html",
        {
            "title": translate(request, N_("Attribution")),
            "sessions": await _sessions(session, actor.shop_id),
            "live_id": live_id,
            "date_from": date_from or "",
            "date_to": date_to or "",
            "by": by or "channel",
            "by_options": service.BY_OPTIONS,
            "lookback_days": lookback_days or service.DEFAULT_LOOKBACK_DAYS,
            "half_life_days": half_life_days or service.DEFAULT_HALF_LIFE_DAYS,
            "models": credit.MODELS,
            "labels": labels,
            "body": body,
            "chart": _chart(request, body, labels) if body else None,
            "error": error,
        },
        status_code=status,
    )


router.include_router(pages)
