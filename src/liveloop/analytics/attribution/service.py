"""Attribution reports: the paid orders of a date range or a live session, each order's value
credited to its journey's touchpoints under one model or several side by side, summed per
channel or per touchpoint. Parameters are checked here, before any query runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.attribution import credit as models
from liveloop.analytics.attribution.journeys import (
    CHANNELS,
    OrderJourney,
    Scope,
    non_converting_paths,
    order_journeys,
)
from liveloop.analytics.service import load_live_session, report_window
from liveloop.core.database import utcnow
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.shops.models import Shop

BY_OPTIONS = ("channel", "touchpoint")
DEFAULT_LOOKBACK_DAYS = 30
MAX_LOOKBACK_DAYS = 365
DEFAULT_HALF_LIFE_DAYS = 7.0
MAX_RANGE_DAYS = 366
ORDERS_DIGITS = 4


@dataclass(frozen=True)
class Options:
    """How the models run: lookback window and time-decay half-life, in seconds."""

    lookback_s: int = DEFAULT_LOOKBACK_DAYS * 86400
    half_life_s: int = int(DEFAULT_HALF_LIFE_DAYS * 86400)


# ---- checking the parameters ---------------------------------------------------------------


def parse_model(model: str | None) -> str:
    chosen = model or models.LINEAR
    if chosen not in models.MODELS:
        raise InvalidInput(
            f"unknown model {chosen!r}; use one of {', '.join(models.MODELS)}",
            code="unknown_model",
            field="model",
        )
    return chosen


def parse_models(value: str | list[str] | None) -> list[str]:
    """A comma-separated list (or repeated parameter) of models; all of them when none."""
    if value is None or value == "" or value == []:
        return list(models.MODELS)
    items = value if isinstance(value, list) else [value]
    names = [name.strip() for item in items for name in item.split(",") if name.strip()]
    chosen: list[str] = []
    for name in names:
        if parse_model_field(name, "models") not in chosen:
            chosen.append(name)
    return chosen


def parse_model_field(name: str, field: str) -> str:
    if name not in models.MODELS:
        raise InvalidInput(
            f"unknown model {name!r}; use one of {', '.join(models.MODELS)}",
            code="unknown_model",
            field=field,
        )
    return name


def parse_by(by: str | None) -> str:
    chosen = by or "channel"
    if chosen not in BY_OPTIONS:
        raise InvalidInput(
            f"unknown breakdown {chosen!r}; use channel or touchpoint",
            code="unknown_breakdown",
            field="by",
        )
    return chosen


def parse_options(lookback_days: int | None, half_life_days: float | None) -> Options:
    lookback = DEFAULT_LOOKBACK_DAYS if lookback_days is None else lookback_days
    if not 1 <= lookback <= MAX_LOOKBACK_DAYS:
        raise InvalidInput(
            f"the lookback window is 1 to {MAX_LOOKBACK_DAYS} days (got {lookback})",
            code="invalid_lookback",
            field="lookback_days",
        )
    half_life = DEFAULT_HALF_LIFE_DAYS if half_life_days is None else half_life_days
    if not 0.01 <= half_life <= MAX_LOOKBACK_DAYS:
        raise InvalidInput(
            f"the half-life is 0.01 to {MAX_LOOKBACK_DAYS} days (got {half_life})",
            code="invalid_half_life",
            field="half_life_days",
        )
    return Options(lookback_s=lookback * 86400, half_life_s=max(int(half_life * 86400), 1))


def _day(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a date like 2026-12-01", code="invalid_date", field=field
        ) from None


async def shop_timezone(session: AsyncSession, shop_id: int) -> str:
    zone = (await session.execute(select(Shop.timezone).where(Shop.id == shop_id))).scalar()
    return zone or "Asia/Shanghai"


async def resolve_scope(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int | None,
    date_from: str | None,
    date_to: str | None,
) -> Scope:
    """A live session of this shop (another shop's is 404), else days [from, to] in the shop's
    time zone: both required, in order, at most 366 days."""
    if live_session_id is not None:
        live = await load_live_session(
            session=session, shop_id=shop_id, live_session_id=live_session_id
        )
        starts, ends = report_window(live, utcnow())
        return Scope(shop_id=shop_id, starts=starts, ends=ends, live_session_id=live.id)
    if not date_from:
        raise InvalidInput(
            "give a live session or a start date (from)", code="missing_date", field="from"
        )
    if not date_to:
        raise InvalidInput("give an end date (to)", code="missing_date", field="to")
    first, last = _day(date_from, "from"), _day(date_to, "to")
    if last < first:
        raise InvalidInput(
            f"the range ends ({last}) before it starts ({first})",
            code="reversed_range",
            field="to",
        )
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise InvalidInput(
            f"a range covers at most {MAX_RANGE_DAYS} days; this one covers {days}",
            code="range_too_long",
            field="to",
        )
    zone = ZoneInfo(await shop_timezone(session, shop_id))
    starts = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.UTC)
    ends = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return Scope(shop_id=shop_id, starts=starts, ends=ends)


# ---- running the models --------------------------------------------------------------------


async def markov_effects(
    session: AsyncSession, scope: Scope, journeys: list[OrderJourney], options: Options
) -> dict[str, Fraction]:
    """Removal effect per channel over the scope's converting journeys and the paths of the
    customers it touched who did not buy."""
    paths: list[tuple[list[str], bool]] = [
        ([t.channel for t in j.touchpoints], True) for j in journeys
    ]
    lost = await non_converting_paths(session, scope=scope, lookback_s=options.lookback_s)
    paths += [(path, False) for path in lost if path]
    return models.removal_effects(paths)


def credit_journeys(
    journeys: list[OrderJourney],
    model: str,
    options: Options,
    effects: dict[str, Fraction] | None = None,
) -> list[tuple[list[int], list[float]]]:
    """Per journey: fen per touchpoint, and each touchpoint's share of the order (for
    fractional order counts)."""
    out = []
    for journey in journeys:
        touches = journey.touches()
        weights = models.weights_for(
            model, touches, half_life_s=options.half_life_s, effects=effects
        )
        whole = float(sum(weights, Fraction(0)))
        shares = [float(w) / whole for w in weights]
        out.append((models.split_fen(journey.value_fen, weights), shares))
    return out


def _row_key(by: str, touchpoint: Any) -> tuple[str, str, str]:
    if by == "channel":
        return touchpoint.channel, touchpoint.channel, touchpoint.channel
    return touchpoint.key, touchpoint.channel, touchpoint.label


def aggregate(
    journeys: list[OrderJourney],
    credited: dict[str, list[tuple[list[int], list[float]]]],
    by: str,
) -> list[dict[str, Any]]:
    """Rows per channel (every known channel, zeros included) or per touchpoint, each with
    revenue and (fractional) orders per model, and how many orders it touched."""
    rows: dict[str, dict[str, Any]] = {}
    if by == "channel":
        for channel in CHANNELS:
            rows[channel] = {"key": channel, "channel": channel, "label": channel}
    touched: dict[str, set[int]] = {}
    for key in rows:
        touched[key] = set()
    model_names = list(credited)
    for index, journey in enumerate(journeys):
        for position, touchpoint in enumerate(journey.touchpoints):
            key, channel, label = _row_key(by, touchpoint)
            row = rows.setdefault(key, {"key": key, "channel": channel, "label": label})
            touched.setdefault(key, set()).add(journey.order_id)
            for model in model_names:
                fen, shares = credited[model][index]
                revenue = row.setdefault("revenue_fen", {})
                orders = row.setdefault("_orders", {})
                revenue[model] = revenue.get(model, 0) + fen[position]
                orders[model] = orders.get(model, 0.0) + shares[position]
    out = []
    for key, row in rows.items():
        orders = row.pop("_orders", {})
        revenue = row.get("revenue_fen", {})
        row["revenue_fen"] = {m: int(revenue.get(m, 0)) for m in model_names}
        row["orders"] = {m: round(orders.get(m, 0.0), ORDERS_DIGITS) for m in model_names}
        row["orders_touched"] = len(touched.get(key, set()))
        out.append(row)
    first = model_names[0]
    out.sort(key=lambda r: (-r["revenue_fen"][first], -r["orders_touched"], r["key"]))
    return out


def _scope_out(scope: Scope) -> dict[str, Any]:
    return {
        "live_session_id": scope.live_session_id,
        "starts": scope.starts.isoformat(),
        "ends": scope.ends.isoformat(),
    }


async def compare(
    *, session: AsyncSession, scope: Scope, models_wanted: list[str], by: str, options: Options
) -> dict[str, Any]:
    """The scope's revenue and orders per channel / touchpoint under each model in
    `models_wanted`; every model's column sums to the scope's paid revenue exactly."""
    journeys = await order_journeys(session, scope=scope, lookback_s=options.lookback_s)
    effects: dict[str, Fraction] | None = None
    if models.DATA_DRIVEN in models_wanted:
        effects = await markov_effects(session, scope, journeys, options)
    credited = {
        model: credit_journeys(journeys, model, options, effects) for model in models_wanted
    }
    rows = aggregate(journeys, credited, by)
    return {
        "scope": _scope_out(scope),
        "models": models_wanted,
        "by": by,
        "lookback_days": options.lookback_s // 86400,
        "half_life_days": round(options.half_life_s / 86400, 4),
        "orders": len(journeys),
        "revenue_fen": sum(j.value_fen for j in journeys),
        "touchpoints": sum(len(j.touchpoints) for j in journeys),
        "removal_effects": (
            {c: round(float(e), ORDERS_DIGITS) for c, e in sorted(effects.items())}
            if effects is not None
            else None
        ),
        "rows": rows,
    }


async def report(
    *, session: AsyncSession, scope: Scope, model: str, by: str, options: Options
) -> dict[str, Any]:
    """One model: rows with plain `revenue_fen` and `orders` figures."""
    body = await compare(
        session=session, scope=scope, models_wanted=[model], by=by, options=options
    )
    for row in body["rows"]:
        row["revenue_fen"] = row["revenue_fen"][model]
        row["orders"] = row["orders"][model]
    body["model"] = model
    del body["models"]
    return body


async def order_attribution(
    *, session: AsyncSession, shop_id: int, order_id: int, options: Options
) -> dict[str, Any]:
    """One paid order's journey and its credit per touchpoint under each model (the
    data-driven one with the removal effects of the days around the order)."""
    scope = Scope(shop_id=shop_id, starts=utcnow(), ends=utcnow())
    journeys = await order_journeys(
        session, scope=scope, lookback_s=options.lookback_s, order_id=order_id
    )
    if not journeys:
        raise NotFound(f"paid order {order_id} was not found", code="order_not_found")
    journey = journeys[0]
    starts = journey.placed_at - dt.timedelta(seconds=options.lookback_s)
    around = Scope(shop_id=shop_id, starts=starts, ends=journey.placed_at + dt.timedelta(days=1))
    neighbours = await order_journeys(session, scope=around, lookback_s=options.lookback_s)
    effects = await markov_effects(session, around, neighbours or journeys, options)
    credits = {
        model: credit_journeys(journeys, model, options, effects)[0][0] for model in models.MODELS
    }
    return {
        "order_id": journey.order_id,
        "number": journey.number,
        "value_fen": journey.value_fen,
        "placed_at": journey.placed_at.isoformat(),
        "touchpoints": [
            {
                "at": t.at.isoformat(),
                "channel": t.channel,
                "key": t.key,
                "label": t.label,
                "credit_fen": {model: credits[model][i] for model in models.MODELS},
            }
            for i, t in enumerate(journey.touchpoints)
        ],
    }
