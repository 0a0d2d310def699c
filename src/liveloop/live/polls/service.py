"""Polls (投票): the anchor opens one in the room, viewers vote once, the room sees the bars.

Decisions: a customer votes once per poll (whatever device); a guest votes once per device. A
vote cannot be changed (a second one is 409 already_voted). The results card goes to the room
through a throttle (at most one a second per poll, see throttle.py) with counts counted from
the votes; the close (by the anchor, or at ends_at by a job or by the next read) is idempotent
and freezes the counts into `results`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.core.jobs import enqueue_after_commit
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.live.polls import common
from liveloop.live.polls.models import Poll, PollChoice, PollStatus, PollVote
from liveloop.live.polls.schemas import PollIn
from liveloop.live.polls.throttle import CardThrottle
from liveloop.live.viewers import ViewerClaims
from liveloop.shops.service import Actor, record_audit, system_actor

SHOW_RESULTS_S = 60  # a closed poll's results stay on the viewers' screens this long
THROTTLE = CardThrottle(interval_s=1.0)


async def get_poll(*, session: AsyncSession, shop_id: int, poll_id: int) -> Poll:
    return await get_scoped(session, Poll, shop_id=shop_id, record_id=poll_id, label="poll")


async def list_polls(*, session: AsyncSession, shop_id: int, live_session_id: int) -> list[Poll]:
    rows = await session.execute(
        scoped(Poll, shop_id)
        .where(Poll.live_session_id == live_session_id)
        .order_by(Poll.id.desc())
        .limit(200)
    )
    return list(rows.scalars())


async def count_votes(session: AsyncSession, poll: Poll) -> tuple[list[int], int]:
    """Per option counts and the number of voters, counted from the votes."""
    counts = [0] * len(poll.options)
    rows = await session.execute(
        select(PollChoice.option_index, func.count())
        .where(PollChoice.poll_id == poll.id, PollChoice.shop_id == poll.shop_id)
        .group_by(PollChoice.option_index)
    )
    for index, count in rows.all():
        if 0 <= index < len(counts):
            counts[index] = int(count)
    voters = await session.scalar(
        select(func.count()).select_from(PollVote).where(PollVote.poll_id == poll.id)
    )
    return counts, int(voters or 0)


def poll_card(poll: Poll, counts: list[int], voters: int) -> dict[str, Any]:
    closed = poll.status == PollStatus.CLOSED.value
    show_until = None
    if closed and poll.closed_at is not None:
        show_until = (poll.closed_at + dt.timedelta(seconds=SHOW_RESULTS_S)).isoformat()
    return {
        "id": poll.id,
        "state": poll.status,
        "question": poll.question,
        "options": list(poll.options),
        "multiple": poll.multiple,
        "max_choices": poll.max_choices,
        "counts": counts,
        "voters": voters,
        "opened_at": poll.opened_at.isoformat(),
        "ends_at": poll.ends_at.isoformat() if poll.ends_at else None,
        "closed_at": poll.closed_at.isoformat() if poll.closed_at else None,
        "show_until": show_until,
    }


async def card_of(session: AsyncSession, poll: Poll) -> dict[str, Any]:
    if poll.status == PollStatus.CLOSED.value and poll.results:
        return poll_card(poll, list(poll.results["counts"]), int(poll.results["voters"]))
    counts, voters = await count_votes(session, poll)
    return poll_card(poll, counts, voters)


async def current_room_card(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, Any] | None:
    """The room's newest poll: open, or closed less than SHOW_RESULTS_S ago."""
    poll = await session.scalar(
        scoped(Poll, shop_id)
        .where(Poll.live_session_id == live_session_id)
        .order_by(Poll.id.desc())
    )
    if poll is None:
        return None
    poll = await close_if_due(session=session, poll=poll)
    card = await card_of(session, poll)
    if card["show_until"] and dt.datetime.fromisoformat(card["show_until"]) <= utcnow():
        return None
    return card


