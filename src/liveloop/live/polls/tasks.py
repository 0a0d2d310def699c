"""Background jobs of polls and quizzes: close each when its time is up (idempotent; a read
of the card after the end closes it too, should a job be lost)."""

from __future__ import annotations

import structlog
from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.jobs import job

log = structlog.get_logger(__name__)


@job(retries=3, retry_delay=5)
async def close_poll_when_due(*, session: AsyncSession, shop_id: int, poll_id: int) -> str:
    """A closed poll (or one not yet due) is left as it is."""
    from liveloop.live.polls import service

    poll = await service.get_poll(session=session, shop_id=shop_id, poll_id=poll_id)
    poll = await service.close_if_due(session=session, poll=poll)
    return poll.status


@job(retries=5, retry_delay=5)
async def close_quiz_when_due(*, session: AsyncSession, shop_id: int, quiz_id: int) -> str:
    """Closes the quiz, shows the answer and the winners, grants rewards once."""
    from liveloop.live.polls import quiz

    found = await quiz.get_quiz(session=session, shop_id=shop_id, quiz_id=quiz_id)
    found = await quiz.close_if_due(session=session, quiz=found)
    return found.status


@job(periodic=crontab(minute="*"))
async def close_polls_after_live(*, session: AsyncSession) -> int:
    """Every minute: a poll left open (closing by hand) when its live ended is closed as of
    the live's end, its results frozen. Idempotent."""
    from liveloop.live.polls import service

    polls = await service.polls_open_after_live(session=session)
    for poll in polls:
        try:
            async with session.begin_nested():
                await service.close_after_live(session=session, poll=poll)
        except Exception:
            log.exception("poll_close_after_live_failed", poll_id=poll.id)
    return len(polls)
