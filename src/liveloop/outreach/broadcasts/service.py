"""Broadcasts (群发): who is in the audience, preparing one recipient row per customer, and the
checks that must say "nobody to send to" before anything is sent.

Delivery lives in `delivery.py`, clicks and results in `results.py`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Select, String, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.customers.communities.models import CommunityMember
from liveloop.customers.models import Customer, CustomerTag
from liveloop.customers.segments import service as segment_service
from liveloop.outreach.broadcasts import partners
from liveloop.outreach.broadcasts.models import (
    CANCELLED,
    DRAFT,
    R_QUEUED,
    R_SKIPPED,
    SCHEDULED,
    SENDING,
    SENT,
    Broadcast,
    BroadcastRecipient,
)
from liveloop.outreach.contracts import ChannelKind

AUDIENCE_KEYS = (
    "all",
    "segments",
    "tags_any",
    "tags_all",
    "tags_none",
    "communities",
    "exclude_segments",
    "exclude_customers",
)
MAX_VARIANTS = 8
_CHUNK = 5000


# --------------------------------------------------------------------------- checks


def check_audience(audience: dict[str, Any], *, field_name: str = "audience") -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in audience.items():
        if key not in AUDIENCE_KEYS:
            raise InvalidInput(
                f"unknown audience key {key!r}; use one of {', '.join(AUDIENCE_KEYS)}",
                code="invalid_audience",
                field=f"{field_name}.{key}",
            )
        if key == "all":
            clean[key] = bool(value)
            continue
        if not isinstance(value, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**53 for i in value
        ):
            raise InvalidInput(
                f"{field_name}.{key} must be a list of ids",
                code="invalid_audience",
                field=f"{field_name}.{key}",
            )
        clean[key] = sorted(set(value))
    return clean


def has_selection(audience: dict[str, Any]) -> bool:
    return bool(
        audience.get("all")
        or audience.get("segments")
        or audience.get("tags_any")
        or audience.get("tags_all")
        or audience.get("communities")
    )


def check_variants(variants: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if not variants:
        raise InvalidInput(
            "a broadcast needs at least one variant", code="no_variants", field="variants"
        )
    if len(variants) > MAX_VARIANTS:
        raise InvalidInput(
            f"at most {MAX_VARIANTS} variants", code="too_many_variants", field="variants"
        )
    seen: set[str] = set()
    clean = []
    for index, variant in enumerate(variants):
        where = f"variants.{index}"
        key = str(variant.get("key") or "").strip()
        if not key or len(key) > 24 or not key.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput(
                "a variant key is 1 to 24 letters, digits, - or _",
                code="invalid_variant",
                field=f"{where}.key",
            )
        if key in seen:
            raise InvalidInput(
                f"variant key {key!r} is used twice", code="invalid_variant", field=f"{where}.key"
            )
        seen.add(key)
        weight = variant.get("weight", 1)
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
            raise InvalidInput(
                "weight is a whole number from 0 to 100",
                code="invalid_variant",
                field=f"{where}.weight",
            )
        template_id = variant.get("template_id")
        parts = variant.get("parts")
        if template_id is None and not isinstance(parts, dict):
            raise InvalidInput(
                "a variant needs a template_id or parts",
                code="invalid_variant",
                field=f"{where}.parts",
            )
        item: dict[str, Any] = {"key": key, "weight": weight, "template_id": template_id}
        if isinstance(parts, dict):
            item["parts"] = {str(k): v for k, v in parts.items()}
        if variant.get("audience"):
            item["audience"] = check_audience(variant["audience"], field_name=f"{where}.audience")
        clean.append(item)
    return clean


# --------------------------------------------------------------------------- CRUD


@dataclass
class BroadcastIn:
    name: str
    kind: ChannelKind
    variants: list[dict[str, Any]]
    audience: dict[str, Any] = field(default_factory=dict)
    channel_id: int | None = None
    live_session_id: int | None = None
    holdout_percent: int = 0
    marketing: bool = True
    coupon_code: str | None = None
    scheduled_at: dt.datetime | None = None


async def get_broadcast(*, session: AsyncSession, shop_id: int, broadcast_id: int) -> Broadcast:
    return await get_scoped(
        session, Broadcast, shop_id=shop_id, record_id=broadcast_id, label="broadcast"
    )


async def list_broadcasts(
    *, session: AsyncSession, shop_id: int, live_session_id: int | None = None, limit: int = 100
) -> list[Broadcast]:
    statement = scoped(Broadcast, shop_id).order_by(Broadcast.id.desc()).limit(limit)
    if live_session_id is not None:
        statement = statement.where(Broadcast.live_session_id == live_session_id)
    return list((await session.execute(statement)).scalars())


async def create_broadcast(
    *, session: AsyncSession, shop_id: int, data: BroadcastIn, staff_id: int | None = None
) -> Broadcast:
    if not 0 <= data.holdout_percent <= 50:
        raise InvalidInput(
            "hold-out is 0 to 50 percent", code="invalid_holdout", field="holdout_percent"
        )
    audience = check_audience(data.audience)
    variants = check_variants(data.variants)
    if data.channel_id is not None:
        from liveloop.outreach.channels import service as channel_service

        channel = await channel_service.get_channel(
            session=session, shop_id=shop_id, channel_id=data.channel_id
        )
        if channel.kind != data.kind.value:
            raise InvalidInput(
                f"channel {channel.id} is a {channel.kind} channel, not {data.kind.value}",
                code="channel_kind_mismatch",
                field="channel_id",
            )
    if data.live_session_id is not None:
        from liveloop.live.models import LiveSession

        await get_scoped(
            session,
            LiveSession,
            shop_id=shop_id,
            record_id=data.live_session_id,
            label="live session",
        )
    for index, variant in enumerate(variants):
        parts = variant.get("parts")
        if parts is None:
            parts = await partners.template_parts(
                session=session, shop_id=shop_id, template_id=variant["template_id"],
                kind=data.kind, field=f"variants.{index}.template_id",
            )  # fmt: skip
        else:
            partners.check_parts(data.kind, parts, field=f"variants.{index}.parts")
        try:
            partners.compile_template(data.kind, parts, marketing=data.marketing)
        except InvalidInput as error:
            error.field = f"variants.{index}.{error.field or 'parts'}"
            raise
        except Exception as error:  # jinja syntax error in the stand-in
            raise InvalidInput(
                f"variant {variant['key']}: {error}",
                code="template_syntax",
                field=f"variants.{index}.parts",
            ) from error
    broadcast = Broadcast(
        shop_id=shop_id,
        name=data.name.strip()[:120] or "broadcast",
        kind=data.kind.value,
        channel_id=data.channel_id,
        live_session_id=data.live_session_id,
        audience=audience,
        variants=variants,
        holdout_percent=data.holdout_percent,
        marketing=data.marketing,
        coupon_code=data.coupon_code,
        scheduled_at=data.scheduled_at,
        created_by=staff_id,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


# --------------------------------------------------------------------------- audience


async def _selection(
    session: AsyncSession, shop_id: int, audience: dict[str, Any], now: dt.datetime
) -> Select[Any] | None:
    """SELECT customers.id of an audience (active customers), or None when it selects nobody."""
    if not has_selection(audience):
        return None
    active = scoped(Customer, shop_id, Customer.id).where(Customer.status == "active")
    if not audience.get("all"):
        picks: list[Any] = []
        for segment_id in audience.get("segments", []):
            picks.append(
                Customer.id.in_(
                    await segment_service.segment_customer_ids(
                        session=session, shop_id=shop_id, segment_id=segment_id, now=now
                    )
                )
            )
        if audience.get("tags_any"):
            picks.append(
                Customer.id.in_(
                    select(CustomerTag.customer_id).where(
                        CustomerTag.shop_id == shop_id, CustomerTag.tag_id.in_(audience["tags_any"])
                    )
                )
            )
        if audience.get("communities"):
            picks.append(
                Customer.id.in_(
                    select(CommunityMember.customer_id).where(
                        CommunityMember.shop_id == shop_id,
                        CommunityMember.community_id.in_(audience["communities"]),
                        CommunityMember.left_at.is_(None),
                    )
                )
            )
        if picks:
            from sqlalchemy import or_

            active = active.where(or_(*picks))
    if audience.get("tags_all"):
        wanted = audience["tags_all"]
        active = active.where(
            Customer.id.in_(
                select(CustomerTag.customer_id)
                .where(CustomerTag.shop_id == shop_id, CustomerTag.tag_id.in_(wanted))
                .group_by(CustomerTag.customer_id)
                .having(func.count(CustomerTag.tag_id) == len(wanted))
            )
        )
    if audience.get("tags_none"):
        active = active.where(
            Customer.id.not_in(
                select(CustomerTag.customer_id).where(
                    CustomerTag.shop_id == shop_id, CustomerTag.tag_id.in_(audience["tags_none"])
                )
            )
        )
    for segment_id in audience.get("exclude_segments", []):
        active = active.where(
            Customer.id.not_in(
                await segment_service.segment_customer_ids(
                    session=session, shop_id=shop_id, segment_id=segment_id, now=now
                )
            )
        )
    if audience.get("exclude_customers"):
        active = active.where(Customer.id.not_in(audience["exclude_customers"]))
    return active


async def audience_customer_ids(
    *, session: AsyncSession, shop_id: int, audience: dict[str, Any], now: dt.datetime | None = None
) -> list[int]:
    """The customer ids an audience selects, ascending (one query)."""
    statement = await _selection(session, shop_id, audience, now or utcnow())
    if statement is None:
        return []
    return list((await session.execute(statement.order_by(Customer.id))).scalars())


# --------------------------------------------------------------------------- plan


@dataclass
class Plan:
    """Who would get what: one (customer, variant, status, reason, send_at) per audience member."""

    rows: list[tuple[int, str | None, str, str | None, dt.datetime | None]]
    audience_size: int

    @property
    def queued(self) -> int:
        return sum(1 for row in self.rows if row[2] == R_QUEUED)

    def reasons(self) -> dict[str, int]:
        return dict(Counter(row[3] for row in self.rows if row[2] == R_SKIPPED and row[3]))


def _reason_text(reason: Any) -> str:
    return str(getattr(reason, "value", reason))


async def plan_broadcast(
    *, session: AsyncSession, broadcast: Broadcast, now: dt.datetime | None = None
) -> Plan:
    now = now or utcnow()
    shop_id, kind = broadcast.shop_id, ChannelKind(broadcast.kind)
    ids = await audience_customer_ids(
        session=session, shop_id=shop_id, audience=broadcast.audience, now=now
    )
    fixed: dict[int, str] = {}  # per-audience variants win, first listed first
    for variant in broadcast.variants:
        if variant.get("audience"):
            for customer_id in await audience_customer_ids(
                session=session, shop_id=shop_id, audience=variant["audience"], now=now
            ):
                fixed.setdefault(customer_id, variant["key"])
    split = [(v["key"], int(v["weight"])) for v in broadcast.variants if not v.get("audience")]
    split = [pair for pair in split if pair[1] > 0]
    addresses = await partners.resolve_addresses(
        session=session, shop_id=shop_id, kind=kind, customer_ids=ids
    )
    decisions = await partners.screen_recipients(
        session=session,
        shop_id=shop_id,
        kind=kind,
        customer_ids=ids,
        now=now,
        marketing=broadcast.marketing,
    )
    rows: list[tuple[int, str | None, str, str | None, dt.datetime | None]] = []
    for customer_id in ids:
        variant: str | None
        if customer_id in fixed:
            variant = fixed[customer_id]
        elif split:
            variant = partners.assign_variant(
                broadcast_id=broadcast.id,
                customer_id=customer_id,
                variants=split,
                holdout_percent=broadcast.holdout_percent,
            )
        else:
            continue  # only per-audience variants, and this customer is in none of them
        decision = decisions.get(customer_id)
        if variant is None:
            rows.append((customer_id, None, R_SKIPPED, "holdout", None))
        elif customer_id not in addresses:
            rows.append((customer_id, variant, R_SKIPPED, "no_address", None))
        elif decision is None or decision.send_at is None:
            reason = _reason_text(getattr(decision, "reason", None) or "no_consent")
            rows.append((customer_id, variant, R_SKIPPED, reason, None))
        else:
            rows.append((customer_id, variant, R_QUEUED, None, decision.send_at))
    return Plan(rows=rows, audience_size=len(ids))


def check_plan(plan: Plan) -> None:
    """Nobody to send to is said before sending, with the reasons counted."""
    if plan.audience_size == 0:
        raise InvalidInput(
            "the audience is empty: no active customer matches these segments, tags and "
            "communities",
            code="empty_audience",
            field="audience",
        )
    if plan.queued == 0:
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(plan.reasons().items()))
        raise InvalidInput(
            f"none of the {plan.audience_size} customers in the audience can be reached ({counts})",
            code="no_consenting_recipients",
            field="audience",
        )


_RECIPIENT_COLUMNS = (
    "shop_id", "broadcast_id", "customer_id", "channel_id", "status", "reason", "variant",
    "attempts", "send_at", "queued_at",
)  # fmt: skip


def _insert_sql(dialect: Any) -> str:
    """INSERT … ON CONFLICT DO NOTHING of one recipient row in the driver's own paramstyle."""
    if dialect.paramstyle == "qmark":
        marks = ["?"] * len(_RECIPIENT_COLUMNS)
    elif dialect.paramstyle == "numeric_dollar":
        marks = [f"${n}" for n in range(1, len(_RECIPIENT_COLUMNS) + 1)]
    else:
        marks = ["%s"] * len(_RECIPIENT_COLUMNS)
    table = BroadcastRecipient.__tablename__
    return (
        f"INSERT INTO {table} ({', '.join(_RECIPIENT_COLUMNS)}) VALUES ({', '.join(marks)}) "
        "ON CONFLICT DO NOTHING"
    )


