"""Background jobs on Huey (SQLite file or Redis), written as async functions.

A job is declared once with ``@job()`` and receives a database session of its own (one unit of
work per run) plus the ids it was given::

    @job(retries=3)
    async def expire_order(*, session: AsyncSession, order_id: int) -> None: ...

    expire_order.enqueue(order_id=7)            # from anywhere
    enqueue_after_commit(session, expire_order, order_id=7)   # from inside a request

Jobs are passed ids, never objects, and must be idempotent: running one twice changes nothing
more. Tests call ``await expire_order.run(session=session, order_id=7)`` directly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Database, after_commit
from liveloop.core.settings import Settings

log = structlog.get_logger(__name__)

JobFunction = Callable[..., Awaitable[Any]]


@dataclass
class Job:
    name: str
    function: JobFunction
    retries: int
    retry_delay: int
    periodic: Any | None = None  # a huey.crontab(...) validator for scheduled jobs

    async def run(self, *, session: AsyncSession, **kwargs: Any) -> Any:
        return await self.function(session=session, **kwargs)

    def enqueue(
        self, *, delay: float | None = None, eta: dt.datetime | None = None, **kwargs: Any
    ) -> Any:
        return queue.enqueue(self.name, kwargs, delay=delay, eta=eta)


_registry: dict[str, Job] = {}

# A result reports the final outcome only, not each failed attempt before a retry succeeds.
HUEY_OPTIONS: dict[str, Any] = {"store_intermediate_errors": False, "utc": True}


def job(
    *, retries: int = 3, retry_delay: int = 10, periodic: Any | None = None
) -> Callable[[JobFunction], Job]:
    def register(function: JobFunction) -> Job:
        name = f"{function.__module__}.{function.__name__}"
        declared = Job(
            name=name,
            function=function,
            retries=retries,
            retry_delay=retry_delay,
            periodic=periodic,
        )
        _registry[name] = declared
        return declared

    return register


def enqueue_after_commit(session: AsyncSession, declared: Job, **kwargs: Any) -> None:
    """Enqueue only once the surrounding transaction has committed (never for a rollback)."""
    after_commit(session, lambda: declared.enqueue(**kwargs))


class _EmbeddedConsumer(Consumer):
    """A consumer that runs in threads of the web process and leaves its signals alone."""

    def _set_signal_handlers(self) -> None:
        return None


class JobQueue:
    """The process's Huey instance, built from settings; tasks are bound when it is configured."""

    def __init__(self) -> None:
        self.huey: Huey | None = None
        self.settings: Settings | None = None
        self._tasks: dict[str, Any] = {}
        self._consumer: _EmbeddedConsumer | None = None
        self._thread: threading.Thread | None = None

    def configure(self, settings: Settings) -> Huey:
        self.settings = settings
        backend = settings.queue_backend
        if backend == "redis":
            huey: Huey = RedisHuey("liveloop", url=settings.redis_url, **HUEY_OPTIONS)
        elif backend == "immediate":
            huey = MemoryHuey("liveloop", immediate=True, **HUEY_OPTIONS)
        else:
            settings.var_dir.mkdir(parents=True, exist_ok=True)
            huey = SqliteHuey(
                "liveloop", filename=str(settings.var_dir / "jobs.db"), **HUEY_OPTIONS
            )
        self.huey = huey
        self._tasks = {name: self._bind(huey, declared) for name, declared in _registry.items()}
        return huey

    def _bind(self, huey: Huey, declared: Job) -> Any:
        def run_job(kwargs: dict[str, Any]) -> Any:
            return _run_coroutine(self._run_in_unit_of_work(declared, kwargs))

        run_job.__name__ = declared.name
        if declared.periodic is not None:
            return huey.periodic_task(declared.periodic, name=declared.name)(lambda: run_job({}))
        return huey.task(
            retries=declared.retries, retry_delay=declared.retry_delay, name=declared.name
        )(run_job)

    async def _run_in_unit_of_work(self, declared: Job, kwargs: dict[str, Any]) -> Any:
        assert self.settings is not None
        database = Database(self.settings.resolved_database_url, pool_size=2)
        try:
            async with database.unit_of_work() as session:
                result = await declared.run(session=session, **kwargs)
                log.info("job_done", job=declared.name)
                return result
        finally:
            await database.dispose()

    def enqueue(
        self, name: str, kwargs: dict[str, Any], *, delay: float | None, eta: dt.datetime | None
    ) -> Any:
        if self.huey is None:
            raise RuntimeError("job queue is not configured; call queue.configure(settings) first")
        if name not in self._tasks:  # a job module imported after configure()
            self._tasks[name] = self._bind(self.huey, _registry[name])
        return (
            self._tasks[name].schedule(args=(kwargs,), delay=delay, eta=eta)
            if (delay or eta)
            else self._tasks[name](kwargs)
        )

    def ping(self) -> bool:
        if self.huey is None:
            return False
        try:
            self.huey.pending_count()
            return True
        except Exception:
            return False

    def start_embedded_consumer(self, workers: int = 2) -> None:
        assert self.huey is not None
        if self.huey.immediate:
            return
        self._consumer = _EmbeddedConsumer(
            self.huey, workers=workers, worker_type="thread", periodic=True
        )
        self._consumer.start()

    def stop_embedded_consumer(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None

    def run_worker(self, workers: int) -> None:
        assert self.huey is not None
        Consumer(self.huey, workers=workers, worker_type="thread", periodic=True).run()


def _run_coroutine(coroutine: Awaitable[Any]) -> Any:
    """Run a job's coroutine from a Huey worker thread (or, in immediate mode, beside a loop).

    Called from a thread with a running event loop (an immediate queue inside a web server),
    the job runs on a thread of its own and this returns at once: waiting for it here would
    block the loop, and with it every request whose transaction the job may be waiting for
    (SQLite's write lock) or whose answer it needs (a job that calls this server over HTTP).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)  # type: ignore[arg-type]

    def target() -> None:
        try:
            asyncio.run(coroutine)  # type: ignore[arg-type]
        except BaseException as exc:
            log.error("job_failed", error=repr(exc))

    threading.Thread(target=target, name="liveloop-immediate-job", daemon=True).start()
    return None


queue = JobQueue()