async def open_poll(
    *, session: AsyncSession, actor: Actor, live_session_id: int, data: PollIn
) -> Poll:
    live_session = await common.room_for_anchor(session, actor, live_session_id, "open a poll")
    await _refuse_open(session, actor.shop_id, live_session.id)
    now = utcnow()
    ends_at = now + dt.timedelta(seconds=data.duration_seconds) if data.duration_seconds else None
    poll = Poll(
        shop_id=actor.shop_id,
        live_session_id=live_session.id,
        question=data.question.strip(),
        options=list(data.options),
        multiple=data.multiple,
        max_choices=data.max_choices if data.multiple else 1,
        status=PollStatus.OPEN.value,
        opened_at=now,
        ends_at=ends_at,
        open_room_key=live_session.id,
        created_by=actor.staff_id,
    )
    try:
        async with session.begin_nested():
            session.add(poll)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "another poll was opened in this room at the same moment; close it first",
            code="poll_open",
            field="live_session_id",
        ) from None
    await record_audit(
        session=session,
        actor=actor,
        action="live.poll_open",
        target_type="poll",
        target_id=poll.id,
        details={
            "live_session_id": live_session.id,
            "question": poll.question,
            "options": poll.options,
            "multiple": poll.multiple,
            "max_choices": poll.max_choices,
            "ends_at": ends_at.isoformat() if ends_at else None,
        },
    )
    common.send(
        session,
        live_session.id,
        {"type": "poll", "card": poll_card(poll, [0] * len(poll.options), 0)},
    )
    if ends_at is not None:
        from liveloop.live.polls import tasks

        enqueue_after_commit(
            session, tasks.close_poll_when_due, eta=ends_at, shop_id=poll.shop_id, poll_id=poll.id
        )
    return poll


async def _refuse_open(session: AsyncSession, shop_id: int, live_session_id: int) -> None:
    """A readable refusal while the room's poll is open (the unique key refuses a race)."""
    running = await session.scalar(
        scoped(Poll, shop_id).where(
            Poll.live_session_id == live_session_id, Poll.status == PollStatus.OPEN.value
        )
    )
    if running is None:
        return
    running = await close_if_due(session=session, poll=running)
    if running.status == PollStatus.OPEN.value:
        raise Conflict(
            f"poll {running.id} ({running.question}) is still open in this room; close it first",
            code="poll_open",
            field="live_session_id",
        )


async def _close(
    session: AsyncSession,
    poll: Poll,
    actor: Actor,
    *,
    reason: str,
    at: dt.datetime | None = None,
) -> Poll:
    """Close once: the conditional UPDATE lets one caller through; the others see it closed.
    `at` is when it stopped taking votes (the live's end), if earlier than now."""
    closed_at = min(t for t in (utcnow(), poll.ends_at, at) if t is not None)
    result = await session.execute(
        update(Poll)
        .where(Poll.id == poll.id, Poll.status == PollStatus.OPEN.value)
        .values(status=PollStatus.CLOSED.value, closed_at=closed_at, open_room_key=None)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(poll)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return poll
    counts, voters = await count_votes(session, poll)
    poll.results = {"counts": counts, "voters": voters}
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="live.poll_close",
        target_type="poll",
        target_id=poll.id,
        details={"reason": reason, "counts": counts, "voters": voters},
    )
    common.after_commit(session, lambda: THROTTLE.forget(poll.id))
    common.send(
        session, poll.live_session_id, {"type": "poll", "card": poll_card(poll, counts, voters)}
    )
    return poll


async def close_poll(*, session: AsyncSession, actor: Actor, poll_id: int) -> Poll:
    """The anchor closes the poll; closing a closed poll again changes nothing (200)."""
    poll = await get_poll(session=session, shop_id=actor.shop_id, poll_id=poll_id)
    live_session = await common.get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=poll.live_session_id
    )
    common.check_may_run(actor, live_session)
    return await _close(session, poll, actor, reason="anchor")


async def close_if_due(
    *, session: AsyncSession, poll: Poll, now: dt.datetime | None = None
) -> Poll:
    now = now or utcnow()
    if poll.status == PollStatus.OPEN.value and poll.ends_at is not None and now >= poll.ends_at:
        return await _close(
            session, poll, system_actor(poll.shop_id, label="poll timer"), reason="time"
        )
    return poll


