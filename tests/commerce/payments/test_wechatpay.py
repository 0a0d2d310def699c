"""The WeChat Pay v3 adapter against the fake server and the recorded notification samples."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from liveloop.commerce.payments.providers.base import (
    ForgedNotification,
    PaymentRequest,
    ProviderError,
    RefundRequest,
)
from liveloop.commerce.payments.providers.wechatpay import (
    WeChatPayConfig,
    WeChatPayProvider,
    decrypt_resource,
    load_public_key,
)
from tests.commerce.payments.fake_wechatpay import FakeWeChatPay, load_sample

KEYS = load_sample("test_keys.json")


def config(**changes: Any) -> WeChatPayConfig:
    values = {
        "mchid": KEYS["mchid"],
        "appid": KEYS["appid"],
        "serial_no": KEYS["serial_no"],
        "private_key_pem": KEYS["private_key_pem"],
        "api_v3_key": KEYS["api_v3_key"],
        "platform_serial": KEYS["platform_serial"],
        "platform_public_key_pem": KEYS["platform_public_key_pem"],
    }
    values.update(changes)
    return WeChatPayConfig(**values)


def payment(**changes: Any) -> PaymentRequest:
    values: dict[str, Any] = {
        "shop_id": 1,
        "out_trade_no": "P2026112300000001",
        "amount_fen": 19900,
        "description": "茶语小铺-订单 O202611230001",
        "notify_url": "https://shop.example.com/api/v1/payments/wechatpay/notify/1",
        "return_url": "https://shop.example.com/live/abc",
        "client_ip": "203.0.113.7",
        "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    }
    values.update(changes)
    return PaymentRequest(**values)


@pytest.fixture
def fake() -> FakeWeChatPay:
    return FakeWeChatPay()


@pytest.fixture
async def http(fake: FakeWeChatPay):  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.mch.test") as client:
        yield client


async def test_jsapi_prepay_is_signed_and_returns_signed_client_params(
    fake: FakeWeChatPay, http: httpx.AsyncClient
) -> None:
    provider = WeChatPayProvider(config(), http=http, scene="jsapi")
    result = await provider.create_prepay(payment())

    sent = fake.requests[-1]
    assert sent["problem"] is None  # the fake server verified the merchant signature
    assert sent["path"] == "/v3/pay/transactions/jsapi"
    assert sent["body"]["amount"] == {"total": 19900, "currency": "CNY"}
    assert sent["body"]["payer"] == {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    assert sent["body"]["out_trade_no"] == "P2026112300000001"

    assert result.kind == "jsapi"
    params = result.jsapi_params or {}
    prepay_id = load_sample("prepay_jsapi_response.json")["prepay_id"]
    assert params["package"] == f"prepay_id={prepay_id}"
    assert params["appId"] == KEYS["appid"]
    message = (
        f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    )
    merchant_public = load_public_key(KEYS["merchant_public_key_pem"])
    merchant_public.verify(  # raises when paySign is wrong
        base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


async def test_h5_prepay_sends_scene_info_and_appends_the_return_url(
    fake: FakeWeChatPay, http: httpx.AsyncClient
) -> None:
    provider = WeChatPayProvider(config(), http=http, scene="h5")
    result = await provider.create_prepay(payment(openid=None))
    sent = fake.requests[-1]
    assert sent["problem"] is None
    assert sent["body"]["scene_info"] == {
        "payer_client_ip": "203.0.113.7",
        "h5_info": {"type": "Wap"},
    }
    assert result.kind == "redirect"
    assert result.pay_url is not None
    assert result.pay_url.startswith("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?")
    assert "redirect_url=https%3A%2F%2Fshop.example.com%2Flive%2Fabc" in result.pay_url


async def test_a_wrong_merchant_key_is_refused_by_the_server(
    fake: FakeWeChatPay, http: httpx.AsyncClient
) -> None:
    other_key = load_sample("test_keys.json")["platform_private_key_pem"]  # not the merchant's
    provider = WeChatPayProvider(config(private_key_pem=other_key), http=http)
    with pytest.raises(ProviderError) as caught:
        await provider.create_prepay(payment())
    assert caught.value.code == "wechatpay_sign_error"
    assert not caught.value.retryable
    assert "merchant public key" in fake.requests[-1]["problem"]


async def test_jsapi_without_openid_says_what_is_missing(http: httpx.AsyncClient) -> None:
    provider = WeChatPayProvider(config(), http=http, scene="jsapi")
    with pytest.raises(ProviderError) as caught:
        await provider.create_prepay(payment(openid=None))
    assert caught.value.code == "openid_required"


async def test_a_response_not_signed_by_the_platform_is_refused(
    fake: FakeWeChatPay, http: httpx.AsyncClient
) -> None:
    wrong_platform = config(platform_public_key_pem=KEYS["merchant_public_key_pem"])
    provider = WeChatPayProvider(wrong_platform, http=http)
    with pytest.raises(ProviderError) as caught:
        await provider.create_prepay(payment())
    assert caught.value.code == "response_signature_invalid"


async def test_refund_is_idempotent_by_out_refund_no(
    fake: FakeWeChatPay, http: httpx.AsyncClient
) -> None:
    provider = WeChatPayProvider(config(), http=http)
    request = RefundRequest(
        out_trade_no="P2026112300000001",
        transaction_id="4200000985202011201234567890",
        out_refund_no="R2026112300000001",
        refund_fen=5000,
        total_fen=19900,
        reason="尺码不合适",
        notify_url="https://shop.example.com/api/v1/payments/wechatpay/refund-notify/1",
    )
    first = await provider.refund(request)
    fake.refunds["R2026112300000001"]["status"] = "SUCCESS"  # the bank has paid it back since
    second = await provider.refund(request)
    assert first.status == "processing"
    assert second.status == "succeeded"
    assert first.provider_refund_id == second.provider_refund_id
    assert len(fake.refunds) == 1
    body = fake.requests[-1]["body"]
    assert body["amount"] == {"refund": 5000, "total": 19900, "currency": "CNY"}
    assert body["transaction_id"] == "4200000985202011201234567890"


async def test_provider_errors_say_whether_a_retry_may_help(
    fake: FakeWeChatPay, http: httpx.AsyncClient
) -> None:
    provider = WeChatPayProvider(config(), http=http)
    request = RefundRequest("P1", None, "R1", 100, 100, "", "https://x/notify")
    fake.fail_next = (403, "error_not_enough.json")
    with pytest.raises(ProviderError) as refused:
        await provider.refund(request)
    assert refused.value.code == "wechatpay_not_enough"
    assert not refused.value.retryable
    fake.fail_next = (500, "error_sign.json")
    with pytest.raises(ProviderError) as server_error:
        await provider.refund(request)
    assert server_error.value.retryable


async def test_unreachable_provider_is_retryable() -> None:
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9") as client:  # discard port
        provider = WeChatPayProvider(config(), http=client)
        with pytest.raises(ProviderError) as caught:
            await provider.refund(RefundRequest("P1", None, "R1", 1, 1, "", "https://x/n"))
    assert caught.value.code == "provider_unreachable"
    assert caught.value.retryable


# ----------------------------------------------------------------------------- notifications


def sample_now(sample: dict[str, Any], *, plus: dt.timedelta = dt.timedelta()) -> dt.datetime:
    return dt.datetime.fromisoformat(sample["signed_at"]) + plus


def provider_without_http() -> WeChatPayProvider:
    return WeChatPayProvider(config(), http=httpx.AsyncClient())


def test_success_notification_verifies_and_decrypts() -> None:
    sample = load_sample("notification_success.json")
    verified = provider_without_http().parse_notification(
        sample["headers"], sample["body"].encode(), now=sample_now(sample)
    )
    assert verified.out_trade_no == "P2026112000000042"
    assert verified.amount_fen == 19900
    assert verified.status == "SUCCESS"
    assert verified.transaction_id == "4200000985202011201234567890"
    assert verified.paid_at == dt.datetime(2026, 11, 20, 12, 30, 4, tzinfo=dt.UTC)
    assert verified.notification_id == "EV-2018022511223320873"


def test_closed_notification_reports_its_state() -> None:
    sample = load_sample("notification_closed.json")
    verified = provider_without_http().parse_notification(
        sample["headers"], sample["body"].encode(), now=sample_now(sample)
    )
    assert verified.status == "CLOSED"
    assert verified.amount_fen == 5000


def test_a_tampered_body_is_refused() -> None:
    sample = load_sample("notification_success.json")
    body = sample["body"].replace('"summary":"支付成功"', '"summary":"支付成功 "')
    assert body != sample["body"]
    with pytest.raises(ForgedNotification) as caught:
        provider_without_http().parse_notification(
            sample["headers"], body.encode(), now=sample_now(sample)
        )
    assert caught.value.code == "signature_invalid"


def test_a_tampered_ciphertext_with_a_valid_signature_does_not_decrypt() -> None:
    sample = load_sample("notification_success.json")
    resource = json.loads(sample["body"])["resource"]
    raw = bytearray(base64.b64decode(resource["ciphertext"]))
    raw[5] ^= 0x01
    resource["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(ForgedNotification) as caught:
        decrypt_resource(KEYS["api_v3_key"], resource)
    assert caught.value.code == "decrypt_failed"


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("Wechatpay-Nonce", "another-nonce", "signature_invalid"),
        ("Wechatpay-Timestamp", "1763641806", "signature_invalid"),
        ("Wechatpay-Serial", "0000000000", "serial_unknown"),
        ("Wechatpay-Signature", "bm90IGEgc2lnbmF0dXJl", "signature_invalid"),
        ("Wechatpay-Signature", "", "signature_missing"),
    ],
)
def test_tampered_headers_are_refused(header: str, value: str, code: str) -> None:
    sample = load_sample("notification_success.json")
    headers = {**sample["headers"], header: value}
    with pytest.raises(ForgedNotification) as caught:
        provider_without_http().parse_notification(
            headers, sample["body"].encode(), now=sample_now(sample)
        )
    assert caught.value.code == code


@pytest.mark.parametrize("minutes", [6, -6])
def test_a_notification_signed_more_than_five_minutes_away_is_refused(minutes: int) -> None:
    sample = load_sample("notification_success.json")
    with pytest.raises(ForgedNotification) as caught:
        provider_without_http().parse_notification(
            sample["headers"],
            sample["body"].encode(),
            now=sample_now(sample, plus=dt.timedelta(minutes=minutes)),
        )
    assert caught.value.code == "timestamp_out_of_range"


def test_within_five_minutes_is_accepted() -> None:
    sample = load_sample("notification_success.json")
    verified = provider_without_http().parse_notification(
        sample["headers"],
        sample["body"].encode(),
        now=sample_now(sample, plus=dt.timedelta(minutes=4, seconds=59)),
    )
    assert verified.amount_fen == 19900


def test_config_check_names_every_broken_part() -> None:
    broken = config(api_v3_key="short", private_key_pem="nope", platform_public_key_pem="")
    fields = [name for name, _ in broken.check()]
    assert fields == ["api_v3_key", "private_key_pem", "platform_public_key_pem"]
    assert config().check() == []
