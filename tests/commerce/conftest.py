"""Fixtures of commerce tests: a buyer, a product with two SKUs, viewer clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from tests import factories


@pytest.fixture
async def buyer(session, shop):  # type: ignore[no-untyped-def]
    return await factories.make_customer(session, shop_id=shop.id, name="张伟")


@pytest.fixture
async def tea(session, shop):  # type: ignore[no-untyped-def]
    return await factories.make_product(
        session,
        shop_id=shop.id,
        name="明前龙井",
        skus=[
            {"specs": {"规格": "50g"}, "price_fen": 5990, "stock": 10},
            {"specs": {"规格": "礼盒"}, "price_fen": 19900, "stock": 2},
        ],
    )


def viewer_token(settings: Any, shop_id: int, customer_id: int | None, **claims: Any) -> str:
    return sign_viewer_token(
        settings,
        ViewerClaims(
            shop_id=shop_id,
            live_session_id=claims.pop("live_session_id", None),
            customer_id=customer_id,
            device_id=claims.pop("device_id", "device-1"),
            name=claims.pop("name", "观众"),
            **claims,
        ),
    )


@pytest.fixture
async def viewer(app, settings, shop, buyer) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """An HTTP client carrying the buyer's viewer token (a mall token: no live session)."""
    token = viewer_token(settings, shop.id, buyer.id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


@pytest.fixture
async def guest(app, settings, shop) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    token = viewer_token(settings, shop.id, None, device_id="guest-device")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


async def texted_code(
    client: httpx.AsyncClient, phone: str, headers: dict[str, str] | None = None
) -> str:
    """Ask for a phone code as the client's device; the demo SMS provider hands it back."""
    response = await client.post(
        "/api/v1/public/phone-codes", json={"phone": phone}, headers=headers
    )
    assert response.status_code == 201, response.text
    code = response.json()["demo_code"]
    assert isinstance(code, str) and len(code) == 6
    return code


ADDRESS = {
    "recipient_name": "李娜",
    "phone": "+86 139-0000-1111",
    "region": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "detail": "文三路 100 号",
}
