"""Helpers shared by the group buy, assist and affiliate tests: pay an order for real."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import orders as orders_service


async def pay(session: AsyncSession, order: Any) -> Any:
    """Pay through the demo provider's signed notification, as the hosted pay page does."""
    from liveloop.commerce.payments import accounts
    from liveloop.commerce.payments import service as payments_service

    payment = await payments_service.create_payment(
        session=session,
        shop_id=order.shop_id,
        order_id=order.id,
        provider="demo",
        idempotency_key=None,
        return_url="/",
        client_ip=None,
    )
    async with accounts.provider_for(
        session=session, shop_id=order.shop_id, provider="demo"
    ) as provider:
        headers, body = provider.build_notification(  # type: ignore[attr-defined]
            out_trade_no=payment.number, amount_fen=payment.amount_fen
        )
    await payments_service.handle_notification(
        session=session, shop_id=order.shop_id, provider="demo", headers=headers, body=body
    )
    return await orders_service.get_order(session=session, shop_id=order.shop_id, order_id=order.id)
