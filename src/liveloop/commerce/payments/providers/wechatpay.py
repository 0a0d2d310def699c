"""WeChat Pay API v3 adapter: JSAPI and H5 prepay, signed notifications, refunds.

Shaped on the public API (pay.weixin.qq.com/docs/merchant): every request carries
``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,signature=..,timestamp=..,
serial_no=..`` where the signature is RSA-SHA256 (PKCS#1 v1.5) with the merchant key over
``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n``. Responses and notifications are signed the same
way by the platform key (``Wechatpay-Timestamp/-Nonce/-Signature/-Serial`` headers); a
notification's ``resource`` is AES-256-GCM encrypted with the APIv3 key.

The HTTP client is injected (an ``httpx.AsyncClient`` with the API base URL), so tests run the
adapter against a local fake server that checks the merchant signature.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from liveloop.commerce.payments.providers.base import (
    TRADE_SUCCESS,
    ForgedNotification,
    PaymentRequest,
    PrepayResult,
    ProviderError,
    RefundRequest,
    RefundResult,
    VerifiedNotification,
    check_timestamp,
    header,
    load_json,
    parse_transaction,
)

API_BASE = "https://api.mch.weixin.qq.com"
JSAPI_PATH = "/v3/pay/transactions/jsapi"
H5_PATH = "/v3/pay/transactions/h5"
REFUND_PATH = "/v3/refund/domestic/refunds"
AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
REFUND_STATUSES = {"SUCCESS": "succeeded", "PROCESSING": "processing", "CLOSED": "failed"}


@dataclass(frozen=True)
class WeChatPayConfig:
    """A shop's merchant account. The PEMs and the APIv3 key are secrets (stored encrypted)."""

    mchid: str
    appid: str
    serial_no: str  # serial number of the merchant API certificate
    private_key_pem: str
    api_v3_key: str  # 32 ASCII characters
    platform_serial: str
    platform_public_key_pem: str
    api_base: str = API_BASE

    def check(self) -> list[tuple[str, str]]:
        """(field, problem) for every part that cannot work; empty when usable."""
        problems: list[tuple[str, str]] = []
        for name in ("mchid", "appid", "serial_no", "platform_serial"):
            if not getattr(self, name):
                problems.append((name, f"{name} is required"))
        if len(self.api_v3_key.encode()) != 32:
            problems.append(
                ("api_v3_key", f"the APIv3 key must be 32 bytes (got {len(self.api_v3_key)})")
            )
        try:
            load_private_key(self.private_key_pem)
        except ValueError as exc:
            problems.append(("private_key_pem", str(exc)))
        try:
            load_public_key(self.platform_public_key_pem)
        except ValueError as exc:
            problems.append(("platform_public_key_pem", str(exc)))
        return problems


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("the merchant private key is not a PEM RSA private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the merchant private key is not an RSA key")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """The platform public key, from a PEM public key or a PEM certificate."""
    data = pem.encode()
    try:
        if b"BEGIN CERTIFICATE" in data:
            from cryptography import x509

            key: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ValueError("the platform key is not a PEM public key or certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the platform key is not an RSA key")
    return key


def rsa_sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    signature = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def request_message(method: str, path: str, timestamp: str, nonce: str, body: str) -> str:
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"


def authorization_header(
    config: WeChatPayConfig, method: str, path: str, body: str, *, timestamp: str, nonce: str
) -> str:
    signature = rsa_sign(
        load_private_key(config.private_key_pem),
        request_message(method, path, timestamp, nonce, body),
    )
    return (
        f'{AUTH_SCHEME} mchid="{config.mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{config.serial_no}"'
    )


def jsapi_client_params(
    config: WeChatPayConfig, prepay_id: str, *, timestamp: str, nonce: str
) -> dict[str, str]:
    """The parameters of ``wx.requestPayment`` / ``WeixinJSBridge.invoke('getBrandWCPayRequest')``."""
    package = f"prepay_id={prepay_id}"
    message = f"{config.appid}\n{timestamp}\n{nonce}\n{package}\n"
    return {
        "appId": config.appid,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": rsa_sign(load_private_key(config.private_key_pem), message),
    }


