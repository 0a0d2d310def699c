"""JSON routes of attribution: credited revenue and orders per channel or touchpoint for a date
range or a live session under one model, several models side by side, and one order's journey.

Reading needs analytics.read; a session or order of another shop is 404; unknown models or
breakdowns, reversed or over-long ranges, bad lookback or half-life are 422 with the field."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from liveloop.analytics.attribution import credit, service
from liveloop.analytics.attribution.journeys import CHANNELS
from liveloop.core.deps import DbSession
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(
    prefix="/api/v1/analytics/attribution",
    tags=["analytics"],
    dependencies=[Depends(current_actor)],
)

Analyst = Annotated[Actor, requires(P.ANALYTICS_READ)]
LiveId = Annotated[int | None, Query(description="a live session: its paid orders")]
From = Annotated[str | None, Query(alias="from", description="first day, e.g. 2026-12-01")]
To = Annotated[str | None, Query(alias="to", description="last day (inclusive)")]
By = Annotated[str | None, Query(description="channel (default) or touchpoint")]
Lookback = Annotated[int | None, Query(description="lookback window in days, 1 to 365 (30)")]
HalfLife = Annotated[float | None, Query(description="time-decay half-life in days (7)")]


@router.get("/models")
async def list_models(actor: Analyst) -> dict[str, Any]:
    """The models and channels attribution knows (docs/attribution.md explains each)."""
    return {
        "models": list(credit.MODELS),
        "channels": list(CHANNELS),
        "by": ["channel", "touchpoint"],
    }


@router.get("")
async def attribution_report(
    session: DbSession,
    actor: Analyst,
    model: Annotated[str | None, Query(description="one of /models (linear)")] = None,
    live_session_id: LiveId = None,
    date_from: From = None,
    date_to: To = None,
    by: By = None,
    lookback_days: Lookback = None,
    half_life_days: HalfLife = None,
) -> dict[str, Any]:
    """Paid revenue (fen) and orders credited per channel or touchpoint under one model."""
    chosen, breakdown = service.parse_model(model), service.parse_by(by)
    options = service.parse_options(lookback_days, half_life_days)
    scope = await service.resolve_scope(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id,
        date_from=date_from, date_to=date_to,
    )  # fmt: skip
    return await service.report(
        session=session, scope=scope, model=chosen, by=breakdown, options=options
    )


@router.get("/compare")
async def compare_models(
    session: DbSession,
    actor: Analyst,
    models: Annotated[
        list[str] | None, Query(description="comma-separated; all by default")
    ] = None,
    live_session_id: LiveId = None,
    date_from: From = None,
    date_to: To = None,
    by: By = None,
    lookback_days: Lookback = None,
    half_life_days: HalfLife = None,
) -> dict[str, Any]:
    """Every model (or those named) side by side: per row, revenue and orders per model."""
    wanted, breakdown = service.parse_models(models), service.parse_by(by)
    options = service.parse_options(lookback_days, half_life_days)
    scope = await service.resolve_scope(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id,
        date_from=date_from, date_to=date_to,
    )  # fmt: skip
    return await service.compare(
        session=session, scope=scope, models_wanted=wanted, by=breakdown, options=options
    )


@router.get("/orders/{order_id}")
async def order_journey(
    order_id: int,
    session: DbSession,
    actor: Analyst,
    lookback_days: Lookback = None,
    half_life_days: HalfLife = None,
) -> dict[str, Any]:
    """One paid order's touchpoints and each one's credit under every model."""
    options = service.parse_options(lookback_days, half_life_days)
    return await service.order_attribution(
        session=session, shop_id=actor.shop_id, order_id=order_id, options=options
    )
