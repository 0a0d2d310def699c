"""The order state machine as a table: which status may follow which (pure, no I/O)."""

from __future__ import annotations

from liveloop.commerce.models import OrderStatus as S
from liveloop.core.errors import Conflict

# A partially refunded order still ships and completes; a full refund ends it.
TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.SHIPPED, S.COMPLETED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.COMPLETED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.SHIPPED, S.COMPLETED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset(),
}

# Statuses in which the goods were paid for (and not all given back).
PAID_STATUSES = frozenset({S.PAID, S.SHIPPED, S.COMPLETED, S.PARTIALLY_REFUNDED})
# No further change is possible.
FINAL_STATUSES = frozenset(status for status, nexts in TRANSITIONS.items() if not nexts)

STATUS_LABELS: dict[S, tuple[str, str]] = {
    S.PENDING_PAYMENT: ("待支付", "Awaiting payment"),
    S.PAID: ("待发货", "Paid, to ship"),
    S.SHIPPED: ("已发货", "Shipped"),
    S.COMPLETED: ("已完成", "Completed"),
    S.CANCELLED: ("已取消", "Cancelled"),
    S.EXPIRED: ("已过期", "Expired"),
    S.PARTIALLY_REFUNDED: ("部分退款", "Partially refunded"),
    S.REFUNDED: ("已退款", "Refunded"),
}


def can_transition(current: S | str, target: S | str) -> bool:
    return S(target) in TRANSITIONS[S(current)]


def check_transition(current: S | str, target: S | str, *, number: str = "") -> None:
    """Raise Conflict(code=invalid_order_state) naming the current state when not allowed."""
    if can_transition(current, target):
        return
    label = f"order {number}" if number else "the order"
    allowed = sorted(TRANSITIONS[S(current)])
    hint = f"; from {current} it can become {', '.join(allowed)}" if allowed else ""
    raise Conflict(
        f"{label} is {current} and cannot become {target}{hint}",
        code="invalid_order_state",
        field="status",
    )
