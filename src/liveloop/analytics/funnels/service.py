"""Purchase funnels: how many viewers reached each step, broken down by source, tier or
new/returning, who dropped at each step (with why, see `reasons`), and a segment of them.

Everything is one SQL statement over `steps.reached` (a viewer's first time at each step, in
order, within the window) plus, for a page of dropped viewers, a few look-ups by id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.expressions import json_text, ratio, viewer_key
from liveloop.analytics.funnels import reasons
from liveloop.analytics.funnels.steps import FunnelSpec, Scope, reached
from liveloop.analytics.service import load_live_session, report_window
from liveloop.core.database import utcnow
from liveloop.core.errors import InvalidInput
from liveloop.customers.models import Customer
from liveloop.customers.points.models import CustomerPoints, MemberTier
from liveloop.customers.segments import service as segments_service
from liveloop.customers.segments.service import mask_name
from liveloop.events.models import Event
from liveloop.live.conditions import ENTER_EVENT
from liveloop.live.models import LiveEntryLink
from liveloop.shops.models import Shop
from liveloop.shops.service import Actor, record_audit

DIRECT_SOURCE = "direct"
SHARE_SOURCE = "share"
NO_TIER = "none"
GUEST = "guest"
MAX_DROPS_PAGE = 500


async def session_scope(*, session: AsyncSession, shop_id: int, live_session_id: int) -> Scope:
    """A session of this shop (another shop's is 404), over its on-air window."""
    live = await load_live_session(
        session=session, shop_id=shop_id, live_session_id=live_session_id
    )
    starts, ends = report_window(live, utcnow())
    return Scope(shop_id=shop_id, starts=starts, ends=ends, live_session_id=live.id)


async def shop_timezone(session: AsyncSession, shop_id: int) -> str:
    zone = (await session.execute(select(Shop.timezone).where(Shop.id == shop_id))).scalar()
    return zone or "Asia/Shanghai"


async def tune(session: AsyncSession) -> None:
    """PostgreSQL settings for this transaction's funnel statements: no JIT (compiling the
    plan costs more than it saves here) and work_mem enough for the per-viewer hash
    aggregates to stay in memory (500k viewers spilled to disk at the default 4MB)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))
        await session.execute(text("SET LOCAL work_mem = '128MB'"))


# ---- counts and breakdowns ---------------------------------------------------------------------


def first_sources(scope: Scope) -> Any:
    """(viewer, source) of each viewer's first room entry in scope: a viewer's share link,
    else the entry link's channel, else direct."""
    where = [Event.shop_id == scope.shop_id, Event.type == ENTER_EVENT]
    if scope.live_session_id is not None:
        where.append(Event.live_session_id == scope.live_session_id)
    else:
        where += [Event.occurred_at >= scope.starts, Event.occurred_at < scope.ends]
    key = viewer_key()
    rank = func.row_number().over(partition_by=key, order_by=(Event.occurred_at, Event.id))
    entries = (
        select(
            key.label("viewer"),
            json_text(Event.properties, "share_code").label("share"),
            json_text(Event.properties, "source_code").label("code"),
            rank.label("n"),
        )
        .where(and_(*where))
        .subquery("entries")
    )
    link = LiveEntryLink
    source = case(
        (entries.c.share != "", literal(SHARE_SOURCE)),
        (link.id.is_not(None), link.channel),
        else_=literal(DIRECT_SOURCE),
    )
    return (
        select(entries.c.viewer, source.label("source"))
        .select_from(entries)
        .outerjoin(link, and_(link.code == entries.c.code, link.shop_id == scope.shop_id))
        .where(entries.c.n == 1)
        .subquery("first_sources")
    )


def _group_key(breakdown: str, rows: Any, scope: Scope) -> tuple[Any, list[tuple[Any, Any]]]:
    """The breakdown's key expression over `reached` and the outer joins it needs."""
    if breakdown == "source":
        sources = first_sources(scope)
        return func.coalesce(sources.c.source, DIRECT_SOURCE), [
            (sources, sources.c.viewer == rows.c.viewer)
        ]
    if breakdown == "tier":
        joins = [
            (
                CustomerPoints,
                and_(
                    CustomerPoints.customer_id == rows.c.customer_id,
                    CustomerPoints.shop_id == scope.shop_id,
                ),
            ),
            (MemberTier, MemberTier.id == CustomerPoints.tier_id),
        ]
        return func.coalesce(MemberTier.name, NO_TIER), joins
    key = case(
        (rows.c.customer_id.is_(None), literal(GUEST)),
        (Customer.first_seen_at < scope.starts, literal("returning")),
        else_=literal("new"),
    )
    return key, [(Customer, Customer.id == rows.c.customer_id)]


def _step_figures(spec: FunnelSpec, counts: list[int]) -> list[dict[str, Any]]:
    first = counts[0] if counts else 0
    out = []
    for n, step in enumerate(spec.steps):
        previous = counts[n - 1] if n else counts[0]
        out.append(
            {
                "step": step,
                "count": counts[n],
                "of_first": ratio(counts[n], first),
                "of_previous": ratio(counts[n], previous),
                "dropped": (previous - counts[n]) if n else 0,
            }
        )
    return out


async def funnel(
    *, session: AsyncSession, scope: Scope, spec: FunnelSpec, breakdown: str | None = None
) -> dict[str, Any]:
    """Viewers at each step, conversion against the first and the previous step, and the
    same per breakdown group (groups sorted by first-step viewers, then key)."""
    await tune(session)
    rows = reached(scope, spec)
    counts = [func.count(rows.c[f"t{n}"]) for n in range(len(spec.steps))]
    total = (await session.execute(select(*counts).select_from(rows))).one()
    body: dict[str, Any] = {
        "scope": scope.describe(),
        "steps": list(spec.steps),
        "window_seconds": spec.window_s,
        "figures": _step_figures(spec, [int(c) for c in total]),
        "conversion": ratio(int(total[-1]), int(total[0])),
        "breakdown": None,
    }
    if breakdown is not None:
        key, joins = _group_key(breakdown, rows, scope)
        statement: Any = select(key.label("key"), *counts).select_from(rows)
        for target, on in joins:
            statement = statement.outerjoin(target, on)
        groups: list[dict[str, Any]] = []
        for row in await session.execute(statement.group_by(key)):
            figures = [int(c) for c in row[1:]]
            groups.append(
                {
                    "key": str(row[0]),
                    "figures": _step_figures(spec, figures),
                    "conversion": ratio(figures[-1], figures[0]),
                }
            )
        groups.sort(key=lambda g: (-g["figures"][0]["count"], g["key"]))
        body["breakdown"] = {"by": breakdown, "groups": groups}
    return body


# ---- who dropped where ----------------------------------------------------------------------------


def _dropped_where(rows: Any, index: int) -> Any:
    if index == 0:
        raise InvalidInput(
            "nobody drops at the first step: pick a later one", code="first_step", field="step"
        )
    return and_(rows.c[f"t{index - 1}"].is_not(None), rows.c[f"t{index}"].is_(None))


async def dropoffs(
    *,
    session: AsyncSession,
    actor: Actor,
    scope: Scope,
    spec: FunnelSpec,
    step: str,
    push_seconds: int = reasons.DEFAULT_PUSH_SECONDS,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """The viewers who reached the step before `step` but never `step` (oldest first), with
    the reasons the data gives and their time on product/mall pages. Names are masked unless
    the actor may reveal them (a reveal is audited)."""
    index = spec.index(step)
    if not 1 <= limit <= MAX_DROPS_PAGE or offset < 0:
        raise InvalidInput(
            f"limit must be 1 to {MAX_DROPS_PAGE} and offset 0 or more",
            code="invalid_page",
            field="limit",
        )
    await tune(session)
    rows = reached(scope, spec)
    where = _dropped_where(rows, index)
    total = int(
        (await session.execute(select(func.count()).select_from(rows).where(where))).scalar_one()
    )
    page = await session.execute(
        select(rows.c.viewer, rows.c.customer_id, rows.c[f"t{index - 1}"].label("last"))
        .where(where)
        .order_by(rows.c[f"t{index - 1}"], rows.c.viewer)
        .limit(limit)
        .offset(offset)
    )
    dropped = [(str(v), None if c is None else int(c), int(t)) for v, c, t in page]
    found = await reasons.explain(
        session=session,
        scope=scope,
        spec=spec,
        viewers=[(v, c) for v, c, _ in dropped],
        push_seconds=push_seconds,
    )
    masked = not actor.can("customers.reveal_pii")
    names = await _names([c for _, c, _ in dropped if c is not None], session, scope.shop_id)
    people = []
    for viewer, customer_id, last in dropped:
        name = names.get(customer_id) if customer_id is not None else None
        people.append(
            {
                "viewer": viewer if customer_id is not None else GUEST,
                "customer_id": customer_id,
                "name": (mask_name(name) if masked else (name or "—"))
                if customer_id is not None
                else None,
                "last_step": spec.steps[index - 1],
                "last_step_at": dt.datetime.fromtimestamp(last, dt.UTC).isoformat(),
                **found.get(viewer, reasons.empty()),
            }
        )
    if not masked and people:
        await audit_reveal(session, actor, scope, f"funnel dropoffs at {step}", len(people))
    return {
        "scope": scope.describe(),
        "steps": list(spec.steps),
        "step": step,
        "window_seconds": spec.window_s,
        "push_seconds": push_seconds,
        "total": total,
        "masked": masked,
        "limit": limit,
        "offset": offset,
        "people": people,
    }


async def _names(ids: list[int], session: AsyncSession, shop_id: int) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Customer.id, Customer.display_name).where(
            Customer.shop_id == shop_id, Customer.id.in_(ids)
        )
    )
    return {int(i): name or "" for i, name in rows}


