"""Saved segments: define, count (cached), preview, list members, freeze, and hand out members.

Dynamic segments are evaluated on demand by one SQL statement compiled from their filter
(``compiler.compile_filter``); each count is cached on the row with its time. Static segments
hold a frozen member list (``segment_members``), taken by one INSERT ... SELECT.

Other domains (outreach, journeys) take a segment's members through
``segment_customer_ids``: a SELECT of customer ids to use as a sub-select.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, delete, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Page, get_scoped, paginate, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.customers.models import Customer
from liveloop.customers.segments.compiler import compile_filter
from liveloop.customers.segments.filters import SegmentFilter, parse_filter, walk
from liveloop.customers.segments.models import (
    KIND_DYNAMIC,
    KIND_STATIC,
    KINDS,
    Segment,
    SegmentMember,
)
from liveloop.customers.segments.schemas import MemberOut, SegmentIn, SegmentUpdate
from liveloop.shops.models import Shop
from liveloop.shops.service import Actor, record_audit

SAMPLE_SIZE = 10


class _Draft:
    """A segment being saved, seen by the loader instead of its stored version."""

    def __init__(self, segment_id: int, kind: str, parsed: SegmentFilter) -> None:
        self.id = segment_id
        self.kind = kind
        self.filter = parsed


async def _shop_timezone(session: AsyncSession, shop_id: int) -> str:
    zone = (await session.execute(select(Shop.timezone).where(Shop.id == shop_id))).scalar()
    return zone or "Asia/Shanghai"


async def _loader(
    session: AsyncSession, shop_id: int, drafts: Mapping[int, Any] | None = None
) -> dict[int, Any]:
    """Every segment of the shop by id (a shop has tens of segments, not thousands)."""
    rows = (await session.execute(scoped(Segment, shop_id))).scalars().all()
    found: dict[int, Any] = {row.id: row for row in rows}
    found.update(drafts or {})
    return found


async def compile_segment_filter(
    *,
    session: AsyncSession,
    shop_id: int,
    data: Any,
    now: dt.datetime | None = None,
    drafts: Mapping[int, Any] | None = None,
    segment_id: int | None = None,
) -> tuple[SegmentFilter, Select[Any]]:
    """Parse a filter (422 naming the node) and compile it with the shop's saved segments.

    ``segment_id``: the saved segment this filter belongs to (a reference to it is a cycle).
    """
    parsed = data if isinstance(data, SegmentFilter) else parse_filter(data)
    segments = await _loader(session, shop_id, drafts)
    statement = compile_filter(
        parsed,
        shop_id=shop_id,
        now=now or utcnow(),
        segment_loader=segments.get,
        timezone=await _shop_timezone(session, shop_id),
        segment_path=() if segment_id is None else (segment_id,),
    )
    return parsed, statement


# ---- reads -------------------------------------------------------------------------------------


async def list_segments(*, session: AsyncSession, shop_id: int) -> list[Segment]:
    statement = scoped(Segment, shop_id).order_by(Segment.name, Segment.id)
    return list((await session.execute(statement)).scalars())


async def get_segment(*, session: AsyncSession, shop_id: int, segment_id: int) -> Segment:
    return await get_scoped(
        session, Segment, shop_id=shop_id, record_id=segment_id, label="segment"
    )


async def segment_customer_ids(
    *, session: AsyncSession, shop_id: int, segment_id: int, now: dt.datetime | None = None
) -> Select[Any]:
    """SELECT customers.id of the segment's current members (active customers only).

    Use it as a sub-select: ``Customer.id.in_(await segment_customer_ids(...))``. A static
    segment gives its frozen list (members since merged or deleted are left out).
    """
    segment = await get_segment(session=session, shop_id=shop_id, segment_id=segment_id)
    if segment.kind == KIND_STATIC:
        return _static_members(shop_id, segment.id)
    _, statement = await compile_segment_filter(
        session=session, shop_id=shop_id, data=segment.filter, now=now, segment_id=segment.id
    )
    return statement


def _static_members(shop_id: int, segment_id: int) -> Select[Any]:
    return scoped(Customer, shop_id, Customer.id).where(
        Customer.status == "active",
        Customer.id.in_(
            select(SegmentMember.customer_id).where(
                SegmentMember.shop_id == shop_id, SegmentMember.segment_id == segment_id
            )
        ),
    )


async def tune_for_segment_statements(session: AsyncSession) -> None:
    """PostgreSQL settings for this transaction's segment statements.

    No JIT: their cost estimates pass jit_above_cost on a large shop, and compiling the plan
    took 4.4 s of a 6.5 s count in bench/segments.py (1M customers, 20M events). More
    work_mem: "at least N times" groups events by customer (380k groups there), which spilled
    to disk at the default 4MB.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))
        await session.execute(text("SET LOCAL work_mem = '64MB'"))


