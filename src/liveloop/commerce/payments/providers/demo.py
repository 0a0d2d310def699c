"""The demo provider: a pay page hosted by LiveLoop that calls back with a signed notification.

Its notification is shaped like WeChat Pay's (same headers, same JSON envelope, a plain
`resource` instead of an encrypted one) and signed with HMAC-SHA256 over
``timestamp\\nnonce\\nbody\\n`` with a key derived from the site secret for each shop, so the
demo and the tests go through the same asynchronous path as a real payment: a separate HTTP
request to the notify URL, verified, stored, applied.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping

from liveloop.commerce.payments.providers.base import (
    TRADE_SUCCESS,
    ForgedNotification,
    PaymentRequest,
    PrepayResult,
    RefundRequest,
    RefundResult,
    VerifiedNotification,
    check_timestamp,
    header,
    load_json,
    parse_transaction,
)
from liveloop.core.security import TokenSigner, derive_key

DEMO_SERIAL = "liveloop-demo"
PAY_TOKEN_SALT = "liveloop.demo-pay"
PAY_TOKEN_TTL = 2 * 3600  # seconds a pay page link stays valid


def demo_signing_key(secret: str, shop_id: int) -> bytes:
    """One key per shop: a notification signed for one shop never verifies for another."""
    return derive_key(secret, f"demo-pay-notify:{shop_id}")


def pay_token_signer(secret: str) -> TokenSigner:
    return TokenSigner(secret, PAY_TOKEN_SALT)


def sign_message(key: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


class DemoProvider:
    name = "demo"

    def __init__(self, *, secret: str, shop_id: int, public_url: str) -> None:
        self.shop_id = shop_id
        self.public_url = public_url.rstrip("/")
        self._key = demo_signing_key(secret, shop_id)
        self._tokens = pay_token_signer(secret)

    def pay_url(self, payment_id: int) -> str:
        token = self._tokens.sign({"shop": self.shop_id, "payment": payment_id})
        return f"{self.public_url}/pay/demo/{token}"

    async def create_prepay(self, payment: PaymentRequest) -> PrepayResult:
        url = self.pay_url(payment.payment_id)
        return PrepayResult(kind="redirect", pay_url=url, provider_ref=None)

    def build_notification(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        trade_state: str = TRADE_SUCCESS,
        now: dt.datetime | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The headers and body the pay page's job posts to the notify URL."""
        now = now or dt.datetime.now(dt.UTC)
        transaction_id = "DEMO" + now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper()
        envelope = {
            "id": secrets.token_hex(16),
            "create_time": now.isoformat(timespec="seconds"),
            "event_type": "TRANSACTION.SUCCESS"
            if trade_state == TRADE_SUCCESS
            else "TRANSACTION.CLOSED",
            "resource_type": "plain-resource",
            "summary": "demo payment",
            "resource": {
                "out_trade_no": out_trade_no,
                "transaction_id": transaction_id,
                "trade_state": trade_state,
                "amount": {"total": amount_fen, "payer_total": amount_fen, "currency": "CNY"},
                "success_time": now.isoformat(timespec="seconds"),
            },
        }
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(now.timestamp()))
        nonce = secrets.token_hex(16)
        headers = {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": DEMO_SERIAL,
            "Wechatpay-Signature": sign_message(self._key, timestamp, nonce, body),
            "Wechatpay-Signature-Type": "HMAC-SHA256",
        }
        return headers, body

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: dt.datetime | None = None
    ) -> VerifiedNotification:
        timestamp = header(headers, "Wechatpay-Timestamp")
        nonce = header(headers, "Wechatpay-Nonce")
        signature = header(headers, "Wechatpay-Signature")
        expected = sign_message(self._key, timestamp, nonce, body)
        if not hmac.compare_digest(expected, signature):
            raise ForgedNotification("the notification signature does not match")
        check_timestamp(timestamp, now or dt.datetime.now(dt.UTC))
        envelope = load_json(body)
        return parse_transaction(envelope, envelope.get("resource"))

    async def refund(self, refund: RefundRequest) -> RefundResult:
        # Nothing leaves LiveLoop: the demo "bank" confirms at once, and the id derives from
        # the refund number, so a repeated call answers the same.
        return RefundResult(
            status="succeeded",
            provider_refund_id=f"DEMO-{refund.out_refund_no}",
            raw={"out_refund_no": refund.out_refund_no, "amount": refund.refund_fen},
        )