def decrypt_resource(api_v3_key: str, resource: Mapping[str, Any]) -> dict[str, Any]:
    """AEAD_AES_256_GCM: key = APIv3 key, nonce and associated_data as given, ciphertext
    base64 (the last 16 bytes are the tag)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise ForgedNotification(
            f"unsupported resource algorithm {resource.get('algorithm')!r}", code="payload_invalid"
        )
    try:
        plain = AESGCM(api_v3_key.encode()).decrypt(
            str(resource.get("nonce", "")).encode(),
            base64.b64decode(str(resource.get("ciphertext", ""))),
            str(resource.get("associated_data", "")).encode(),
        )
    except (InvalidTag, ValueError):
        raise ForgedNotification(
            "the notification resource does not decrypt with the APIv3 key", code="decrypt_failed"
        ) from None
    return load_json(plain)


def encrypt_resource(
    api_v3_key: str, plain: dict[str, Any], *, associated_data: str = "transaction"
) -> dict[str, str]:
    """The inverse of decrypt_resource; used to build samples and by the fake server."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_hex(6)  # WeChat sends a 12-character nonce
    data = json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
    ciphertext = AESGCM(api_v3_key.encode()).encrypt(nonce.encode(), data, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "original_type": "transaction",
        "nonce": nonce,
    }


def verify_platform_signature(
    config: WeChatPayConfig,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: dt.datetime,
) -> None:
    """Check the Wechatpay-* headers of a response or a notification; ForgedNotification if
    the serial is not our platform certificate, the signature fails, or it is too old."""
    timestamp = header(headers, "Wechatpay-Timestamp")
    nonce = header(headers, "Wechatpay-Nonce")
    signature = header(headers, "Wechatpay-Signature")
    serial = header(headers, "Wechatpay-Serial")
    if serial != config.platform_serial:
        raise ForgedNotification(
            f"signed with platform certificate {serial[:40]!r}, not the configured "
            f"{config.platform_serial!r}",
            code="serial_unknown",
        )
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    try:
        public_key = load_public_key(config.platform_public_key_pem)
    except ValueError as exc:
        raise ForgedNotification(str(exc), code="platform_key_invalid") from None
    if not rsa_verify(public_key, message, signature):
        raise ForgedNotification("the platform signature does not match")
    check_timestamp(timestamp, now)


