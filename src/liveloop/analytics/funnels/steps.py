"""What a funnel counts: its scope (one live session or a date range), its steps and the rows
that prove a viewer took each step — parsed and checked here, before any query runs.

A viewer is the room's viewer key ("c:<customer id>", else the guest's anonymous id), so a
guest can enter the room and view products, while carts, orders and payments are a customer's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, func, literal, select

from liveloop.analytics.expressions import epoch_floor, viewer_key
from liveloop.commerce.models import Order
from liveloop.core.errors import InvalidInput
from liveloop.events.models import Event
from liveloop.live.conditions import ENTER_EVENT

# Every step a funnel may use, in the only order they may come in.
KNOWN_STEPS: tuple[str, ...] = (
    "entered_room",
    "viewed_product",
    "added_to_cart",
    "checkout_started",
    "placed_order",
    "paid",
)
DEFAULT_STEPS: tuple[str, ...] = (
    "entered_room",
    "viewed_product",
    "added_to_cart",
    "placed_order",
    "paid",
)
STEP_EVENTS: dict[str, tuple[str, ...]] = {
    "entered_room": (ENTER_EVENT,),
    # a click on a product card in the room, or a product page opened (mall or room)
    "viewed_product": ("live_product_click", "product_view"),
    "added_to_cart": ("add_to_cart",),
    "checkout_started": ("checkout_started",),
}
ORDER_STEPS = ("placed_order", "paid")
PRODUCT_EVENTS = ("live_product_click", "product_view", "add_to_cart")

DEFAULT_WINDOW_S = 24 * 3600
MIN_WINDOW_S = 60
MAX_WINDOW_S = 30 * 24 * 3600
MAX_RANGE_DAYS = 366
BREAKDOWNS = ("source", "tier", "new_returning")


@dataclass(frozen=True)
class Scope:
    """One live session (`live_session_id` set; steps are its rows, whatever their time) or a
    date range [starts, ends) of the whole shop. `starts`/`ends` are the session's on-air
    window for a session: new vs returning and "usual order value" are measured against it."""

    shop_id: int
    starts: dt.datetime
    ends: dt.datetime
    live_session_id: int | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "live_session_id": self.live_session_id,
            "starts": self.starts.isoformat(),
            "ends": self.ends.isoformat(),
        }


@dataclass(frozen=True)
class FunnelSpec:
    """Steps in order and the conversion window: each step must come at or after the previous
    one and within `window_s` seconds of the viewer's first step."""

    steps: tuple[str, ...]
    window_s: int = DEFAULT_WINDOW_S

    def index(self, step: str) -> int:
        if step not in self.steps:
            raise InvalidInput(
                f"step {step} is not one of this funnel's steps ({', '.join(self.steps)})",
                code="unknown_step",
                field="step",
            )
        return self.steps.index(step)


def parse_steps(raw: str | list[str] | None) -> tuple[str, ...]:
    """'entered_room,viewed_product,paid' (or a list): 2 to 6 known steps, in funnel order."""
    if raw is None or raw == "" or raw == []:
        return DEFAULT_STEPS
    parts = raw if isinstance(raw, list) else [raw]
    steps = tuple(p.strip() for part in parts for p in part.split(",") if p.strip())
    unknown = [step for step in steps if step not in KNOWN_STEPS]
    if unknown:
        raise InvalidInput(
            f"unknown step {unknown[0]}; known steps: {', '.join(KNOWN_STEPS)}",
            code="unknown_step",
            field="steps",
        )
    if len(set(steps)) != len(steps):
        raise InvalidInput("a step appears twice", code="duplicate_step", field="steps")
    if len(steps) < 2:
        raise InvalidInput("a funnel needs at least two steps", code="too_few_steps", field="steps")
    positions = [KNOWN_STEPS.index(step) for step in steps]
    if positions != sorted(positions):
        raise InvalidInput(
            f"steps must follow the order {' → '.join(KNOWN_STEPS)}",
            code="steps_out_of_order",
            field="steps",
        )
    return steps


def parse_spec(steps: str | list[str] | None, window_seconds: int | None) -> FunnelSpec:
    window = DEFAULT_WINDOW_S if window_seconds is None else window_seconds
    if not MIN_WINDOW_S <= window <= MAX_WINDOW_S:
        raise InvalidInput(
            f"the conversion window must be {MIN_WINDOW_S} s to {MAX_WINDOW_S} s (30 days); "
            f"got {window}",
            code="invalid_window",
            field="window_seconds",
        )
    return FunnelSpec(parse_steps(steps), window)