async def polls_open_after_live(*, session: AsyncSession) -> list[Poll]:
    """Polls still open in lives that ended or were cancelled (for the sweep): they take no
    votes any more (check_may_take_part), but their results are frozen only by a close."""
    statement = (
        select(Poll)
        .join(LiveSession, LiveSession.id == Poll.live_session_id)
        .where(
            Poll.status == PollStatus.OPEN.value,
            LiveSession.status.in_((LiveStatus.ENDED.value, LiveStatus.CANCELLED.value)),
        )
        .order_by(Poll.id)
    )
    return list((await session.execute(statement)).scalars())


async def close_after_live(*, session: AsyncSession, poll: Poll) -> Poll:
    """Close a poll its live left open, as of the live's end. Idempotent."""
    live_session = await session.get(LiveSession, poll.live_session_id)
    ended_at = live_session.ended_at if live_session is not None else None
    return await _close(
        session,
        poll,
        system_actor(poll.shop_id, label="live ended"),
        reason="live_ended",
        at=ended_at,
    )


async def vote(
    *, session: AsyncSession, claims: ViewerClaims, poll_id: int, options: list[int]
) -> tuple[Poll, dict[str, Any]]:
    poll = await common.lock_shared(
        session, Poll, shop_id=claims.shop_id, record_id=poll_id, label="poll"
    )
    common.check_room_of(claims, poll.live_session_id, "poll", poll_id)
    # Past its end the poll is closed whatever its row says (the job or the next read writes
    # it: not here, under the shared lock, and not in a transaction this refusal rolls back).
    if not poll.is_open_at(utcnow()):
        raise Conflict(
            f"poll {poll.id} is closed; it takes no more votes", code="poll_closed", field="poll_id"
        )
    await common.check_may_take_part(session, claims, poll.live_session_id)
    choices = sorted(set(options))
    if len(choices) != len(options):
        raise InvalidInput("an option is chosen twice", code="invalid", field="options")
    if any(i < 0 or i >= len(poll.options) for i in choices):
        raise InvalidInput(
            f"options are numbered 0 to {len(poll.options) - 1}", code="invalid", field="options"
        )
    if not poll.multiple and len(choices) != 1:
        raise InvalidInput("this poll takes exactly one option", code="invalid", field="options")
    if len(choices) > poll.max_choices:
        raise InvalidInput(
            f"choose at most {poll.max_choices} options", code="too_many_choices", field="options"
        )
    key = common.voter_key(claims)
    ballot = PollVote(
        shop_id=poll.shop_id,
        poll_id=poll.id,
        voter_key=key,
        customer_id=claims.customer_id,
        name=claims.name[:64],
        choices=choices,
    )
    try:
        async with session.begin_nested():
            session.add(ballot)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "you have already voted in this poll; a vote cannot be changed",
            code="already_voted",
            field="poll_id",
        ) from None
    session.add_all(
        PollChoice(shop_id=poll.shop_id, vote_id=ballot.id, poll_id=poll.id, option_index=i)
        for i in choices
    )
    await session.flush()
    await common.record_event(
        session,
        shop_id=poll.shop_id,
        kind="poll_vote",
        customer_id=claims.customer_id,
        anonymous_id=None if claims.customer_id else key,
        live_session_id=poll.live_session_id,
        properties={"poll_id": poll.id, "options": choices},
    )
    counts, voters = await count_votes(session, poll)
    card = poll_card(poll, counts, voters)
    message = {"type": "poll", "card": card}
    live_session_id = poll.live_session_id
    common.after_commit(session, lambda: THROTTLE.offer(poll_id, live_session_id, message))
    return poll, card


async def voters_of(*, session: AsyncSession, shop_id: int, poll_id: int) -> list[PollVote]:
    await get_poll(session=session, shop_id=shop_id, poll_id=poll_id)
    rows = await session.execute(
        scoped(PollVote, shop_id).where(PollVote.poll_id == poll_id).order_by(PollVote.id)
    )
    return list(rows.scalars())


async def my_vote(session: AsyncSession, poll: Poll, claims: ViewerClaims) -> list[int] | None:
    ballot = await session.scalar(
        select(PollVote).where(
            PollVote.poll_id == poll.id, PollVote.voter_key == common.voter_key(claims)
        )
    )
    return list(ballot.choices) if ballot else None
