"""Fixtures of payment tests: a shop with a product, a customer, and an order awaiting payment."""

from __future__ import annotations

from typing import Any

import pytest

from liveloop.commerce.payments import accounts
from liveloop.commerce.payments.models import Payment
from liveloop.commerce.payments.providers.demo import DemoProvider
from liveloop.core.jobs import queue
from tests import factories


@pytest.fixture(autouse=True)
def payment_settings(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """The services read the process settings from the job queue (as the app sets them)."""
    monkeypatch.setattr(queue, "settings", settings)
    return settings


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """Jobs enqueued (after a commit) are recorded, not run: a job that commits its own
    session (to end its transaction before calling out) would otherwise run the callbacks
    queued by the test's earlier writes against the test's open transaction. Tests run the
    jobs they care about with `job.run(session=...)`."""
    jobs: list[tuple[str, dict[str, Any]]] = []

    def record(name: str, kwargs: dict[str, Any], **_: Any) -> None:
        jobs.append((name, kwargs))

    monkeypatch.setattr(queue, "enqueue", record)
    return jobs


@pytest.fixture
async def buyer(session, shop):  # type: ignore[no-untyped-def]
    return await factories.make_customer(session, shop_id=shop.id, name="王芳")


@pytest.fixture
async def tea(session, shop):  # type: ignore[no-untyped-def]
    return await factories.make_product(
        session,
        shop_id=shop.id,
        name="明前龙井",
        skus=[
            {"specs": {"规格": "50g"}, "price_fen": 5990, "stock": 10},
            {"specs": {"规格": "礼盒"}, "price_fen": 19900, "stock": 5},
        ],
    )


@pytest.fixture
async def order(session, shop, buyer, tea):  # type: ignore[no-untyped-def]
    small, gift = tea.skus
    return await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(small.id, 3), (gift.id, 1)]
    )


def demo_provider(settings: Any, shop_id: int) -> DemoProvider:
    return DemoProvider(
        secret=settings.resolved_secret_key(), shop_id=shop_id, public_url="http://test"
    )


def demo_notification(
    settings: Any, payment: Payment, *, amount_fen: int | None = None, **options: Any
) -> tuple[dict[str, str], bytes]:
    """What the demo pay page's job would post for this payment."""
    return demo_provider(settings, payment.shop_id).build_notification(
        out_trade_no=payment.number,
        amount_fen=payment.amount_fen if amount_fen is None else amount_fen,
        **options,
    )


__all__ = ["accounts", "demo_notification", "demo_provider"]