async def enqueue_recipients(
    *, session: AsyncSession, broadcast: Broadcast, plan: Plan, now: dt.datetime | None = None
) -> int:
    """Insert the plan's rows (a second run inserts nothing: unique per broadcast+customer+channel).

    PostgreSQL gets one INSERT … SELECT FROM unnest(arrays) per 50,000 rows; SQLite the
    driver's executemany. Both skip SQLAlchemy's per-row parameter processing, which was most
    of the time at 100,000 recipients; times are converted once per distinct value by the
    column type's own bind processor, so they are stored exactly as the ORM stores them."""
    now = now or utcnow()
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        return await _insert_unnest(connection, broadcast, plan, now)
    dialect = connection.dialect
    to_db = BroadcastRecipient.__table__.c.send_at.type.bind_processor(dialect) or (lambda v: v)
    times: dict[dt.datetime | None, Any] = {None: None}

    def stored(moment: dt.datetime | None) -> Any:
        if moment not in times:
            times[moment] = to_db(moment)
        return times[moment]

    shop_id, broadcast_id, channel_id = broadcast.shop_id, broadcast.id, broadcast.channel_id or 0
    queued_at = stored(now)
    sql = _insert_sql(dialect)
    inserted = 0
    for start in range(0, len(plan.rows), _CHUNK):
        values = [
            (shop_id, broadcast_id, customer_id, channel_id, status, reason, variant, 0,
             stored(send_at), queued_at)
            for customer_id, variant, status, reason, send_at in plan.rows[start : start + _CHUNK]
        ]  # fmt: skip
        result = await connection.exec_driver_sql(sql, values)
        inserted += max(result.rowcount or 0, 0)
    return inserted


