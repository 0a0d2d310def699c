"""Fixtures of the broadcast tests: consenting customers, a webhook channel, a recording sender."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.outreach.contracts import (
    ChannelKind,
    DeliveryResult,
    DeliveryStatus,
    OutgoingMessage,
)
from tests import factories


class Crash(BaseException):  # not caught by deliver(): the process is gone
    """Stands for the worker process dying in the middle of a batch."""


@dataclass
class RecordingSender:
    """A channel that keeps every message it is given; deduplicates on the key like a provider."""

    kind: ChannelKind = ChannelKind.WEBHOOK
    rate_per_second: float = 0
    crash_after: int | None = None
    fail_addresses: set[str] = field(default_factory=set)
    messages: list[OutgoingMessage] = field(default_factory=list)

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        if self.crash_after is not None and len(self.messages) >= self.crash_after:
            raise Crash("worker died")
        self.messages.append(message)
        if message.address in self.fail_addresses:
            return DeliveryResult(status=DeliveryStatus.FAILED, reason="receiver said 410 Gone")
        return DeliveryResult(status=DeliveryStatus.DELIVERED, provider_message_id=message.key)

    async def aclose(self) -> None:
        return None

    def keys(self) -> list[str]:
        return [m.key for m in self.messages]


async def make_customers(
    session: AsyncSession, shop_id: int, count: int, *, consent: bool = True, tags: Any = ()
) -> list[Any]:
    made = []
    for index in range(count):
        customer = await factories.make_customer(
            session, shop_id=shop_id, name=f"顾客{index}", tags=tags
        )
        customer.consent = {"webhook": consent, "email": consent}
        made.append(customer)
    await session.flush()
    return made


async def make_webhook_channel(session: AsyncSession, shop_id: int) -> Any:
    from liveloop.outreach.channels.models import ShopChannel

    channel = ShopChannel(
        shop_id=shop_id,
        kind="webhook",
        name="测试回调",
        config={"url": "http://127.0.0.1:9/hook"},
        rate_per_second=0,
        enabled=True,
    )
    session.add(channel)
    await session.flush()
    return channel


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def later() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
