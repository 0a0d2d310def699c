"""Background jobs of analytics: the post-live report when a session ends, and a sweep that
makes up for a lost job."""

from __future__ import annotations

import datetime as dt

import structlog
from huey import crontab
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics import service
from liveloop.analytics.models import LiveReport
from liveloop.core.database import after_commit, utcnow
from liveloop.core.jobs import job
from liveloop.live.models import LiveSession, LiveStatus

log = structlog.get_logger(__name__)

# The room writes its last events (every viewer's live_leave as the room closes) through a
# buffer flushed about every second; the report waits well past that.
REPORT_DELAY_S = 30
SWEEP_LOOKBACK = dt.timedelta(days=3)


@job(retries=3, retry_delay=30)
async def generate_live_report(*, session: AsyncSession, shop_id: int, live_session_id: int) -> int:
    """Idempotent: a second run rebuilds the same report from the same rows."""
    report = await service.generate_live_report(
        session=session, shop_id=shop_id, live_session_id=live_session_id
    )
    return report.generations


def report_when_ended(session: AsyncSession, *, shop_id: int, live_session_id: int) -> None:
    """Called by the live service as a session ends: the report follows the commit."""
    after_commit(
        session,
        lambda: generate_live_report.enqueue(
            delay=REPORT_DELAY_S, shop_id=shop_id, live_session_id=live_session_id
        ),
    )


async def sessions_missing_reports(
    *, session: AsyncSession, now: dt.datetime | None = None
) -> list[tuple[int, int]]:
    """(shop_id, session id) of sessions ended in the last days, past the delay, unreported."""
    now = now or utcnow()
    reported = select(LiveReport.id).where(LiveReport.live_session_id == LiveSession.id).exists()
    statement = (
        select(LiveSession.shop_id, LiveSession.id)
        .where(
            LiveSession.status == LiveStatus.ENDED.value,
            LiveSession.ended_at >= now - SWEEP_LOOKBACK,
            LiveSession.ended_at <= now - dt.timedelta(seconds=REPORT_DELAY_S * 2),
            ~reported,
        )
        .order_by(LiveSession.id)
        .limit(50)
    )
    return [(int(shop), int(sid)) for shop, sid in await session.execute(statement)]


@job(periodic=crontab(minute="*/10"))
async def sweep_missing_live_reports(*, session: AsyncSession) -> int:
    due = await sessions_missing_reports(session=session)
    for shop_id, live_session_id in due:
        try:
            async with session.begin_nested():
                await service.generate_live_report(
                    session=session, shop_id=shop_id, live_session_id=live_session_id
                )
        except Exception:
            log.exception("live_report_failed", live_session_id=live_session_id)
    return len(due)
