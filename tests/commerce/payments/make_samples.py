"""Writes the WeChat Pay v3 samples under samples/: test keys, signed notifications.

Run once from the repository root (`.venv/bin/python -m tests.commerce.payments.make_samples`);
the files are committed so the tests check fixed bytes. The keys are generated here for tests
only; they have never been near a real merchant account. Shapes follow the public API
documentation (支付成功回调通知, 退款申请, JSAPI/H5 下单).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from liveloop.commerce.payments.providers.wechatpay import encrypt_resource

SAMPLES = Path(__file__).parent / "samples"
SIGNED_AT = dt.datetime(2026, 11, 20, 12, 30, 5, tzinfo=dt.UTC)


def _pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _pem_public(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def make_keys() -> dict[str, str]:
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "mchid": "1900009191",
        "appid": "wxd678efh567hg6787",
        "serial_no": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "private_key_pem": _pem_private(merchant),
        "merchant_public_key_pem": _pem_public(merchant.public_key()),
        "api_v3_key": "LiveLoopTestApiV3Key0123456789ab",  # 32 bytes
        "platform_serial": "3F1A9C0E0C9B4B3E8F2D6A7B5C4D3E2F1A0B9C8D",
        "platform_private_key_pem": _pem_private(platform),
        "platform_public_key_pem": _pem_public(platform.public_key()),
    }


def signed_notification(
    keys: dict[str, str], resource_plain: dict[str, object], event_type: str, nonce: str
) -> dict[str, object]:
    envelope = {
        "id": "EV-2018022511223320873",
        "create_time": SIGNED_AT.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": encrypt_resource(keys["api_v3_key"], resource_plain),
    }
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    timestamp = str(int(SIGNED_AT.timestamp()))
    platform = serialization.load_pem_private_key(
        keys["platform_private_key_pem"].encode(), password=None
    )
    assert isinstance(platform, rsa.RSAPrivateKey)
    message = f"{timestamp}\n{nonce}\n{body}\n".encode()
    return {
        "signed_at": SIGNED_AT.isoformat(),
        "headers": {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": _sign(platform, message),
            "Wechatpay-Serial": keys["platform_serial"],
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Content-Type": "application/json",
        },
        "body": body,
        "resource_plain": resource_plain,
    }


def transaction(out_trade_no: str, total: int, state: str) -> dict[str, object]:
    return {
        "appid": "wxd678efh567hg6787",
        "mchid": "1900009191",
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000985202011201234567890",
        "trade_type": "JSAPI",
        "trade_state": state,
        "trade_state_desc": "支付成功" if state == "SUCCESS" else "订单已关闭",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": "2026-11-20T20:30:04+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {
            "total": total,
            "payer_total": total,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }


def main() -> None:
    SAMPLES.mkdir(exist_ok=True)
    keys = make_keys()
    (SAMPLES / "test_keys.json").write_text(json.dumps(keys, indent=2) + "\n")
    success = signed_notification(
        keys,
        transaction("P2026112000000042", 19900, "SUCCESS"),
        "TRANSACTION.SUCCESS",
        "fdasflkja484w",
    )
    (SAMPLES / "notification_success.json").write_text(
        json.dumps(success, indent=2, ensure_ascii=False) + "\n"
    )
    closed = signed_notification(
        keys,
        transaction("P2026112000000043", 5000, "CLOSED"),
        "TRANSACTION.CLOSED",
        "a8s7d6f5g4h3j2k1",
    )
    (SAMPLES / "notification_closed.json").write_text(
        json.dumps(closed, indent=2, ensure_ascii=False) + "\n"
    )


if __name__ == "__main__":
    main()
