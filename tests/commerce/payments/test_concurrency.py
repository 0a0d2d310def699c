"""Racing notifications and refunds on separate connections, committing for real.

Like tests/catalog/test_concurrency.py, this does not use the rolled-back `session` fixture: it
makes its own shop, commits, races, checks, and deletes the shop at the end.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, func, select

from liveloop.commerce.payments import refunds, service
from liveloop.commerce.payments.models import NotificationStatus, PaymentNotification, Refund
from liveloop.core.errors import InvalidInput
from liveloop.events.models import Event
from liveloop.shops.service import system_actor
from tests import factories
from tests.commerce.payments.conftest import demo_notification
from tests.factories.shops import drop_shop

RACERS = 8


async def test_racing_repeats_apply_once_and_racing_refunds_never_exceed_the_payment(
    database, settings
) -> None:
    async with database.sessionmaker() as session:
        shop = await factories.make_shop(session, name="并发支付店")
        buyer = await factories.make_customer(session, shop_id=shop.id, name="王芳")
        product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=5)
        order = await factories.make_order(
            session, shop_id=shop.id, customer_id=buyer.id, lines=[(product.skus[0].id, 2)]
        )
        payment = await service.create_payment(
            session=session, shop_id=shop.id, order_id=order.id, provider="demo",
            idempotency_key=None, return_url="", client_ip=None,
        )  # fmt: skip
        await session.commit()
    headers, body = demo_notification(settings, payment)
    try:

        async def notify() -> str:
            async with database.unit_of_work() as racer:
                outcome = await service.handle_notification(
                    session=racer, shop_id=shop.id, provider="demo", headers=headers, body=body
                )
                return outcome.status

        statuses = await asyncio.gather(*(notify() for _ in range(RACERS)))
        assert sorted(statuses) == ["applied"] + ["duplicate"] * (RACERS - 1)

        async def refund_everything(number: int) -> int | None:
            try:
                async with database.unit_of_work() as racer:
                    made = await refunds.create_refund(
                        session=racer, shop_id=shop.id, order_id=order.id,
                        amount_fen=order.total_fen // 2 + 1, reason=f"racer {number}",
                        actor=system_actor(shop.id),
                    )  # fmt: skip
                    return made.amount_fen
            except InvalidInput as error:
                assert error.code == "refund_exceeds_paid"
                return None

        won = [r for r in await asyncio.gather(*(refund_everything(n) for n in range(RACERS))) if r]
        assert len(won) == 1  # two halves-plus-one never fit in one payment

        async with database.sessionmaker() as session:
            stored = (
                await session.execute(
                    select(PaymentNotification.status, func.count())
                    .where(PaymentNotification.shop_id == shop.id)
                    .group_by(PaymentNotification.status)
                )
            ).all()
            refunded = (
                await session.execute(
                    select(func.sum(Refund.amount_fen)).where(Refund.shop_id == shop.id)
                )
            ).scalar_one()
            paid = await service.get_payment(
                session=session, shop_id=shop.id, payment_id=payment.id
            )
        assert dict(stored) == {
            NotificationStatus.APPLIED.value: 1,
            NotificationStatus.DUPLICATE.value: RACERS - 1,
        }
        assert refunded == paid.refunded_fen == won[0] <= paid.amount_fen
    finally:
        async with database.sessionmaker() as session:
            # Events carry no foreign key (see events.models): they go by hand, or a later
            # shop given the same id would find them.
            await session.execute(delete(Event).where(Event.shop_id == shop.id))
            await drop_shop(session, shop.id)
            await session.commit()
