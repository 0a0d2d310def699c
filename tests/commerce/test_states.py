"""The order state machine table."""

from __future__ import annotations

import pytest

from liveloop.commerce.models import OrderStatus as S
from liveloop.commerce.states import (
    FINAL_STATUSES,
    PAID_STATUSES,
    TRANSITIONS,
    can_transition,
    check_transition,
)
from liveloop.core.errors import Conflict


def test_every_status_has_a_row_and_labels() -> None:
    assert set(TRANSITIONS) == set(S)
    assert {S.CANCELLED, S.EXPIRED, S.REFUNDED} == FINAL_STATUSES
    assert S.PENDING_PAYMENT not in PAID_STATUSES


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PENDING_PAYMENT, S.PAID),
        (S.PENDING_PAYMENT, S.CANCELLED),
        (S.PENDING_PAYMENT, S.EXPIRED),
        (S.PAID, S.SHIPPED),
        (S.SHIPPED, S.COMPLETED),
        (S.PAID, S.REFUNDED),
        (S.SHIPPED, S.PARTIALLY_REFUNDED),
        (S.COMPLETED, S.REFUNDED),
        (S.PARTIALLY_REFUNDED, S.SHIPPED),
        (S.PARTIALLY_REFUNDED, S.REFUNDED),
    ],
)
def test_allowed_transitions(current: S, target: S) -> None:
    assert can_transition(current, target)
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PENDING_PAYMENT, S.SHIPPED),
        (S.PENDING_PAYMENT, S.REFUNDED),
        (S.PAID, S.CANCELLED),
        (S.PAID, S.PENDING_PAYMENT),
        (S.EXPIRED, S.PAID),
        (S.CANCELLED, S.PAID),
        (S.REFUNDED, S.SHIPPED),
        (S.COMPLETED, S.SHIPPED),
        (S.SHIPPED, S.PAID),
    ],
)
def test_refused_transitions_name_the_current_state(current: S, target: S) -> None:
    assert not can_transition(current, target)
    with pytest.raises(Conflict) as caught:
        check_transition(current, target, number="20261123000001")
    assert caught.value.code == "invalid_order_state"
    assert f"is {current}" in caught.value.message
    assert "20261123000001" in caught.value.message
