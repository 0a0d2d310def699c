"""Paying an order through the service: prepay, notifications applied once, replays, forgeries,
amount mismatches, money for an order that can no longer be paid."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from liveloop.commerce import orders as orders_service
from liveloop.commerce.models import OrderHistory
from liveloop.commerce.payments import service, tasks
from liveloop.commerce.payments.models import (
    PaymentNotification,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict, InvalidInput
from tests.commerce.payments.conftest import demo_notification, demo_provider


async def pay(session, shop, order, **options):  # type: ignore[no-untyped-def]
    values = {
        "provider": "demo",
        "idempotency_key": None,
        "return_url": "/live/abc",
        "client_ip": "203.0.113.9",
    }
    values.update(options)
    return await service.create_payment(
        session=session, shop_id=shop.id, order_id=order.id, **values
    )


async def history_count(session, order) -> int:  # type: ignore[no-untyped-def]
    statement = select(func.count()).where(OrderHistory.order_id == order.id)
    return (await session.execute(statement)).scalar_one()


async def test_demo_prepay_points_at_the_hosted_pay_page(session, shop, order, settings) -> None:
    payment = await pay(session, shop, order)
    assert payment.status == PaymentStatus.PENDING
    assert payment.amount_fen == order.total_fen == 3 * 5990 + 19900
    assert payment.prepay["kind"] == "redirect"
    assert payment.prepay["pay_url"].startswith(f"{settings.public_base_url}/pay/demo/")
    assert len(payment.number) <= 32


async def test_a_repeated_key_or_a_double_click_gives_the_same_payment(
    session, shop, order
) -> None:
    first = await pay(session, shop, order, idempotency_key="k-1")
    again = await pay(session, shop, order, idempotency_key="k-1")
    clicked = await pay(session, shop, order)  # no key: the open payment is reused
    assert again.id == first.id == clicked.id
    with pytest.raises(Conflict) as caught:
        await pay(session, shop, order, idempotency_key="k-1", provider="wechatpay_h5")
    assert caught.value.code == "idempotency_mismatch"


async def test_a_foreign_return_url_is_refused(session, shop, order) -> None:
    with pytest.raises(InvalidInput) as caught:
        await pay(session, shop, order, return_url="https://evil.example.com/x")
    assert caught.value.code == "return_url_foreign"


async def test_a_cancelled_order_cannot_be_paid(session, shop, order) -> None:
    await orders_service.cancel_order(
        session=session, shop_id=shop.id, order_id=order.id, reason="不要了", actor="test"
    )
    with pytest.raises(Conflict) as caught:
        await pay(session, shop, order)
    assert caught.value.code == "order_not_payable"
    assert order.number in caught.value.message


async def test_a_wechat_payment_without_an_account_says_how_to_set_it_up(
    session, shop, order
) -> None:
    with pytest.raises(Exception) as caught:
        await pay(session, shop, order, provider="wechatpay_h5")
    assert getattr(caught.value, "code", "") == "provider_not_configured"


async def test_notification_marks_the_order_paid_once(session, shop, order, settings) -> None:
    payment = await pay(session, shop, order)
    headers, body = demo_notification(settings, payment)

    outcome = await service.handle_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
    )
    assert (outcome.status, outcome.http_status) == ("applied", 200)
    assert outcome.body()["code"] == "SUCCESS"
    await session.refresh(order)
    await session.refresh(payment)
    assert order.status == "paid"
    assert order.paid_fen == payment.amount_fen
    assert order.payment_ref == payment.number
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.transaction_id.startswith("DEMO")
    changes = await history_count(session, order)

    replay = await service.handle_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
    )
    assert (replay.status, replay.http_status) == ("duplicate", 200)
    await session.refresh(order)
    assert order.paid_fen == payment.amount_fen
    assert await history_count(session, order) == changes
    stored = (
        await session.execute(
            select(PaymentNotification.status).where(PaymentNotification.payment_id == payment.id)
        )
    ).scalars()
    assert sorted(stored) == ["applied", "duplicate"]


async def test_a_forged_notification_is_refused_kept_and_changes_nothing(
    session, shop, other_shop, order, settings
) -> None:
    payment = await pay(session, shop, order)
    headers, body = demo_notification(settings, payment)
    tampered = body.replace(b'"trade_state":"SUCCESS"', b'"trade_state":"SUCCESS" ')
    outcome = await service.handle_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=tampered
    )
    assert (outcome.http_status, outcome.code) == (401, "signature_invalid")

    # Signed with another shop's key: the per-shop key does not verify it here.
    _, other_body = demo_notification(settings, payment)
    foreign = demo_provider(settings, other_shop.id).build_notification(
        out_trade_no=payment.number, amount_fen=payment.amount_fen
    )
    crossed = await service.handle_notification(
        session=session, shop_id=shop.id, provider="demo", headers=foreign[0], body=foreign[1]
    )
    assert crossed.http_status == 401

    unsigned = await service.handle_notification(
        session=session, shop_id=shop.id, provider="demo", headers={}, body=other_body
    )
    assert unsigned.http_status == 401

    notes = (
        (
            await session.execute(
                select(PaymentNotification)
                .where(PaymentNotification.shop_id == shop.id)
                .order_by(PaymentNotification.id)
            )
        )
        .scalars()
        .all()
    )
    assert [note.status for note in notes] == ["rejected"] * 3
    assert bytes(notes[0].body) == tampered  # kept byte for byte
    assert "signature" in notes[0].error_message
    await session.refresh(order)
    await session.refresh(payment)
    assert order.status == "pending_payment"
    assert payment.status == PaymentStatus.PENDING


async def test_an_old_notification_is_refused(session, shop, order, settings) -> None:
    payment = await pay(session, shop, order)
    headers, body = demo_notification(settings, payment, now=utcnow() - dt.timedelta(minutes=6))
    outcome = await service.handle_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
    )
    assert outcome.http_status == 401
    assert "timestamp_out_of_range" in outcome.message


async def test_an_amount_mismatch_is_refused_and_logged(session, shop, order, settings) -> None:
    payment = await pay(session, shop, order)
    headers, body = demo_notification(settings, payment, amount_fen=1)
    outcome = await service.handle_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
    )
    assert (outcome.http_status, outcome.code) == (400, "amount_mismatch")
    assert "¥378.70" in outcome.message and "¥0.01" in outcome.message
    await session.refresh(order)
    assert order.status == "pending_payment"


async def test_an_unknown_trade_is_refused(session, shop, order, settings) -> None:
    await pay(session, shop, order)
    headers, body = demo_provider(settings, shop.id).build_notification(
        out_trade_no="P-not-ours", amount_fen=order.total_fen
    )
    outcome = await service.handle_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
    )
    assert (outcome.http_status, outcome.code) == (404, "payment_not_found")


async def test_money_for_a_cancelled_order_goes_back(session, shop, order, settings) -> None:
    payment = await pay(session, shop, order)
    await orders_service.cancel_order(
        session=session, shop_id=shop.id, order_id=order.id, reason="超时", actor="test"
    )
    await session.refresh(payment)
    assert payment.status == PaymentStatus.CLOSED  # the order_released hook closed it
    headers, body = demo_notification(settings, payment)
    outcome = await service.handle_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
    )
    assert outcome.http_status == 200  # the provider must stop retrying: we took the money
    await session.refresh(payment)
    await session.refresh(order)
    assert order.status == "cancelled"
    assert payment.status == PaymentStatus.TO_REFUND
    refund = (
        await session.execute(select(Refund).where(Refund.payment_id == payment.id))
    ).scalar_one()
    assert (refund.amount_fen, refund.status, refund.requested_by) == (
        payment.amount_fen,
        RefundStatus.PENDING,
        "system",
    )

    assert await tasks.submit_refund.run(session=session, shop_id=shop.id, refund_id=refund.id) == (
        "succeeded"
    )
    await session.refresh(payment)
    assert payment.status == PaymentStatus.REFUNDED
    # the job again: nothing due, nothing changes
    assert await tasks.submit_refund.run(session=session, shop_id=shop.id, refund_id=refund.id) == (
        "nothing_due"
    )
    await session.refresh(refund)
    assert refund.attempts == 1


async def test_a_stored_notification_left_unapplied_is_picked_up(
    session, shop, order, settings
) -> None:
    payment = await pay(session, shop, order)
    headers, body = demo_notification(settings, payment)
    note = await service.store_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
    )
    # (the process died here, before applying it)
    note.received_at = utcnow() - dt.timedelta(minutes=1)
    await session.flush()
    due = await service.unprocessed_notifications(
        session=session, older_than=dt.timedelta(seconds=30)
    )
    assert (shop.id, note.id) in due
    assert await tasks.reprocess_notifications.run(session=session) >= 1
    await session.refresh(order)
    await session.refresh(note)
    assert order.status == "paid"
    assert note.status == "applied"
    assert (shop.id, note.id) not in await service.unprocessed_notifications(
        session=session, older_than=dt.timedelta(seconds=30)
    )


async def test_a_notification_that_keeps_failing_does_not_block_the_others(
    session, shop, order, settings, monkeypatch
) -> None:
    payment = await pay(session, shop, order)
    headers, body = demo_notification(settings, payment)
    poison = await service.store_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
    )
    good = await service.store_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
    )
    poison.received_at = good.received_at = utcnow() - dt.timedelta(minutes=1)
    await session.flush()
    real_provider_for = service.accounts.provider_for

    def crash_on_poison(*, session, shop_id, provider):  # type: ignore[no-untyped-def]
        if crashing:
            raise RuntimeError("a bug while applying")
        return real_provider_for(session=session, shop_id=shop_id, provider=provider)

    crashing = True
    monkeypatch.setattr(service.accounts, "provider_for", crash_on_poison)
    # Both crash: each failure is counted (not rolled back with the attempt) and the job goes on.
    assert await tasks.reprocess_notifications.run(session=session) == 2
    await session.refresh(poison)
    assert poison.attempts == 1 and poison.status == "received"
    poison.attempts = service.MAX_NOTIFICATION_ATTEMPTS - 1
    await session.flush()
    assert await tasks.reprocess_notifications.run(session=session) == 2
    await session.refresh(poison)
    assert poison.attempts == service.MAX_NOTIFICATION_ATTEMPTS
    due = await service.unprocessed_notifications(
        session=session, older_than=dt.timedelta(seconds=30)
    )
    assert (shop.id, poison.id) not in due  # left for a person
    crashing = False
    assert await tasks.reprocess_notifications.run(session=session) == 1  # only the good one
    await session.refresh(good)
    await session.refresh(order)
    assert good.status == "applied" and order.status == "paid"
