"""Fixtures of the consent tests: a webhook receiver (httpx.MockTransport), customers with
consent, a reserved session."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.outreach.consent import service as consent_service
from tests import factories


async def make_consent_records(session: AsyncSession, *, shop_id: int) -> dict[str, int]:
    """A do-not-contact block in this shop (for the shop isolation test)."""
    customer = await factories.make_customer(session, shop_id=shop_id, name="隔壁顾客")
    block = await consent_service.block_contact(
        session=session, shop_id=shop_id, customer_id=customer.id, channel_key="*",
        reason="manual",
    )  # fmt: skip
    return {"contact_block_id": block.id}


@dataclass
class Receiver:
    """A webhook receiver: every POST it got; statuses per address to answer with."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    headers: list[httpx.Headers] = field(default_factory=list)
    answer: dict[str, int] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.posts.append(body)
        self.headers.append(request.headers)
        return httpx.Response(self.answer.get(body["address"], 200), json={"ok": True})

    def keys(self) -> list[str]:
        return [post["key"] for post in self.posts]


@pytest.fixture
async def receiver() -> Any:
    box = Receiver()
    async with httpx.AsyncClient(transport=httpx.MockTransport(box.handle)) as client:
        box.client = client  # type: ignore[attr-defined]
        yield box


@pytest.fixture
async def console(anon_client: httpx.AsyncClient, owner) -> Any:  # type: ignore[no-untyped-def]
    """A browser-like client logged in as the shop owner; `console.csrf` holds the token."""
    from tests.web.conftest import log_in

    anon_client.csrf = await log_in(anon_client, owner.email)  # type: ignore[attr-defined]
    yield anon_client