_UNNEST_SQL = text(
    f"INSERT INTO {BroadcastRecipient.__tablename__} ({', '.join(_RECIPIENT_COLUMNS)}) "
    "SELECT :shop_id, :broadcast_id, u.customer_id, :channel_id, u.status, u.reason, u.variant, "
    "0, u.send_at, :queued_at "
    "FROM unnest(CAST(:customer_ids AS BIGINT[]), CAST(:statuses AS VARCHAR[]), "
    "CAST(:reasons AS VARCHAR[]), CAST(:variants AS VARCHAR[]), "
    "CAST(:send_ats AS TIMESTAMPTZ[])) "
    "AS u(customer_id, status, reason, variant, send_at) "
    "ON CONFLICT DO NOTHING"
).bindparams(
    bindparam("customer_ids", type_=postgresql.ARRAY(BigInteger)),
    bindparam("statuses", type_=postgresql.ARRAY(String)),
    bindparam("reasons", type_=postgresql.ARRAY(String)),
    bindparam("variants", type_=postgresql.ARRAY(String)),
    bindparam("send_ats", type_=postgresql.ARRAY(postgresql.TIMESTAMP(timezone=True))),
    bindparam("queued_at", type_=postgresql.TIMESTAMP(timezone=True)),
)
_UNNEST_CHUNK = 50_000


