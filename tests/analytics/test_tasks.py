"""The report follows a session's end by itself: enqueued after the commit, idempotent, and
a sweep makes up for a lost job."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from liveloop.analytics import tasks
from liveloop.analytics.models import LiveReport
from liveloop.core.database import utcnow
from liveloop.core.jobs import queue
from liveloop.live import service as live_service
from liveloop.shops.service import system_actor
from tests.factories.live import make_live_session


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple[str, dict[str, Any], Any]]:  # type: ignore[no-untyped-def]
    jobs: list[tuple[str, dict[str, Any], Any]] = []

    def record(name: str, kwargs: dict[str, Any], *, delay: Any = None, eta: Any = None) -> None:
        jobs.append((name, kwargs, delay))

    monkeypatch.setattr(queue, "enqueue", record)
    return jobs


async def test_ending_a_session_enqueues_its_report_after_the_commit(database, enqueued) -> None:  # type: ignore[no-untyped-def]
    """Committed for real (the job runs once the end is committed): cleaned up after."""
    from tests import factories

    async with database.unit_of_work() as session:
        shop = await factories.make_shop(session, name="报表测试店")
        live = await make_live_session(session, shop_id=shop.id, status="live")
    shop_id = shop.id
    try:
        async with database.unit_of_work() as session:
            await live_service.end_live_session(
                session=session, actor=system_actor(shop_id), live_session_id=live.id
            )
            assert enqueued == []  # not before the commit
        name = f"{tasks.__name__}.generate_live_report"
        assert enqueued == [
            (name, {"shop_id": shop_id, "live_session_id": live.id}, tasks.REPORT_DELAY_S)
        ]
        async with database.unit_of_work() as session:
            assert (
                await tasks.generate_live_report.run(
                    session=session, shop_id=shop_id, live_session_id=live.id
                )
                == 1
            )
        async with database.unit_of_work() as session:  # twice: the same single report
            assert (
                await tasks.generate_live_report.run(
                    session=session, shop_id=shop_id, live_session_id=live.id
                )
                == 2
            )
            rows = (await session.execute(select(LiveReport).where(
                LiveReport.live_session_id == live.id))).scalars().all()  # fmt: skip
            assert len(rows) == 1 and rows[0].body["session"]["final"] is True
    finally:
        from liveloop.shops.models import Shop

        async with database.unit_of_work() as session:
            await session.delete(await session.get(Shop, shop_id))


async def test_the_sweep_reports_ended_sessions_that_have_none(session, shop) -> None:  # type: ignore[no-untyped-def]
    done = await make_live_session(session, shop_id=shop.id, status="ended")
    fresh = await make_live_session(session, shop_id=shop.id, status="ended")
    old = await make_live_session(session, shop_id=shop.id, status="ended")
    now = utcnow()
    done.ended_at = now - dt.timedelta(hours=1)
    fresh.ended_at = now  # its own job is still due
    old.ended_at = now - dt.timedelta(days=30)
    await session.flush()
    await tasks.generate_live_report.run(session=session, shop_id=shop.id, live_session_id=done.id)
    missing = await tasks.sessions_missing_reports(session=session, now=now)
    assert (shop.id, done.id) not in missing
    assert (shop.id, fresh.id) not in missing and (shop.id, old.id) not in missing
    done_too = await make_live_session(session, shop_id=shop.id, status="ended")
    done_too.ended_at = now - dt.timedelta(hours=2)
    await session.flush()
    assert (shop.id, done_too.id) in await tasks.sessions_missing_reports(session=session, now=now)
    assert await tasks.sweep_missing_live_reports.run(session=session) >= 1
    assert (shop.id, done_too.id) not in await tasks.sessions_missing_reports(
        session=session, now=now
    )