async def _count(session: AsyncSession, ids: Select[Any]) -> int:
    await tune_for_segment_statements(session)
    total = await session.execute(select(func.count()).select_from(ids.subquery()))
    return int(total.scalar_one())


async def count_segment(
    *, session: AsyncSession, shop_id: int, segment_id: int, now: dt.datetime | None = None
) -> Segment:
    """Count the members now and cache the count (cached_count, counted_at) on the segment."""
    segment = await get_segment(session=session, shop_id=shop_id, segment_id=segment_id)
    ids = await segment_customer_ids(
        session=session, shop_id=shop_id, segment_id=segment_id, now=now
    )
    segment.cached_count = await _count(session, ids)
    segment.counted_at = now or utcnow()
    await session.flush()
    return segment


def mask_name(name: str | None) -> str:
    """'张小明' -> '张**'; what a preview shows of a person."""
    if not name:
        return "—"
    return name[0] + "*" * min(max(len(name) - 1, 1), 2)


def member_out(customer: Customer, *, masked: bool) -> MemberOut:
    name = customer.display_name or ""
    return MemberOut(
        id=customer.id,
        name=mask_name(name) if masked else (name or "—"),
        city=customer.city,
        province=customer.province,
        last_active_at=customer.last_active_at,
    )


async def preview_filter(
    *,
    session: AsyncSession,
    shop_id: int,
    data: Any,
    sample_size: int = SAMPLE_SIZE,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Count an unsaved filter and show its first members, masked (the builder's live count)."""
    parsed, ids = await compile_segment_filter(session=session, shop_id=shop_id, data=data, now=now)
    if not sample_size:
        return {"count": await _count(session, ids), "sample": [], "filter": parsed.to_json()}
    # One statement: the sample rows carry the count of the whole set (a window over it).
    await tune_for_segment_statements(session)
    total = func.count().over().label("total")
    statement = (
        scoped(Customer, shop_id, Customer, total)
        .where(Customer.id.in_(ids))
        .order_by(Customer.id.desc())
        .limit(sample_size)
    )
    rows = (await session.execute(statement)).all()
    count = int(rows[0].total) if rows else 0
    sample = [row[0] for row in rows]
    return {
        "count": count,
        "sample": [member_out(c, masked=True) for c in sample],
        "filter": parsed.to_json(),
    }


async def list_members(
    *,
    session: AsyncSession,
    shop_id: int,
    segment_id: int,
    page: int = 1,
    per_page: int = 50,
    now: dt.datetime | None = None,
) -> Page[Any]:
    """One page of the segment's members (newest customers first), with the total."""
    ids = await segment_customer_ids(
        session=session, shop_id=shop_id, segment_id=segment_id, now=now
    )
    statement = scoped(Customer, shop_id).where(Customer.id.in_(ids)).order_by(Customer.id.desc())
    return await paginate(session, statement, page=page, per_page=per_page)


# ---- writes ------------------------------------------------------------------------------------


async def _check_name_free(
    session: AsyncSession, shop_id: int, name: str, segment_id: int | None = None
) -> None:
    statement = scoped(Segment, shop_id, Segment.id).where(Segment.name == name)
    if segment_id is not None:
        statement = statement.where(Segment.id != segment_id)
    if (await session.execute(statement)).first():
        raise Conflict(
            f"a segment named {name} already exists", code="segment_exists", field="name"
        )


async def create_segment(
    *, session: AsyncSession, actor: Actor, data: SegmentIn, now: dt.datetime | None = None
) -> Segment:
    """Save a segment; a static one is frozen at once. The filter is checked (422 paths)."""
    if data.kind not in KINDS:
        raise InvalidInput(f"unknown kind {data.kind}", code="invalid_kind", field="kind")
    name = data.name.strip()
    await _check_name_free(session, actor.shop_id, name)
    parsed, ids = await compile_segment_filter(
        session=session, shop_id=actor.shop_id, data=data.filter, now=now
    )
    segment = Segment(
        shop_id=actor.shop_id,
        name=name,
        description=data.description,
        filter=parsed.to_json(),
        kind=KIND_DYNAMIC,
        created_by=actor.label,
        updated_by=actor.label,
    )
    session.add(segment)
    await session.flush()
    if data.kind == KIND_STATIC:
        await _freeze(session, segment, ids, now or utcnow())
    else:
        segment.cached_count = await _count(session, ids)
        segment.counted_at = now or utcnow()
    await record_audit(
        session=session,
        actor=actor,
        action="segment.create",
        target_type="segment",
        target_id=segment.id,
        details={"name": name, "kind": data.kind},
    )
    await session.flush()
    return segment


async def update_segment(
    *,
    session: AsyncSession,
    actor: Actor,
    segment_id: int,
    data: SegmentUpdate,
    now: dt.datetime | None = None,
) -> Segment:
    segment = await get_segment(session=session, shop_id=actor.shop_id, segment_id=segment_id)
    changed: list[str] = []
    if data.name is not None and data.name.strip() != segment.name:
        await _check_name_free(session, actor.shop_id, data.name.strip(), segment.id)
        segment.name = data.name.strip()
        changed.append("name")
    if data.description is not None:
        segment.description = data.description
        changed.append("description")
    if data.filter is not None:
        parsed = parse_filter(data.filter)
        # Compile with this segment's new filter in place, so a cycle through it is found.
        _, ids = await compile_segment_filter(
            session=session,
            shop_id=actor.shop_id,
            data=parsed,
            now=now,
            drafts={segment.id: _Draft(segment.id, segment.kind, parsed)},
            segment_id=segment.id,
        )
        await _check_referrers(session, actor.shop_id, segment.id, parsed, now)
        segment.filter = parsed.to_json()
        changed.append("filter")
        if segment.kind == KIND_DYNAMIC:
            segment.cached_count = await _count(session, ids)
            segment.counted_at = now or utcnow()
    segment.updated_by = actor.label
    await record_audit(
        session=session,
        actor=actor,
        action="segment.update",
        target_type="segment",
        target_id=segment.id,
        details={"changed": changed},
    )
    await session.flush()
    return segment


async def _check_referrers(
    session: AsyncSession,
    shop_id: int,
    segment_id: int,
    parsed: SegmentFilter,
    now: dt.datetime | None,
) -> None:
    """Segments that use this one must still compile with its new filter (no cycle)."""
    segments = await _loader(session, shop_id)
    draft = _Draft(segment_id, segments[segment_id].kind, parsed)
    for other in segments.values():
        if other.id == segment_id or segment_id not in referenced_ids(other.filter):
            continue
        try:
            await compile_segment_filter(
                session=session,
                shop_id=shop_id,
                data=other.filter,
                now=now,
                drafts={segment_id: draft},
                segment_id=other.id,
            )
        except InvalidInput as error:
            raise InvalidInput(
                f"segment {other.name} uses this one and would then fail: {error.message}",
                code=error.code,
                field="filter",
            ) from None


def referenced_ids(data: Any) -> set[int]:
    """Ids of the segments a filter (JSON or parsed) names directly."""
    try:
        parsed = data if isinstance(data, SegmentFilter) else SegmentFilter.model_validate(data)
    except ValueError:
        return set()
    return {node.segment_id for _, node in walk(parsed) if getattr(node, "kind", "") == "segment"}


async def delete_segment(*, session: AsyncSession, actor: Actor, segment_id: int) -> None:
    segment = await get_segment(session=session, shop_id=actor.shop_id, segment_id=segment_id)
    users = [
        other.name
        for other in await list_segments(session=session, shop_id=actor.shop_id)
        if other.id != segment.id and segment.id in referenced_ids(other.filter)
    ]
    if users:
        raise Conflict(
            f"segment {segment.name} is used by {', '.join(users)}; change those first",
            code="segment_in_use",
            field="id",
        )
    await record_audit(
        session=session,
        actor=actor,
        action="segment.delete",
        target_type="segment",
        target_id=segment.id,
        details={"name": segment.name},
    )
    await session.delete(segment)
    await session.flush()


async def _freeze(
    session: AsyncSession, segment: Segment, ids: Select[Any], now: dt.datetime
) -> None:
    await session.execute(
        delete(SegmentMember).where(
            SegmentMember.shop_id == segment.shop_id, SegmentMember.segment_id == segment.id
        )
    )
    rows = ids.with_only_columns(
        literal(segment.shop_id),
        literal(segment.id),
        Customer.id,
        literal(now, type_=SegmentMember.frozen_at.type),
    )
    await session.execute(
        insert(SegmentMember).from_select(
            ["shop_id", "segment_id", "customer_id", "frozen_at"], rows
        )
    )
    segment.kind = KIND_STATIC
    segment.frozen_at = now
    segment.cached_count = await _count(session, _static_members(segment.shop_id, segment.id))
    segment.counted_at = now


async def freeze_segment(
    *, session: AsyncSession, actor: Actor, segment_id: int, now: dt.datetime | None = None
) -> Segment:
    """Take a snapshot of the filter's members now; the segment becomes static (re-freezable)."""
    segment = await get_segment(session=session, shop_id=actor.shop_id, segment_id=segment_id)
    _, ids = await compile_segment_filter(
        session=session,
        shop_id=actor.shop_id,
        data=segment.filter,
        now=now,
        segment_id=segment.id,
    )
    await _freeze(session, segment, ids, now or utcnow())
    await record_audit(
        session=session,
        actor=actor,
        action="segment.freeze",
        target_type="segment",
        target_id=segment.id,
        details={"count": segment.cached_count},
    )
    await session.flush()
    return segment


async def create_segment_from_ids(
    *,
    session: AsyncSession,
    actor: Actor,
    name: str,
    customer_ids: list[int],
    description: str = "",
    now: dt.datetime | None = None,
) -> Segment:
    """A static segment frozen from a list of customer ids (a report's drop-off list, say).

    Ids of another shop, merged or deleted customers are left out. Its filter matches nobody
    ({"any": []}): the list is the segment, so re-freezing it would empty it."""
    name = name.strip()[:100]
    await _check_name_free(session, actor.shop_id, name)
    now = now or utcnow()
    segment = Segment(
        shop_id=actor.shop_id,
        name=name,
        description=description[:1000],
        filter={"any": []},
        kind=KIND_STATIC,
        created_by=actor.label,
        updated_by=actor.label,
    )
    session.add(segment)
    await session.flush()
    wanted = sorted(set(customer_ids))
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        rows = scoped(
            Customer,
            actor.shop_id,
            literal(actor.shop_id),
            literal(segment.id),
            Customer.id,
            literal(now, type_=SegmentMember.frozen_at.type),
        ).where(Customer.status == "active", Customer.id.in_(chunk))
        await session.execute(
            insert(SegmentMember).from_select(
                ["shop_id", "segment_id", "customer_id", "frozen_at"], rows
            )
        )
    segment.frozen_at = now
    segment.cached_count = await _count(session, _static_members(actor.shop_id, segment.id))
    segment.counted_at = now
    await record_audit(
        session=session,
        actor=actor,
        action="segment.create",
        target_type="segment",
        target_id=segment.id,
        details={"name": name, "kind": KIND_STATIC, "from_ids": len(wanted)},
    )
    await session.flush()
    return segment
