"""SMS through any HTTP provider: one JSON POST per message, described by the channel config.

    {"url": "https://sms.example.com/v1/send",
     "api_key_header": "Authorization", "api_key_prefix": "Bearer ",   # secret: api_key
     "to_field": "to", "text_field": "text", "extra": {"sign_name": "LiveLoop"},
     "ok_field": "code", "ok_values": ["OK"],            # absent: any 2xx is accepted
     "retry_values": ["THROTTLED"],                       # provider codes worth retrying
     "id_field": "data.message_id", "message_field": "message"}

Fields may be dotted paths into the response. HTTP 429/5xx and network errors are RETRY."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from liveloop.core.database import utcnow
from liveloop.outreach.contracts import ChannelKind, DeliveryResult, DeliveryStatus, OutgoingMessage


def dig(data: Any, path: str | None) -> Any:
    if not path:
        return None
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        body = body.setdefault(part, {})
    body[parts[-1]] = value


class SmsSender:
    kind = ChannelKind.SMS

    def __init__(
        self,
        *,
        config: dict[str, Any],
        api_key: str,
        rate_per_second: float,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.api_key = api_key
        self.rate_per_second = rate_per_second
        self._own_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=float(config.get("timeout", 10)))

    def request_body(self, message: OutgoingMessage) -> dict[str, Any]:
        # A deep copy: a dotted field must not write into the channel's own config.
        body: dict[str, Any] = copy.deepcopy(self.config.get("extra") or {})
        _set(body, self.config.get("to_field") or "to", message.address)
        _set(body, self.config.get("text_field") or "text", message.content.text)
        if self.config.get("key_field"):
            _set(body, self.config["key_field"], message.key)
        return body

    def headers(self, message: OutgoingMessage) -> dict[str, str]:
        headers = {"Idempotency-Key": message.key}
        if self.api_key:
            name = self.config.get("api_key_header") or "Authorization"
            prefix = self.config.get("api_key_prefix")
            if prefix is None:
                prefix = "Bearer " if name.lower() == "authorization" else ""
            headers[name] = f"{prefix}{self.api_key}"
        return headers

    def result(self, response: httpx.Response) -> DeliveryResult:
        code = response.status_code
        try:
            data: Any = response.json()
        except ValueError:
            data = None
        words = dig(data, self.config.get("message_field") or "message")
        words = str(words) if words is not None else response.text[:200].strip()
        if code == 429 or code >= 500:
            retry_after = response.headers.get("Retry-After")
            return DeliveryResult(
                status=DeliveryStatus.RETRY,
                reason=f"the SMS provider answered HTTP {code}: {words}",
                provider_code=str(code),
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
                at=utcnow(),
            )
        if code >= 300:
            return DeliveryResult(
                status=DeliveryStatus.FAILED,
                reason=f"the SMS provider refused the message (HTTP {code}): {words}",
                provider_code=str(code),
                at=utcnow(),
            )
        ok_field = self.config.get("ok_field")
        provider_code = dig(data, ok_field) if ok_field else None
        if ok_field:
            ok_values = [str(v) for v in self.config.get("ok_values") or ["OK", "0"]]
            if str(provider_code) not in ok_values:
                retry_values = [str(v) for v in self.config.get("retry_values") or []]
                return DeliveryResult(
                    status=DeliveryStatus.RETRY
                    if str(provider_code) in retry_values
                    else DeliveryStatus.FAILED,
                    reason=f"the SMS provider refused the message ({provider_code}): {words}",
                    provider_code=str(provider_code),
                    at=utcnow(),
                )
        message_id = dig(data, self.config.get("id_field") or "message_id")
        return DeliveryResult(
            status=DeliveryStatus.SENT,
            provider_code=str(provider_code if provider_code is not None else code),
            provider_message_id=str(message_id) if message_id is not None else None,
            at=utcnow(),
        )

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        try:
            response = await self._client.post(
                self.config["url"], json=self.request_body(message), headers=self.headers(message)
            )
        except httpx.HTTPError as exc:
            return DeliveryResult(
                status=DeliveryStatus.RETRY,
                reason=f"could not reach the SMS provider: {type(exc).__name__}: {exc}",
                at=utcnow(),
            )
        return self.result(response)

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()
