"""Jobs run through a real Huey consumer on SQLite and on Redis."""

import asyncio
import datetime
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from liveloop.core.jobs import JobQueue, _registry, job
from liveloop.core.settings import Settings
from liveloop.shops.models import Shop


@job(retries=0)
async def count_shops(*, session, marker: str) -> int:  # type: ignore[no-untyped-def]
    return int((await session.execute(select(func.count()).select_from(Shop))).scalar_one())


def _run_through_consumer(settings: Settings) -> int:
    queue = JobQueue()
    queue.configure(settings)
    queue.start_embedded_consumer(workers=1)
    try:
        result = queue.enqueue(count_shops.name, {"marker": "x"}, delay=None, eta=None)
        return int(result.get(blocking=True, timeout=20))
    finally:
        queue.stop_embedded_consumer()


async def test_sqlite_queue_runs_job_in_its_own_unit_of_work(
    tmp_path: Path, database_url: str, database
) -> None:
    settings = Settings(
        var_dir=tmp_path, database_url=database_url, queue_backend="sqlite", secret_key="k" * 40
    )
    assert await asyncio.to_thread(_run_through_consumer, settings) >= 0
    assert (tmp_path / "jobs.db").exists()


async def test_redis_queue_runs_job(
    tmp_path: Path, database_url: str, redis_url: str, database
) -> None:
    settings = Settings(
        var_dir=tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        queue_backend="redis",
        secret_key="k" * 40,
    )
    assert await asyncio.to_thread(_run_through_consumer, settings) >= 0


def test_delayed_job_is_scheduled_not_run_at_once(tmp_path: Path, database_url: str) -> None:
    settings = Settings(
        var_dir=tmp_path, database_url=database_url, queue_backend="sqlite", secret_key="k" * 40
    )
    queue = JobQueue()
    huey = queue.configure(settings)
    queue.enqueue(count_shops.name, {"marker": "later"}, delay=3600, eta=None)
    (pending,) = huey.pending()
    assert pending.eta is not None
    assert (
        pending.eta - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    ).total_seconds() > 3500


async def test_job_can_be_called_directly_with_a_session(session, shop) -> None:
    assert await count_shops.run(session=session, marker="direct") >= 1


def test_job_names_are_module_qualified() -> None:
    assert count_shops.name == "tests.core.test_jobs.count_shops"
    assert _registry[count_shops.name] is count_shops


async def test_failing_job_is_retried(tmp_path: Path, database_url: str, database) -> None:
    attempts: list[float] = []

    @job(retries=2, retry_delay=0)
    async def flaky(*, session, marker: str) -> str:  # type: ignore[no-untyped-def]
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise RuntimeError("transient")
        return marker

    settings = Settings(
        var_dir=tmp_path, database_url=database_url, queue_backend="sqlite", secret_key="k" * 40
    )
    queue = JobQueue()
    queue.configure(settings)
    queue.start_embedded_consumer(workers=1)
    try:
        result = queue.enqueue(flaky.name, {"marker": "ok"}, delay=None, eta=None)
        assert await asyncio.to_thread(result.get, blocking=True, timeout=20) == "ok"
    finally:
        await asyncio.to_thread(queue.stop_embedded_consumer)
    assert len(attempts) == 3


@pytest.mark.parametrize("backend", ["immediate"])
async def test_immediate_queue_runs_inline(
    tmp_path: Path, database_url: str, backend: str, database
) -> None:
    settings = Settings(
        var_dir=tmp_path, database_url=database_url, queue_backend=backend, secret_key="k" * 40
    )
    queue = JobQueue()
    queue.configure(settings)
    result = await asyncio.to_thread(
        queue.enqueue, count_shops.name, {"marker": "now"}, delay=None, eta=None
    )
    assert result() >= 0
