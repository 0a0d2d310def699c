"""What polls, questions and quizzes share: the room they run in, who the viewer is, events."""

from __future__ import annotations

from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Base, after_commit, scoped
from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.live.outbox import send_after_commit
from liveloop.live.service import check_may_run, check_open, get_live_session
from liveloop.live.viewers import ViewerClaims
from liveloop.shops.service import Actor

log = structlog.get_logger(__name__)

ModelT = TypeVar("ModelT", bound=Base)

__all__ = [
    "after_commit",
    "check_may_run",
    "check_may_take_part",
    "check_not_banned",
    "check_room_of",
    "get_live_session",
    "lock_shared",
    "record_event",
    "room_for_anchor",
    "send",
    "voter_key",
]


def send(session: AsyncSession, live_session_id: int, message: dict[str, Any]) -> None:
    """A room message once the transaction commits (tests patch this to count messages)."""
    send_after_commit(session, live_session_id=live_session_id, message=message)


async def room_for_anchor(
    session: AsyncSession, actor: Actor, live_session_id: int, doing: str
) -> LiveSession:
    """The live session, on air, run by this actor (404 for another shop's)."""
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_may_run(actor, live_session)
    check_open(live_session, doing)
    if live_session.status != LiveStatus.LIVE.value:
        raise Conflict(
            f"live session {live_session.id} is not on air; start the live first",
            code="live_session_not_live",
            field="live_session_id",
        )
    return live_session


def voter_key(claims: ViewerClaims) -> str:
    """A customer counts once however many devices; a guest once per device."""
    if claims.customer_id is not None:
        return f"c:{claims.customer_id}"
    if not claims.device_id:
        raise InvalidInput(
            "this viewer token has no device; reload the live page", code="no_device", field=None
        )
    return f"d:{claims.device_id[:70]}"


async def lock_shared(
    session: AsyncSession, model: type[ModelT], *, shop_id: int, record_id: int, label: str
) -> ModelT:
    """Read a poll or quiz under a shared row lock (PostgreSQL `FOR SHARE`; SQLite writers are
    serial anyway). Votes and answers hold it until they commit, so the close (an UPDATE, which
    waits for every shared lock) counts each ballot committed before it, and a ballot that
    comes after the close reads it closed: the stored results equal the ballots."""
    statement = (
        scoped(model, shop_id)
        .where(model.id == record_id)  # type: ignore[attr-defined]
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    found = (await session.execute(statement)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"{label} {record_id} was not found", code=f"{label}_not_found", field="id")
    return found


async def check_may_take_part(
    session: AsyncSession, claims: ViewerClaims, live_session_id: int
) -> None:
    """A vote or an answer: the live is still on air (a poll nobody closed takes no votes
    from a replay) and the viewer is not banned."""
    live_session = await get_live_session(
        session=session, shop_id=claims.shop_id, live_session_id=live_session_id
    )
    if live_session.status != LiveStatus.LIVE.value:
        raise Conflict(
            f"live session {live_session.id} has ended; it takes no more votes or answers",
            code="live_session_ended",
            field=None,
        )
    await check_not_banned(session, claims, live_session_id, kinds=("ban",))


async def check_not_banned(
    session: AsyncSession, claims: ViewerClaims, live_session_id: int, *, kinds: tuple[str, ...]
) -> None:
    """A viewer banned (or, for `kinds` with "mute", muted) in the room takes no part."""
    from liveloop.live import moderation

    for kind in kinds:
        restriction = await moderation.find_active_restriction(
            session=session,
            shop_id=claims.shop_id,
            live_session_id=live_session_id,
            customer_id=claims.customer_id,
            device_id=claims.device_id,
            kind=kind,
        )
        if restriction is not None:
            raise PermissionDenied(
                moderation.restriction_text(restriction),
                code="banned" if kind == "ban" else "muted",
                field=None,
            )


def check_room_of(claims: ViewerClaims, live_session_id: int, label: str, record_id: int) -> None:
    """A viewer token of one room does not reach another room's poll or quiz."""
    if claims.live_session_id is not None and claims.live_session_id != live_session_id:
        raise NotFound(f"{label} {record_id} was not found", code=f"{label}_not_found", field="id")


async def record_event(
    session: AsyncSession,
    *,
    shop_id: int,
    kind: str,
    customer_id: int | None,
    live_session_id: int,
    properties: dict[str, Any],
    anonymous_id: str | None = None,
    client_event_id: str | None = None,
) -> None:
    from liveloop.events import service as events_service

    item: dict[str, Any] = {
        "type": kind,
        "live_session_id": live_session_id,
        "properties": properties,
    }
    if client_event_id:
        item["client_event_id"] = client_event_id
    if customer_id is not None:
        item["customer_id"] = customer_id
    elif anonymous_id:
        item["anonymous_id"] = anonymous_id
    result = await events_service.ingest_events(
        session=session, shop_id=shop_id, items=[item], mark_customers_active=False
    )
    if result.errors:  # analytics must never refuse a vote
        log.warning("polls_event_refused", kind=kind, errors=result.errors)
