"""Entry conditions of the room's interaction tools (lottery, red packets): who may take part.

A condition is checked against what the room recorded — comment events, the viewer's
live_viewers row, reservations, share links, community stays — never against what the client
says. Comments and visits reach the database through the room's write-behind buffer (about a
second behind); a lottery draws a few seconds after its entry window closes for that reason.

Only customers take part (a prize or an amount needs someone to go to); a guest viewer is
asked for a phone number first. One customer is one entrant however many devices they use.

    none         every customer in the room (an entered visit in this session)
    comment      commented in this session since the tool started
    keyword      a comment containing the keyword (口令) since the tool started
    like         liked in this session
    share        made a share link of this session
    reserved     reserved (预约) this session
    community    is a member of the community now
    watch_time   watched this session at least `min_watch_seconds` (closed visits, plus the
                 open one counted from its entry)
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Integer, Select, and_, case, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from liveloop.core.database import utcnow
from liveloop.core.errors import InvalidInput
from liveloop.events.models import Event
from liveloop.live.models import LiveReservation, LiveShare, LiveViewer

ConditionKind = Literal[
    "none", "comment", "keyword", "like", "share", "reserved", "community", "watch_time"
]
CONDITION_KINDS: tuple[str, ...] = ConditionKind.__args__  # type: ignore[attr-defined]
MAX_KEYWORD_CHARS = 20
MAX_WATCH_SECONDS = 6 * 3600

COMMENT_EVENT = "live_comment"
ENTER_EVENT = "live_enter"
LEAVE_EVENT = "live_leave"


class EntryCondition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ConditionKind = "none"
    keyword: str | None = Field(default=None, max_length=MAX_KEYWORD_CHARS)
    community_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    min_watch_seconds: int | None = Field(default=None, ge=1, le=MAX_WATCH_SECONDS)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> EntryCondition:
        if self.keyword is not None:
            self.keyword = self.keyword.strip() or None
        if self.kind == "keyword" and not self.keyword:
            raise ValueError("a keyword lottery needs the keyword (口令) viewers must comment")
        if self.kind == "community" and self.community_id is None:
            raise ValueError("a community condition needs community_id")
        if self.kind == "watch_time" and self.min_watch_seconds is None:
            raise ValueError("a watch-time condition needs min_watch_seconds")
        # Keep only the field of the kind, so a stored condition says exactly what was checked.
        if self.kind != "keyword":
            self.keyword = None
        if self.kind != "community":
            self.community_id = None
        if self.kind != "watch_time":
            self.min_watch_seconds = None
        return self

    def describe(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


async def check_condition(
    *, session: AsyncSession, shop_id: int, condition: EntryCondition
) -> None:
    """Refuse a condition naming what this shop does not have."""
    if condition.kind == "community":
        from liveloop.customers.communities import service as communities

        try:
            await communities.get_community(
                session=session, shop_id=shop_id, community_id=int(condition.community_id or 0)
            )
        except Exception:
            raise InvalidInput(
                f"community {condition.community_id} was not found in this shop",
                code="community_not_found",
                field="condition.community_id",
            ) from None


def eligible_customers(
    *,
    shop_id: int,
    live_session_id: int,
    condition: EntryCondition,
    since: dt.datetime,
    until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Select[Any]:
    """One statement selecting the distinct customer ids that meet the condition.

    `since`/`until` bound the comments that count (the tool's window); the other kinds look
    at the whole session. Every entrant has entered the room in this session (a visit)."""
    now = now or utcnow()
    visited = select(LiveViewer.customer_id).where(
        LiveViewer.shop_id == shop_id,
        LiveViewer.live_session_id == live_session_id,
        LiveViewer.customer_id.is_not(None),
    )
    kind = condition.kind
    if kind in ("comment", "keyword"):
        window = [
            Event.shop_id == shop_id,
            Event.type == COMMENT_EVENT,
            Event.live_session_id == live_session_id,
            Event.customer_id.is_not(None),
            Event.occurred_at >= since,
        ]
        if until is not None:
            window.append(Event.occurred_at <= until)
        if kind == "keyword":
            window.append(Event.properties["text"].as_string().contains(condition.keyword or ""))
        # A comment the word filter blocked does not count (it was never shown).
        window.append(
            func.coalesce(Event.properties["blocked"].as_boolean(), literal(False)).is_(False)
        )
        return select(Event.customer_id).where(*window).distinct()
    if kind == "like":
        return visited.where(LiveViewer.likes > 0).distinct()
    if kind == "share":
        return (
            select(LiveShare.sharer_customer_id)
            .where(
                LiveShare.shop_id == shop_id,
                LiveShare.live_session_id == live_session_id,
                LiveShare.sharer_customer_id.is_not(None),
                LiveShare.sharer_customer_id.in_(visited),
            )
            .distinct()
        )
    if kind == "reserved":
        return (
            select(LiveReservation.customer_id)
            .where(
                LiveReservation.shop_id == shop_id,
                LiveReservation.live_session_id == live_session_id,
                LiveReservation.customer_id.in_(visited),
            )
            .distinct()
        )
    if kind == "community":
        from liveloop.customers.communities.models import CommunityMember

        member = exists().where(
            CommunityMember.shop_id == shop_id,
            CommunityMember.community_id == condition.community_id,
            CommunityMember.customer_id == LiveViewer.customer_id,
            CommunityMember.left_at.is_(None),
        )
        return visited.where(member).distinct()
    if kind == "watch_time":
        return _watched_at_least(
            shop_id, live_session_id, int(condition.min_watch_seconds or 0), now
        )
    return visited.distinct()


def _watched_at_least(
    shop_id: int, live_session_id: int, seconds: int, now: dt.datetime
) -> Select[Any]:
    """Closed visits (their `live_leave` watch_seconds) plus an open one (more entries than
    leaves: counted from the latest entry until now)."""
    visits = (
        select(
            Event.customer_id.label("customer_id"),
            func.sum(
                case(
                    (
                        Event.type == LEAVE_EVENT,
                        func.coalesce(Event.properties["watch_seconds"].as_integer(), 0),
                    ),
                    else_=0,
                )
            ).label("closed"),
            func.sum(case((Event.type == ENTER_EVENT, 1), else_=0)).label("entries"),
            func.sum(case((Event.type == LEAVE_EVENT, 1), else_=0)).label("leaves"),
            func.max(case((Event.type == ENTER_EVENT, Event.occurred_at), else_=None)).label(
                "last_entry"
            ),
        )
        .where(
            Event.shop_id == shop_id,
            Event.live_session_id == live_session_id,
            Event.customer_id.is_not(None),
            Event.type.in_((ENTER_EVENT, LEAVE_EVENT)),
        )
        .group_by(Event.customer_id)
        .subquery()
    )
    closed = visits.c.closed
    open_long_enough = and_(
        visits.c.entries > visits.c.leaves,
        visits.c.last_entry.is_not(None),
        # last entry + (seconds still missing) <= now, in epoch seconds on either dialect
        epoch_seconds(visits.c.last_entry) + (literal(seconds) - closed) <= int(now.timestamp()),
    )
    return select(visits.c.customer_id).where((closed >= seconds) | open_long_enough)


class epoch_seconds(FunctionElement[int]):
    """Whole epoch seconds of a UTC timestamp column (SQLite stores naive UTC text)."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(epoch_seconds)
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


async def meets_condition(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    customer_id: int,
    condition: EntryCondition,
    since: dt.datetime,
    until: dt.datetime | None = None,
) -> bool:
    """Whether one customer meets the condition now (the same statement, for one customer)."""
    statement = eligible_customers(
        shop_id=shop_id, live_session_id=live_session_id, condition=condition, since=since,
        until=until,
    ).subquery()  # fmt: skip
    column = next(iter(statement.c))
    found = await session.execute(select(literal(1)).where(column == customer_id).limit(1))
    return found.first() is not None
