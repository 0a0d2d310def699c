"""WeChat Pay through the payments service: the shop's account, JSAPI prepay at the fake
server, a signed and encrypted notification applied, refunds until the provider confirms."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from liveloop.commerce.payments import accounts, refunds, service, tasks
from liveloop.commerce.payments.models import PaymentStatus, RefundStatus
from liveloop.core.errors import Conflict
from tests.commerce.payments.fake_wechatpay import FakeWeChatPay, load_sample


@pytest.fixture
def fake(monkeypatch) -> FakeWeChatPay:  # type: ignore[no-untyped-def]
    server = FakeWeChatPay()
    monkeypatch.setattr(accounts, "http_transport", httpx.ASGITransport(app=server.app))
    return server


@pytest.fixture
async def account(session, shop, fake):  # type: ignore[no-untyped-def]
    keys = load_sample("test_keys.json")
    return await accounts.set_wechatpay_account(
        session=session,
        shop_id=shop.id,
        data=accounts.WeChatPayAccountIn(
            mchid=keys["mchid"],
            appid=keys["appid"],
            serial_no=keys["serial_no"],
            platform_serial=keys["platform_serial"],
            private_key_pem=keys["private_key_pem"],
            api_v3_key=keys["api_v3_key"],
            platform_public_key_pem=keys["platform_public_key_pem"],
            api_base="https://api.mch.test",
        ),
    )


async def wechat_payment(session, shop, order):  # type: ignore[no-untyped-def]
    return await service.create_payment(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        provider="wechatpay_jsapi",
        idempotency_key=None,
        return_url="/live/abc",
        client_ip="203.0.113.5",
        openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    )


async def test_keys_are_stored_encrypted(session, shop, account) -> None:
    keys = load_sample("test_keys.json")
    assert keys["api_v3_key"].encode() not in bytes(account.secrets)
    assert b"PRIVATE KEY" not in bytes(account.secrets)
    config = accounts.wechatpay_config(account)
    assert config.api_v3_key == keys["api_v3_key"]


async def test_wechat_jsapi_payment_notified_and_refunded(
    session, shop, order, account, fake, settings, actor
) -> None:
    payment = await wechat_payment(session, shop, order)
    sent = fake.requests[-1]
    assert sent["problem"] is None
    assert sent["body"]["out_trade_no"] == payment.number
    assert sent["body"]["amount"]["total"] == order.total_fen
    assert sent["body"]["notify_url"] == (
        f"{settings.public_base_url}/api/v1/payments/wechatpay/notify/{shop.id}"
    )
    assert payment.prepay["kind"] == "jsapi"
    assert payment.prepay["jsapi_params"]["signType"] == "RSA"

    headers, body = fake.notification(out_trade_no=payment.number, total=order.total_fen)
    forged_headers = {**headers, "Wechatpay-Nonce": "changed"}
    forged = await service.handle_notification(
        session=session, shop_id=shop.id, provider="wechatpay", headers=forged_headers, body=body
    )
    assert forged.http_status == 401
    applied = await service.handle_notification(
        session=session, shop_id=shop.id, provider="wechatpay", headers=headers, body=body
    )
    assert applied.status == "applied"
    await session.refresh(order)
    await session.refresh(payment)
    assert order.status == "paid"
    assert payment.transaction_id.startswith("42000")

    refund = await refunds.create_refund(
        session=session, shop_id=shop.id, order_id=order.id, amount_fen=1990, reason="差价",
        actor=actor,
    )  # fmt: skip
    assert await tasks.submit_refund.run(session=session, shop_id=shop.id, refund_id=refund.id) == (
        "processing"
    )
    sent = fake.requests[-1]["body"]
    assert sent["out_refund_no"] == refund.number
    assert sent["transaction_id"] == payment.transaction_id
    assert sent["amount"] == {"refund": 1990, "total": order.total_fen, "currency": "CNY"}

    fake.refunds[refund.number]["status"] = "SUCCESS"  # the bank has paid it back
    assert await tasks.submit_refund.run(session=session, shop_id=shop.id, refund_id=refund.id) == (
        "succeeded"
    )
    assert len(fake.refunds) == 1  # asked twice, one refund at WeChat
    await session.refresh(refund)
    assert refund.provider_refund_id == fake.refunds[refund.number]["refund_id"]


async def test_a_refused_refund_fails_and_can_be_retried_by_hand(
    session, shop, order, account, fake, actor
) -> None:
    payment = await wechat_payment(session, shop, order)
    headers, body = fake.notification(out_trade_no=payment.number, total=order.total_fen)
    await service.handle_notification(
        session=session, shop_id=shop.id, provider="wechatpay", headers=headers, body=body
    )
    refund = await refunds.create_refund(
        session=session, shop_id=shop.id, order_id=order.id, reason="", actor=actor
    )
    fake.fail_next = (403, "error_not_enough.json")
    assert await tasks.submit_refund.run(session=session, shop_id=shop.id, refund_id=refund.id) == (
        "failed"
    )
    await session.refresh(refund)
    assert "NOT_ENOUGH" in refund.last_error
    retried = await refunds.retry_refund(
        session=session, shop_id=shop.id, refund_id=refund.id, actor=actor
    )
    assert retried.status == RefundStatus.PENDING
    with pytest.raises(Conflict):
        await refunds.retry_refund(
            session=session, shop_id=shop.id, refund_id=refund.id, actor=actor
        )
    fake.refund_status = "SUCCESS"
    assert await tasks.submit_refund.run(session=session, shop_id=shop.id, refund_id=refund.id) == (
        "succeeded"
    )


async def test_a_server_error_keeps_the_refund_pending_for_the_sweeper(
    session, shop, order, account, fake, actor
) -> None:
    payment = await wechat_payment(session, shop, order)
    headers, body = fake.notification(out_trade_no=payment.number, total=order.total_fen)
    await service.handle_notification(
        session=session, shop_id=shop.id, provider="wechatpay", headers=headers, body=body
    )
    refund = await refunds.create_refund(
        session=session, shop_id=shop.id, order_id=order.id, amount_fen=100, reason="",
        actor=actor,
    )  # fmt: skip
    fake.fail_next = (500, "error_sign.json")
    status = await tasks.submit_refund.run(session=session, shop_id=shop.id, refund_id=refund.id)
    assert status == "pending"
    await session.refresh(payment)
    assert payment.status == PaymentStatus.SUCCEEDED


async def test_h5_prepay_sends_the_payer_back_to_a_full_url(
    session, shop, order, account, fake, settings
) -> None:
    payment = await service.create_payment(
        session=session, shop_id=shop.id, order_id=order.id, provider="wechatpay_h5",
        idempotency_key=None, return_url="/live/abc", client_ip="203.0.113.5",
    )  # fmt: skip
    assert fake.requests[-1]["body"]["scene_info"]["payer_client_ip"] == "203.0.113.5"
    expected = quote(f"{settings.public_base_url}/live/abc", safe="")
    assert payment.prepay["pay_url"].endswith(f"redirect_url={expected}")
    assert payment.return_url == "/live/abc"


async def test_demo_payments_stop_once_wechat_pay_is_enabled(session, shop, order, account) -> None:
    from liveloop.core.errors import InvalidInput

    async def pay_demo():  # type: ignore[no-untyped-def]
        return await service.create_payment(
            session=session, shop_id=shop.id, order_id=order.id, provider="demo",
            idempotency_key=None, return_url="", client_ip=None,
        )  # fmt: skip

    with pytest.raises(InvalidInput) as caught:
        await pay_demo()
    assert caught.value.code == "provider_disabled"
    await accounts.set_demo_allowed(session=session, shop_id=shop.id, allowed=True)
    assert (await pay_demo()).provider == "demo"
