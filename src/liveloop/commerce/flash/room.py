"""Flash sales in the live room: the sale's card message and the coalesced live remaining
(`flash_stock`), plus the after-commit background runner the flash service uses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.flash.models import FlashSale
from liveloop.core.database import after_commit, utcnow
from liveloop.live.outbox import send_now

log = structlog.get_logger(__name__)

STOCK_MESSAGE_INTERVAL = 0.2  # seconds: at most 5 flash_stock messages a second per sale


def flash_sale_message(sale: FlashSale) -> dict[str, Any]:
    """The `flash_sale` room message: the card with its countdown (docs/live-protocol.md)."""
    return {
        "type": "flash_sale",
        "flash_sale": {
            "id": sale.id,
            "product_id": sale.product_id,
            "sku_id": sale.sku_id,
            "title": sale.title,
            "price_fen": sale.price_fen,
            "original_price_fen": sale.original_price_fen,
            "quantity": sale.quantity,
            "remaining": sale.remaining,
            "per_customer_limit": sale.per_customer_limit,
            "state": sale.state_at(utcnow()),
            "starts_at": sale.starts_at.isoformat(),
            "ends_at": sale.ends_at.isoformat(),
        },
    }


class StockTicker:
    """Coalesces flash_stock messages: at most one per sale every STOCK_MESSAGE_INTERVAL,
    carrying the latest figure (a sell-out of 100 units in a second is 5 messages, not 100)."""

    def __init__(self, interval: float = STOCK_MESSAGE_INTERVAL) -> None:
        self.interval = interval
        self._latest: dict[int, tuple[int, int]] = {}  # sale id → (live session, remaining)
        self._last_sent: dict[int, float] = {}
        self._scheduled: set[int] = set()

    def update(self, *, live_session_id: int, flash_sale_id: int, remaining: int) -> None:
        self._latest[flash_sale_id] = (live_session_id, remaining)
        if flash_sale_id in self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        wait = self._last_sent.get(flash_sale_id, 0.0) + self.interval - time.monotonic()
        self._scheduled.add(flash_sale_id)
        loop.call_later(max(wait, 0.0), lambda: loop.create_task(self._send(flash_sale_id)))

    async def _send(self, flash_sale_id: int) -> None:
        self._scheduled.discard(flash_sale_id)
        self._last_sent[flash_sale_id] = time.monotonic()
        live_session_id, remaining = self._latest.pop(flash_sale_id)
        message = {"type": "flash_stock", "flash_sale_id": flash_sale_id, "remaining": remaining}
        try:
            await send_now(live_session_id=live_session_id, message=message)
        except Exception as error:  # a room that cannot be reached must not break buying
            log.warning("flash_stock_publish_failed", error=repr(error))


stock_ticker = StockTicker()


def announce_stock(session: AsyncSession, sale: FlashSale, remaining: int) -> None:
    if sale.live_session_id is None:
        return
    live_session_id = sale.live_session_id
    after_commit(
        session,
        lambda: stock_ticker.update(
            live_session_id=live_session_id, flash_sale_id=sale.id, remaining=remaining
        ),
    )


_background: set[asyncio.Task[Any]] = set()


def _background_done(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # A confirm or give-back that did not reach Redis: the reconciliation job repairs it.
        log.warning("flash_counter_update_failed", error=repr(task.exception()))


def in_background(make: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], None]:
    """An after-commit callback that runs `make()` on the running loop (kept referenced)."""

    def run() -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(make())
            return
        task = loop.create_task(make())
        _background.add(task)
        task.add_done_callback(_background_done)

    return run
