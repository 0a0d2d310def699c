"""A local stand-in for api.mch.weixin.qq.com: checks what a merchant must send, answers with
the recorded response shapes under samples/, signed with the test platform key.

It refuses a request whose Authorization header is missing, names another merchant or serial,
or whose RSA signature over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n`` does not verify with
the merchant's public key — so a test passing through it proves the signature is built right.
Refunds are deduplicated by out_refund_no like the real service.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SAMPLES = Path(__file__).parent / "samples"
AUTH = re.compile(r"^WECHATPAY2-SHA256-RSA2048 (.+)$")


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


class FakeWeChatPay:
    def __init__(self, keys: dict[str, str] | None = None) -> None:
        self.keys = keys or load_sample("test_keys.json")
        merchant = serialization.load_pem_public_key(self.keys["merchant_public_key_pem"].encode())
        platform = serialization.load_pem_private_key(
            self.keys["platform_private_key_pem"].encode(), password=None
        )
        assert isinstance(merchant, rsa.RSAPublicKey)
        assert isinstance(platform, rsa.RSAPrivateKey)
        self.merchant_key = merchant
        self.platform_key = platform
        self.requests: list[dict[str, Any]] = []
        self.refunds: dict[str, dict[str, Any]] = {}
        self.refund_status = "PROCESSING"  # what a new refund answers first
        self.fail_next: tuple[int, str] | None = None  # (status, sample) for the next call
        self.app = Starlette(
            routes=[
                Route("/v3/pay/transactions/jsapi", self.jsapi, methods=["POST"]),
                Route("/v3/pay/transactions/h5", self.h5, methods=["POST"]),
                Route("/v3/refund/domestic/refunds", self.refund, methods=["POST"]),
            ]
        )

    # ------------------------------------------------------------------------------- checks

    def _check_authorization(self, request: Request, body: bytes) -> str | None:
        """The problem with the request's signature, or None when it verifies."""
        match = AUTH.match(request.headers.get("authorization", ""))
        if not match:
            return "no WECHATPAY2-SHA256-RSA2048 Authorization header"
        fields = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if fields.get("mchid") != self.keys["mchid"]:
            return f"mchid {fields.get('mchid')} is not the merchant"
        if fields.get("serial_no") != self.keys["serial_no"]:
            return "serial_no is not the merchant certificate"
        if abs(int(fields.get("timestamp", "0")) - time.time()) > 300:
            return "timestamp too far from now"
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = (
            f"{request.method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode()
            + body
            + b"\n"
        )
        try:
            self.merchant_key.verify(
                base64.b64decode(fields.get("signature", "")),
                message,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return "signature does not verify with the merchant public key"
        return None

    def _signed(self, status: int, payload: dict[str, Any]) -> Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        signature = self.platform_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return Response(
            body,
            status_code=status,
            media_type="application/json",
            headers={
                "Wechatpay-Timestamp": timestamp,
                "Wechatpay-Nonce": nonce,
                "Wechatpay-Signature": base64.b64encode(signature).decode(),
                "Wechatpay-Serial": self.keys["platform_serial"],
                "Request-ID": secrets.token_hex(8),
            },
        )

    async def _accept(self, request: Request, required: tuple[str, ...]) -> Any:
        body = await request.body()
        problem = self._check_authorization(request, body)
        payload = json.loads(body) if body else {}
        self.requests.append({"path": request.url.path, "body": payload, "problem": problem})
        if problem:
            return self._signed(401, {**load_sample("error_sign.json"), "detail": problem})
        if self.fail_next is not None:
            status, sample = self.fail_next
            self.fail_next = None
            return self._signed(status, load_sample(sample))
        missing = [name for name in required if name not in payload]
        if missing:
            return self._signed(
                400, {"code": "PARAM_ERROR", "message": f"缺少参数 {', '.join(missing)}"}
            )
        return payload

    # ------------------------------------------------------------------------------- routes

    async def jsapi(self, request: Request) -> Response:
        required = ("appid", "mchid", "description", "out_trade_no", "notify_url", "amount")
        payload = await self._accept(request, (*required, "payer"))
        if isinstance(payload, Response):
            return payload
        return self._signed(200, load_sample("prepay_jsapi_response.json"))

    async def h5(self, request: Request) -> Response:
        required = ("appid", "mchid", "description", "out_trade_no", "notify_url", "amount")
        payload = await self._accept(request, (*required, "scene_info"))
        if isinstance(payload, Response):
            return payload
        return self._signed(200, load_sample("prepay_h5_response.json"))

    async def refund(self, request: Request) -> Response:
        payload = await self._accept(request, ("out_refund_no", "amount"))
        if isinstance(payload, Response):
            return payload
        number = payload["out_refund_no"]
        if number not in self.refunds:
            answer = copy.deepcopy(load_sample("refund_response.json"))
            answer["refund_id"] = f"5000{len(self.refunds) + 1:025d}"
            answer["out_refund_no"] = number
            answer["out_trade_no"] = payload.get("out_trade_no", "")
            answer["status"] = self.refund_status
            answer["amount"].update(
                total=payload["amount"]["total"],
                refund=payload["amount"]["refund"],
                payer_total=payload["amount"]["total"],
                payer_refund=payload["amount"]["refund"],
            )
            self.refunds[number] = answer
        return self._signed(200, self.refunds[number])

    # ----------------------------------------------------------------------- notifications

    def notification(
        self, *, out_trade_no: str, total: int, state: str = "SUCCESS", timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """A transaction notification as WeChat Pay would post it to the notify URL."""
        from liveloop.commerce.payments.providers.wechatpay import encrypt_resource

        plain = {
            "mchid": self.keys["mchid"],
            "appid": self.keys["appid"],
            "out_trade_no": out_trade_no,
            "transaction_id": f"42000{secrets.randbelow(10**20):020d}",
            "trade_type": "JSAPI",
            "trade_state": state,
            "success_time": "2026-11-23T13:30:04+08:00",
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": total, "payer_total": total, "currency": "CNY"},
        }
        envelope = {
            "id": secrets.token_hex(16),
            "create_time": "2026-11-23T13:30:05+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": encrypt_resource(self.keys["api_v3_key"], plain),
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = secrets.token_hex(16)
        message = f"{stamp}\n{nonce}\n".encode() + body + b"\n"
        signature = self.platform_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        headers = {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": base64.b64encode(signature).decode(),
            "Wechatpay-Serial": self.keys["platform_serial"],
            "Content-Type": "application/json",
        }
        return headers, body