def parse_breakdown(value: str | None) -> str | None:
    if value in (None, "", "none"):
        return None
    if value not in BREAKDOWNS:
        raise InvalidInput(
            f"unknown breakdown {value}; use one of {', '.join(BREAKDOWNS)}",
            code="unknown_breakdown",
            field="breakdown",
        )
    return value


def _day(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{field} must be a date like 2026-12-01; got {value!r}",
            code="invalid_date",
            field=field,
        ) from None


def range_scope(
    *, shop_id: int, date_from: str | None, date_to: str | None, timezone: str
) -> Scope:
    """[date_from 00:00, date_to 24:00) in the shop's time zone; both ends required, in order,
    at most 366 days apart."""
    if not date_from:
        raise InvalidInput("give a start date (from)", code="missing_date", field="from")
    if not date_to:
        raise InvalidInput("give an end date (to)", code="missing_date", field="to")
    first, last = _day(date_from, "from"), _day(date_to, "to")
    if last < first:
        raise InvalidInput(
            f"the range ends ({last}) before it starts ({first})",
            code="reversed_range",
            field="to",
        )
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(
            f"a range covers at most {MAX_RANGE_DAYS} days; this one covers "
            f"{(last - first).days + 1}",
            code="range_too_long",
            field="to",
        )
    zone = ZoneInfo(timezone)
    starts = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.UTC)
    ends = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return Scope(shop_id=shop_id, starts=starts, ends=ends)


# ---- the rows of each step ----------------------------------------------------------------------


def customer_viewer(column: Any) -> Any:
    return literal("c:") + cast(column, String)


def step_rows(step: str, scope: Scope, spec: FunnelSpec, *, first: bool) -> Any:
    """SELECT (viewer, customer_id, t epoch seconds) of every time someone took the step in
    scope. In a range the first step must fall inside it; later ones may run past its end by
    the window."""
    until = scope.ends if first else scope.ends + dt.timedelta(seconds=spec.window_s)
    if step in ORDER_STEPS:
        moment = Order.created_at if step == "placed_order" else Order.paid_at
        where = [Order.shop_id == scope.shop_id, Order.customer_id.is_not(None)]
        if step == "paid":
            where.append(Order.paid_at.is_not(None))
        if scope.live_session_id is not None:
            where.append(Order.live_session_id == scope.live_session_id)
        else:
            where += [moment >= scope.starts, moment < until]
        return select(
            customer_viewer(Order.customer_id).label("viewer"),
            Order.customer_id.label("customer_id"),
            epoch_floor(moment).label("t"),
        ).where(and_(*where))
    where = [Event.shop_id == scope.shop_id, Event.type.in_(STEP_EVENTS[step])]
    if scope.live_session_id is not None:
        where.append(Event.live_session_id == scope.live_session_id)
    else:
        where += [Event.occurred_at >= scope.starts, Event.occurred_at < until]
    return select(
        viewer_key().label("viewer"),
        Event.customer_id.label("customer_id"),
        epoch_floor(Event.occurred_at).label("t"),
    ).where(and_(*where))


def reached(scope: Scope, spec: FunnelSpec) -> Any:
    """Subquery (viewer, customer_id, t0, t1, ...): when each viewer first took each step in
    order within the window (NULL from the step they never reached on)."""
    first = step_rows(spec.steps[0], scope, spec, first=True).subquery("s0")
    start = (
        select(
            first.c.viewer,
            func.max(first.c.customer_id).label("customer_id"),
            func.min(first.c.t).label("t0"),
        )
        .group_by(first.c.viewer)
        .cte("r0")
    )
    chain = [start]
    previous = start
    for n, step in enumerate(spec.steps[1:], start=1):
        rows = step_rows(step, scope, spec, first=False).subquery(f"s{n}")
        current = (
            select(previous.c.viewer, previous.c.t0, func.min(rows.c.t).label(f"t{n}"))
            .select_from(previous)
            .join(rows, rows.c.viewer == previous.c.viewer)
            .where(
                rows.c.t >= previous.c[f"t{n - 1}"],
                rows.c.t <= previous.c.t0 + spec.window_s,
            )
            .group_by(previous.c.viewer, previous.c.t0)
            .cte(f"r{n}")
        )
        chain.append(current)
        previous = current
    columns = [start.c.viewer, start.c.customer_id, start.c.t0]
    joined: Any = start
    for n, cte in enumerate(chain[1:], start=1):
        joined = joined.outerjoin(cte, cte.c.viewer == start.c.viewer)
        columns.append(cte.c[f"t{n}"])
    return select(*columns).select_from(joined).subquery("reached")