class WeChatPayProvider:
    """One merchant account; `scene` is 'jsapi' (inside WeChat) or 'h5' (a mobile browser)."""

    def __init__(self, config: WeChatPayConfig, *, http: httpx.AsyncClient, scene: str = "jsapi"):
        if scene not in ("jsapi", "h5"):
            raise ValueError(f"unknown WeChat Pay scene {scene!r}")
        self.config = config
        self.http = http
        self.scene = scene
        self.name = f"wechatpay_{scene}"

    async def _call(self, method: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        timestamp = str(int(dt.datetime.now(dt.UTC).timestamp()))
        nonce = secrets.token_hex(16).upper()
        request = self.http.build_request(
            method,
            path,
            content=body.encode(),
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": "LiveLoop/0.1",
            },
        )
        # Sign what is actually sent: the base URL may carry a path prefix.
        request.headers["Authorization"] = authorization_header(
            self.config,
            method,
            request.url.raw_path.decode(),
            body,
            timestamp=timestamp,
            nonce=nonce,
        )
        try:
            response = await self.http.send(request)
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"WeChat Pay could not be reached: {exc.__class__.__name__}",
                code="provider_unreachable",
                retryable=True,
            ) from None
        if response.status_code >= 300:
            raise _provider_error(response)
        try:
            verify_platform_signature(
                self.config, response.headers, response.content, now=dt.datetime.now(dt.UTC)
            )
        except ForgedNotification as exc:
            raise ProviderError(
                f"the WeChat Pay response is not signed by the platform: {exc.message}",
                code="response_signature_invalid",
            ) from None
        return load_json(response.content) if response.content else {}

    def _base_order(self, payment: PaymentRequest) -> dict[str, Any]:
        order: dict[str, Any] = {
            "appid": self.config.appid,
            "mchid": self.config.mchid,
            "description": payment.description[:127],
            "out_trade_no": payment.out_trade_no,
            "notify_url": payment.notify_url,
            "amount": {"total": payment.amount_fen, "currency": "CNY"},
        }
        if payment.expires_at is not None:
            order["time_expire"] = (
                payment.expires_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
                .replace(microsecond=0)
                .isoformat()
            )
        return order

    async def create_prepay(self, payment: PaymentRequest) -> PrepayResult:
        order = self._base_order(payment)
        if self.scene == "jsapi":
            if not payment.openid:
                raise ProviderError(
                    "WeChat JSAPI payment needs the payer's openid (open the page inside WeChat)",
                    code="openid_required",
                )
            order["payer"] = {"openid": payment.openid}
            answer = await self._call("POST", JSAPI_PATH, order)
            prepay_id = str(answer.get("prepay_id", ""))
            if not prepay_id:
                raise ProviderError("WeChat Pay answered without a prepay_id")
            params = jsapi_client_params(
                self.config,
                prepay_id,
                timestamp=str(int(dt.datetime.now(dt.UTC).timestamp())),
                nonce=secrets.token_hex(16),
            )
            return PrepayResult(
                kind="jsapi", jsapi_params=params, provider_ref=prepay_id, raw=answer
            )
        order["scene_info"] = {
            "payer_client_ip": payment.client_ip or "127.0.0.1",
            "h5_info": {"type": "Wap"},
        }
        answer = await self._call("POST", H5_PATH, order)
        h5_url = str(answer.get("h5_url", ""))
        if not h5_url:
            raise ProviderError("WeChat Pay answered without an h5_url")
        if payment.return_url:  # WeChat sends the payer back there after paying
            h5_url += (
                ("&" if "?" in h5_url else "?")
                + "redirect_url="
                + quote(payment.return_url, safe="")
            )
        return PrepayResult(kind="redirect", pay_url=h5_url, raw=answer)

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: dt.datetime | None = None
    ) -> VerifiedNotification:
        verify_platform_signature(self.config, headers, body, now=now or dt.datetime.now(dt.UTC))
        envelope = load_json(body)
        resource = envelope.get("resource")
        if not isinstance(resource, dict):
            raise ForgedNotification("the notification has no resource", code="payload_invalid")
        return parse_transaction(envelope, decrypt_resource(self.config.api_v3_key, resource))

    async def refund(self, refund: RefundRequest) -> RefundResult:
        payload: dict[str, Any] = {
            "out_refund_no": refund.out_refund_no,
            "reason": refund.reason[:80],
            "amount": {"refund": refund.refund_fen, "total": refund.total_fen, "currency": "CNY"},
        }
        if refund.notify_url:  # optional: without it the refund job asks again until final
            payload["notify_url"] = refund.notify_url
        if refund.transaction_id:
            payload["transaction_id"] = refund.transaction_id
        else:
            payload["out_trade_no"] = refund.out_trade_no
        answer = await self._call("POST", REFUND_PATH, payload)
        status = REFUND_STATUSES.get(str(answer.get("status", "")), "processing")
        return RefundResult(
            status=status,
            provider_refund_id=str(answer.get("refund_id") or "") or None,
            raw=answer,
            message=str(answer.get("status", "")),
        )


def _provider_error(response: httpx.Response) -> ProviderError:
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    code = str(answer.get("code") or f"HTTP_{response.status_code}")
    message = str(answer.get("message") or response.reason_phrase)
    retryable = (
        response.status_code >= 500
        or response.status_code == 429
        or code
        in {
            "SYSTEM_ERROR",
            "FREQUENCY_LIMITED",
        }
    )
    return ProviderError(
        f"WeChat Pay refused the request: {code} {message} (HTTP {response.status_code})",
        code=f"wechatpay_{code.lower()}",
        retryable=retryable,
    )


__all__ = ["TRADE_SUCCESS", "WeChatPayConfig", "WeChatPayProvider"]
