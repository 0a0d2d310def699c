"""Factories of commerce core: addresses and orders, built through the services."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import addresses as addresses_service
from liveloop.commerce import orders as orders_service
from liveloop.commerce.addresses import AddressData
from liveloop.commerce.checkout import LineRequest
from liveloop.commerce.models import Address, Order

__all__ = ["make_address", "make_order"]


async def make_address(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_id: int,
    recipient_name: str = "张伟",
    phone: str = "13812345678",
    detail: str = "文三路 100 号 3 幢 501",
    is_default: bool = False,
) -> Address:
    from tests.factories.customers import _actor

    _actor(shop_id, None)  # makes sure a PII cipher is configured
    return await addresses_service.create_address(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        data=AddressData(
            recipient_name=recipient_name,
            phone=phone,
            region="浙江省",
            city="杭州市",
            district="西湖区",
            detail=detail,
            is_default=is_default,
        ),
    )


async def make_order(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_id: int,
    lines: list[tuple[int, int]],
    address_id: int | None = None,
    **options: Any,
) -> Order:
    """A pending-payment order of (sku id, quantity) lines; an address is made if none given."""
    if address_id is None:
        address = await make_address(session, shop_id=shop_id, customer_id=customer_id)
        address_id = address.id
    return await orders_service.place_order(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        lines=[LineRequest(sku_id=sku_id, quantity=quantity) for sku_id, quantity in lines],
        address_id=address_id,
        **options,
    )
