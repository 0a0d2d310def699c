"""Order lifecycle hooks: other commerce domains react to an order inside its transaction.

    from liveloop.commerce import hooks

    @hooks.on("order_released")
    async def give_coupon_back(*, session, order, **extra): ...

`await hooks.emit("order_paid", session=session, order=order)` runs every handler in
registration order, in the caller's transaction (a handler that raises rolls the whole
operation back). Events:

- order_placed    the order exists (pending payment)
- order_paid      payment recorded (mark_order_paid)
- order_released  expired or cancelled before payment: give stock, coupon, flash quota back
- order_refunded  extra: refund (emitted by commerce.payments)
- order_completed the buyer received the goods (or the merchant completed it)

Handlers live in modules that might not be imported in the process that emits (a worker
expiring orders), so `emit` first imports every module of HOOK_MODULES that exists.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

EVENTS = frozenset(
    {"order_placed", "order_paid", "order_released", "order_refunded", "order_completed"}
)

# Modules that register handlers; a module not written yet is skipped (find_spec is None).
HOOK_MODULES = (
    "liveloop.commerce.coupons.service",
    "liveloop.commerce.flash.service",
    "liveloop.commerce.payments.service",
    "liveloop.commerce.groupbuy.service",
    "liveloop.commerce.assist.service",
    "liveloop.commerce.affiliates.service",
    "liveloop.customers.rfm.tasks",
    "liveloop.customers.points.earning",
    "liveloop.customers.fission.service",
)

Handler = Callable[..., Awaitable[Any]]

_handlers: dict[str, list[Handler]] = {event: [] for event in EVENTS}
_modules_loaded = False


def on(event: str) -> Callable[[Handler], Handler]:
    """Register `handler(*, session, order, **extra)` for `event` (once per function)."""
    if event not in EVENTS:
        raise ValueError(f"unknown order event {event!r}; one of {sorted(EVENTS)}")

    def register(handler: Handler) -> Handler:
        if handler not in _handlers[event]:
            _handlers[event].append(handler)
        return handler

    return register


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def load_hook_modules() -> None:
    global _modules_loaded
    if _modules_loaded:
        return
    for name in HOOK_MODULES:
        if _module_exists(name):
            importlib.import_module(name)
    _modules_loaded = True


def handlers(event: str) -> list[Handler]:
    load_hook_modules()
    return list(_handlers[event])


async def emit(event: str, *, session: AsyncSession, order: Any, **extra: Any) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown order event {event!r}")
    for handler in handlers(event):
        await handler(session=session, order=order, **extra)
