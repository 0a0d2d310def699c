"""Messages into a live room from other domains (commerce, interaction tools, jobs).

Call ``send_after_commit(session, live_session_id=..., message={"type": "product_stock", ...})``
inside a unit of work: the message is published on the bus only once the transaction commits, so
a rolled-back order never shows in the room. ``message["type"]`` is one of the server message
types in docs/live-protocol.md. Control messages (everything but comments) are never dropped by
the room's slow-viewer policy.

The process's room hub installs the publisher at start-up (``install_publisher``); a process
without one (a CLI, a worker) publishes straight to the bus built from settings.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import after_commit

log = structlog.get_logger(__name__)

# publish(live_session_id, message) -> awaitable; bound to the loop that installed it.
Publisher = Callable[[int, dict[str, Any]], Awaitable[None]]

_publisher: Publisher | None = None
_publisher_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()
_pending: set[asyncio.Task[None]] = set()  # strong references until each publish is done


def install_publisher(publisher: Publisher | None) -> None:
    """Set (or, with None, clear) the process's publisher; called by the room hub's start/stop."""
    global _publisher, _publisher_loop
    with _lock:
        _publisher = publisher
        _publisher_loop = asyncio.get_running_loop() if publisher is not None else None


async def send_now(*, live_session_id: int, message: dict[str, Any]) -> None:
    """Publish at once (outside any transaction). Safe from any thread or event loop."""
    publisher, loop = _publisher, _publisher_loop
    if publisher is None or loop is None:
        await _publish_without_hub(live_session_id, message)
        return
    if loop is asyncio.get_running_loop():
        await publisher(live_session_id, message)
        return
    coroutine: Any = publisher(live_session_id, message)
    future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, loop)
    await asyncio.wrap_future(future)


def send_after_commit(
    session: AsyncSession, *, live_session_id: int, message: dict[str, Any]
) -> None:
    """Publish once the session's transaction commits; never for a rollback."""

    def publish() -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(send_now(live_session_id=live_session_id, message=message))
            return
        task = loop.create_task(send_now(live_session_id=live_session_id, message=message))
        _pending.add(task)
        task.add_done_callback(_log_failure)

    after_commit(session, publish)


def _log_failure(task: asyncio.Task[None]) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("room_publish_failed", error=repr(task.exception()))


async def _publish_without_hub(live_session_id: int, message: dict[str, Any]) -> None:
    from liveloop.live import hub  # the wire format belongs to the hub

    await hub.publish_from_outside(live_session_id, message)