async def audit_reveal(
    session: AsyncSession, actor: Actor, scope: Scope, what: str, count: int
) -> None:
    await record_audit(
        session=session,
        actor=actor,
        action="analytics.reveal",
        target_type="live_session" if scope.live_session_id else "shop",
        target_id=scope.live_session_id or scope.shop_id,
        details={"what": what, "people": count, **scope.describe()},
    )


async def dropped_customer_ids(
    *, session: AsyncSession, scope: Scope, spec: FunnelSpec, step: str
) -> list[int]:
    """Every customer (guests have no id) who dropped at `step`."""
    await tune(session)
    rows = reached(scope, spec)
    where = _dropped_where(rows, spec.index(step))
    result = await session.execute(
        select(rows.c.customer_id)
        .where(where, rows.c.customer_id.is_not(None))
        .order_by(rows.c.customer_id)
    )
    return [int(i) for i in result.scalars()]


def default_segment_name(scope: Scope, step: str, when: dt.datetime) -> str:
    where = (
        f"live {scope.live_session_id}"
        if scope.live_session_id is not None
        else f"{scope.starts.date()}–{scope.ends.date()}"
    )
    return f"Funnel drop-off before {step} · {where} · {when:%Y-%m-%d %H:%M:%S}"


async def segment_from_dropoffs(
    *,
    session: AsyncSession,
    actor: Actor,
    scope: Scope,
    spec: FunnelSpec,
    step: str,
    name: str | None = None,
) -> Any:
    """A static segment of the customers who dropped at `step`, frozen now."""
    ids = await dropped_customer_ids(session=session, scope=scope, spec=spec, step=step)
    now = utcnow()
    description = (
        f"Customers who reached {spec.steps[spec.index(step) - 1]} but not {step} "
        f"(steps {' → '.join(spec.steps)}, window {spec.window_s} s, "
        f"{scope.starts.isoformat()} – {scope.ends.isoformat()})."
    )
    return await segments_service.create_segment_from_ids(
        session=session,
        actor=actor,
        name=(name or "").strip() or default_segment_name(scope, step, now),
        description=description,
        customer_ids=ids,
        now=now,
    )