async def _insert_unnest(
    connection: Any, broadcast: Broadcast, plan: Plan, now: dt.datetime
) -> int:
    inserted = 0
    for start in range(0, len(plan.rows), _UNNEST_CHUNK):
        rows = plan.rows[start : start + _UNNEST_CHUNK]
        result = await connection.execute(
            _UNNEST_SQL,
            {
                "shop_id": broadcast.shop_id,
                "broadcast_id": broadcast.id,
                "channel_id": broadcast.channel_id or 0,
                "queued_at": now,
                "customer_ids": [row[0] for row in rows],
                "variants": [row[1] for row in rows],
                "statuses": [row[2] for row in rows],
                "reasons": [row[3] for row in rows],
                "send_ats": [row[4] for row in rows],
            },
        )
        inserted += max(result.rowcount or 0, 0)
    return inserted


# --------------------------------------------------------------------------- send / cancel


async def start_broadcast(
    *, session: AsyncSession, shop_id: int, broadcast_id: int, now: dt.datetime | None = None
) -> Broadcast:
    """Send now (or, when scheduled in the future, mark it scheduled). Raises before anything
    is written when nobody can be reached. The delivery job is the caller's to enqueue."""
    now = now or utcnow()
    broadcast = await get_broadcast(session=session, shop_id=shop_id, broadcast_id=broadcast_id)
    if broadcast.status == CANCELLED:
        raise Conflict(f"broadcast {broadcast.id} was cancelled", code="broadcast_cancelled")
    if broadcast.status in (SENDING, SENT):
        raise Conflict(
            f"broadcast {broadcast.id} is already {broadcast.status}", code="broadcast_already_sent"
        )
    plan = await plan_broadcast(session=session, broadcast=broadcast, now=now)
    check_plan(plan)
    if broadcast.scheduled_at is not None and broadcast.scheduled_at > now:
        broadcast.status = SCHEDULED
        return broadcast
    # Conditional: a concurrent second "send" finds the status moved and inserts nothing.
    moved = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast.id, Broadcast.status.in_((DRAFT, SCHEDULED)))
        .values(status=SENDING, started_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict(
            f"broadcast {broadcast.id} is already sending", code="broadcast_already_sent"
        )
    await session.refresh(broadcast)
    await enqueue_recipients(session=session, broadcast=broadcast, plan=plan, now=now)
    return broadcast


async def cancel_broadcast(
    *, session: AsyncSession, shop_id: int, broadcast_id: int, now: dt.datetime | None = None
) -> Broadcast:
    """Stops what has not been sent: queued recipients become skipped(cancelled)."""
    now = now or utcnow()
    broadcast = await get_broadcast(session=session, shop_id=shop_id, broadcast_id=broadcast_id)
    if broadcast.status in (SENT, CANCELLED):
        raise Conflict(
            f"broadcast {broadcast.id} is already {broadcast.status}", code="broadcast_finished"
        )
    broadcast.status, broadcast.cancelled_at = CANCELLED, now
    await session.execute(
        update(BroadcastRecipient)
        .where(
            BroadcastRecipient.broadcast_id == broadcast.id, BroadcastRecipient.status == R_QUEUED
        )
        .values(status=R_SKIPPED, reason="cancelled")
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return broadcast


async def status_counts(*, session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(BroadcastRecipient.status, func.count())
        .where(BroadcastRecipient.broadcast_id == broadcast_id)
        .group_by(BroadcastRecipient.status)
    )
    return {status: count for status, count in rows}


async def status_counts_of(
    *, session: AsyncSession, broadcast_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """status_counts for many broadcasts in one query (the console's list)."""
    counts: dict[int, dict[str, int]] = {broadcast_id: {} for broadcast_id in broadcast_ids}
    if broadcast_ids:
        rows = await session.execute(
            select(BroadcastRecipient.broadcast_id, BroadcastRecipient.status, func.count())
            .where(BroadcastRecipient.broadcast_id.in_(list(broadcast_ids)))
            .group_by(BroadcastRecipient.broadcast_id, BroadcastRecipient.status)
        )
        for broadcast_id, status, count in rows:
            counts[broadcast_id][status] = count
    return counts


async def list_recipients(
    *,
    session: AsyncSession,
    shop_id: int,
    broadcast_id: int,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[tuple[BroadcastRecipient, str | None]]:
    statement = (
        select(BroadcastRecipient, Customer.display_name)
        .join(Customer, Customer.id == BroadcastRecipient.customer_id)
        .where(
            BroadcastRecipient.shop_id == shop_id, BroadcastRecipient.broadcast_id == broadcast_id
        )
        .order_by(BroadcastRecipient.id)
        .limit(limit)
        .offset(offset)
    )
    if status:
        statement = statement.where(BroadcastRecipient.status == status)
    return [(row[0], row[1]) for row in await session.execute(statement)]


async def due_scheduled(*, session: AsyncSession, now: dt.datetime) -> list[tuple[int, int]]:
    rows = await session.execute(
        select(Broadcast.shop_id, Broadcast.id).where(
            Broadcast.status == SCHEDULED, Broadcast.scheduled_at <= now
        )
    )
    return [(shop_id, broadcast_id) for shop_id, broadcast_id in rows]
