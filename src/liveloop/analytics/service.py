"""Post-live reports: build one from a session's rows and events, keep it, read it, export it.

A report is a pure function of what the session recorded, so regenerating replaces the stored
body (one row per session, written with one INSERT ... ON CONFLICT so two generations at once
cannot both insert). The job `tasks.generate_live_report` builds it when a session ends.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.audience import users_section
from liveloop.analytics.consumption import consumption_section
from liveloop.analytics.expressions import epoch_of
from liveloop.analytics.interaction import interaction_section
from liveloop.analytics.models import LiveReport
from liveloop.analytics.realtime import rollups
from liveloop.analytics.viewing import Window, viewing_section
from liveloop.core.database import get_scoped, utcnow
from liveloop.core.errors import InvalidInput
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.shops.service import Actor, record_audit

REPORT_VERSION = 2  # 2: users.traffic (private-domain vs public)


async def load_live_session(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> LiveSession:
    """The session of this shop, or NotFound (another shop's session is not found either)."""
    return await get_scoped(
        session, LiveSession, shop_id=shop_id, record_id=live_session_id, label="live_session"
    )


def report_window(live_session: LiveSession, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[started_at, ended_at]; a session still on air runs to now; one never started is
    empty (both ends at its planned start)."""
    if live_session.started_at is None:
        return live_session.planned_start, live_session.planned_start
    ends = live_session.ended_at or now
    return live_session.started_at, max(ends, live_session.started_at)


async def build_live_report(
    *, session: AsyncSession, live_session: LiveSession, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Every section of the report, computed now (nothing is stored)."""
    now = now or utcnow()
    shop_id, live_session_id = live_session.shop_id, live_session.id
    starts, ends = report_window(live_session, now)
    window = Window(epoch_of(starts), epoch_of(ends))
    viewing = await viewing_section(
        session=session,
        shop_id=shop_id,
        live_session_id=live_session_id,
        window=window,
        figures=await rollups.viewing_figures(session, live_session, window.start, window.end),
    )
    peak_at = viewing.pop("peak_at_epoch")
    viewing["peak_at"] = (
        None if peak_at is None else dt.datetime.fromtimestamp(peak_at, dt.UTC).isoformat()
    )
    uv = int(viewing["uv"])
    return {
        "version": REPORT_VERSION,
        "session": {
            "id": live_session_id,
            "title": live_session.title,
            "status": live_session.status,
            "started_at": None if live_session.started_at is None else starts.isoformat(),
            "ended_at": None if live_session.ended_at is None else ends.isoformat(),
            "window_start": starts.isoformat(),
            "window_end": ends.isoformat(),
            "duration_seconds": window.end - window.start,
            "final": live_session.status in (LiveStatus.ENDED.value, LiveStatus.CANCELLED.value),
        },
        "viewing": viewing,
        "interaction": await interaction_section(
            session=session,
            shop_id=shop_id,
            live_session_id=live_session_id,
            window=window,
            uv=uv,
        ),
        "consumption": await consumption_section(
            session=session, shop_id=shop_id, live_session_id=live_session_id, uv=uv
        ),
        "users": await users_section(
            session=session,
            shop_id=shop_id,
            live_session_id=live_session_id,
            starts=starts,
            ends=ends,
        ),
    }


async def generate_live_report(
    *, session: AsyncSession, shop_id: int, live_session_id: int, now: dt.datetime | None = None
) -> LiveReport:
    """Build the report and store it in place of the previous one."""
    live_session = await load_live_session(
        session=session, shop_id=shop_id, live_session_id=live_session_id
    )
    began = time.perf_counter()
    body = await build_live_report(session=session, live_session=live_session, now=now)
    took = int((time.perf_counter() - began) * 1000)
    generated_at = now or utcnow()
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = LiveReport.__table__
    statement = insert(table).values(
        shop_id=shop_id,
        live_session_id=live_session_id,
        version=REPORT_VERSION,
        body=body,
        generated_at=generated_at,
        generation_ms=took,
        generations=1,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.live_session_id],
        set_={
            "version": REPORT_VERSION,
            "body": statement.excluded.body,
            "generated_at": statement.excluded.generated_at,
            "generation_ms": took,
            "generations": table.c.generations + 1,
        },
    )
    await session.execute(statement)
    report = await _stored(session, shop_id, live_session_id)
    assert report is not None
    return report


async def _stored(session: AsyncSession, shop_id: int, live_session_id: int) -> LiveReport | None:
    statement = (
        select(LiveReport)
        .where(LiveReport.shop_id == shop_id, LiveReport.live_session_id == live_session_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_live_report(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> LiveReport:
    """The stored report; one is generated first when there is none yet, or it was written in
    an older format, or the session was still on air when it was (it is final only after)."""
    live_session = await load_live_session(
        session=session, shop_id=shop_id, live_session_id=live_session_id
    )
    report = await _stored(session, shop_id, live_session_id)
    stale = report is None or report.version != REPORT_VERSION
    if report is not None and not stale:
        stale = live_session.status == LiveStatus.LIVE.value or (
            not report.body.get("session", {}).get("final")
            and live_session.status == LiveStatus.ENDED.value
        )
    if stale:
        report = await generate_live_report(
            session=session, shop_id=shop_id, live_session_id=live_session_id
        )
    assert report is not None
    return report


def report_out(report: LiveReport) -> dict[str, Any]:
    return {
        "live_session_id": report.live_session_id,
        "version": report.version,
        "generated_at": report.generated_at.isoformat(),
        "generation_ms": report.generation_ms,
        "generations": report.generations,
        **{k: v for k, v in report.body.items() if k != "version"},
    }


# ------------------------------------------------------------------------------------ CSV


def report_rows(body: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(section, figure, key, value) rows: every number of the report, flat."""
    rows: list[tuple[str, str, str, Any]] = []
    for section in ("viewing", "interaction", "consumption"):
        for name, value in body.get(section, {}).items():
            if isinstance(value, (bool, int, float, str)) or value is None:
                rows.append((section, name, "", value))
    viewing = body.get("viewing", {})
    rows += [
        ("viewing", "retention", str(m), n) for m, n in enumerate(viewing.get("retention", []))
    ]
    for item in viewing.get("sources", {}).get("channels", []):
        rows.append(("viewing", "source_visits", item["source"], item["visits"]))
        rows.append(("viewing", "source_viewers", item["source"], item["viewers"]))
    interaction = body.get("interaction", {})
    per_minute = interaction.get("comments_per_minute", [])
    rows += [("interaction", "comments_per_minute", str(m), n) for m, n in enumerate(per_minute)]
    for name, value in (interaction.get("questions") or {}).items():
        rows.append(("interaction", f"questions_{name}", "", value))
    rows += [
        ("interaction", "keyword", k["word"], k["count"]) for k in interaction.get("keywords", [])
    ]
    consumption = body.get("consumption", {})
    for product in consumption.get("products", []):
        key = f"{product['product_id']} {product['name']}"
        for name in ("units", "refunded_units", "sales_fen", "orders", "buyers", "clicks"):
            rows.append(("product", name, key, product[name]))
    coupons = consumption.get("coupons", {})
    for name in ("orders_with_coupon", "cost_fen", "claimed_in_room"):
        rows.append(("coupons", name, "", coupons.get(name, 0)))
    for coupon in coupons.get("coupons", []):
        key = f"{coupon['coupon_id']} {coupon['title']}"
        for name in ("used", "cost_fen", "gmv_fen", "claimed_in_room"):
            rows.append(("coupon", name, key, coupon[name]))
    for sale in consumption.get("flash_sales", []):
        key = f"{sale['flash_sale_id']} {sale['title']}"
        for name in ("quantity", "held", "paid_units", "sell_through"):
            rows.append(("flash_sale", name, key, sale[name]))
    users = body.get("users", {})
    for breakdown in ("customers", "traffic", "tiers", "lifecycle", "regions"):
        for row in users.get(breakdown, []):
            for name in ("viewers", "buyers", "gmv_fen"):
                rows.append((f"users_{breakdown}", name, row["key"], row[name]))
    for kind, row in users.get("buyers", {}).items():
        rows.append(("users_buyers", "buyers", kind, row["buyers"]))
        rows.append(("users_buyers", "gmv_fen", kind, row["gmv_fen"]))
    for row in users.get("communities", []):
        key = f"{row['community_id']} {row['name']}"
        rows.append(("users_communities", "viewers", key, row["viewers"]))
        rows.append(("users_communities", "buyers", key, row["buyers"]))
    return rows


async def export_live_report_csv(
    *, session: AsyncSession, actor: Actor, live_session_id: int
) -> str:
    """The report as CSV (aggregates only: no customer appears in it); the export is audited."""
    report = await get_live_report(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("section", "figure", "key", "value"))
    rows = report_rows(report.body)
    writer.writerows(rows)
    await record_audit(
        session=session,
        actor=actor,
        action="analytics.live_report.export",
        target_type="live_session",
        target_id=live_session_id,
        details={"rows": len(rows), "generated_at": report.generated_at.isoformat()},
    )
    return buffer.getvalue()


# ----------------------------------------------------------------------------- comparison

MAX_COMPARED = 6
# (figure key, path in the report body): the figures a comparison lines up side by side.
COMPARED_FIGURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("uv", ("viewing", "uv")),
    ("pv", ("viewing", "pv")),
    ("peak_online", ("viewing", "peak_online")),
    ("watch_seconds_avg", ("viewing", "watch_seconds_avg")),
    ("watch_seconds_median", ("viewing", "watch_seconds_median")),
    ("comments", ("interaction", "comments")),
    ("likes", ("interaction", "likes")),
    ("shares", ("interaction", "shares")),
    ("interaction_rate", ("interaction", "interaction_rate")),
    ("gmv_fen", ("consumption", "gmv_fen")),
    ("refunded_fen", ("consumption", "refunded_fen")),
    ("paid_orders", ("consumption", "paid_orders")),
    ("aov_fen", ("consumption", "aov_fen")),
    ("paying_customers", ("consumption", "paying_customers")),
    ("conversion_rate", ("consumption", "conversion_rate")),
    ("coupon_cost_fen", ("consumption", "coupons", "cost_fen")),
)


def parse_session_ids(values: list[str]) -> list[int]:
    """ "1,2" or repeated ids -> distinct ids in the order given; 2 to MAX_COMPARED of them."""
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or len(part) > 18:
                raise InvalidInput(
                    f"{part!r} is not a live session id (ids are whole numbers, such as 12)",
                    code="not_a_session_id",
                    field="ids",
                )
            if int(part) not in ids:
                ids.append(int(part))
            if len(ids) > MAX_COMPARED:
                raise InvalidInput(
                    f"At most {MAX_COMPARED} live sessions can be compared at once",
                    code="too_many_sessions",
                    field="ids",
                )
    if len(ids) < 2:
        raise InvalidInput(
            "Choose at least two live sessions to compare", code="too_few_sessions", field="ids"
        )
    return ids


def _dig(body: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = body
    for name in path:
        value = value.get(name, 0) if isinstance(value, dict) else 0
    return value


async def compare_live_reports(
    *, session: AsyncSession, shop_id: int, live_session_ids: list[int]
) -> dict[str, Any]:
    """The reports of several sessions of this shop side by side: each session's headline
    figures and retention curve (all 404 if any one is not this shop's)."""
    for live_session_id in live_session_ids:  # every id checked before anything is built
        await load_live_session(session=session, shop_id=shop_id, live_session_id=live_session_id)
    sessions = []
    for live_session_id in live_session_ids:
        report = await get_live_report(
            session=session, shop_id=shop_id, live_session_id=live_session_id
        )
        body = report.body
        sessions.append(
            {
                "live_session_id": live_session_id,
                "title": body["session"]["title"],
                "started_at": body["session"]["started_at"],
                "duration_seconds": body["session"]["duration_seconds"],
                "generated_at": report.generated_at.isoformat(),
                "figures": {key: _dig(body, path) for key, path in COMPARED_FIGURES},
                "retention": body["viewing"]["retention"],
            }
        )
    return {"figures": [key for key, _ in COMPARED_FIGURES], "sessions": sessions}
