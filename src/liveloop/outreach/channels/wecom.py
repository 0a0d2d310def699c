"""WeCom (企业微信) mass messages, shaped on its public API:

- `GET /cgi-bin/gettoken?corpid=&corpsecret=` -> access_token, cached until `expires_in`
  (less a minute), fetched again when WeCom says it is invalid or expired (40014, 42001,
  42009) — once per send.
- `POST /cgi-bin/externalcontact/add_msg_template?access_token=` with `chat_type` "single"
  (客户群发: `external_userid`) or "group" (客户群群发: `chat_id_list`), `sender` (the staff
  userid), `text` and at most one attachment (image / link / miniprogram).

WeCom answers HTTP 200 with `errcode`; the codes are mapped to sentences in `ERRORS`.
Rate limits (45009, 45033, 45035...) and "system busy" (-1) are RETRY; the rest FAILED."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import httpx

from liveloop.core.database import utcnow
from liveloop.outreach.contracts import ChannelKind, DeliveryResult, DeliveryStatus, OutgoingMessage

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"
TOKEN_ERRORS = frozenset({40014, 42001, 42009, 41001})
RETRY_ERRORS = frozenset({-1, 45009, 45011, 45033})

ERRORS: dict[int, str] = {
    -1: "WeCom is busy, try again later",
    40001: "the corpsecret is wrong (check the app secret in the WeCom admin console)",
    40003: "the sender userid is not a member of this WeCom corp",
    40013: "the corp id (corpid) is wrong",
    40014: "the access token is invalid",
    40056: "the agent id is wrong",
    40096: "the external contact id (external_userid) is not valid",
    41001: "the access token is missing",
    41048: "no recipient: give at least one external_userid or chat id",
    42001: "the access token has expired",
    42009: "the access token has expired",
    44004: "the message text is empty",
    45009: "WeCom's API rate limit was reached",
    45011: "WeCom's API rate limit was reached",
    45033: "too many concurrent calls to WeCom",
    48002: "this API is not allowed for the app (enable 客户联系 for the secret in use)",
    60011: "the app has no permission for this member or customer (check its visible range)",
    60020: "this server's IP address is not in the app's trusted IP list",
    84061: "the sender and this customer are not contacts",
    301002: "the app's secret cannot call this API",
}


def describe(errcode: int, errmsg: str) -> str:
    known = ERRORS.get(errcode)
    base = known or "WeCom refused the request"
    return f"{base} (errcode {errcode}: {errmsg})"


@dataclass
class _Token:
    value: str
    expires_at: float


# One cache per process, by (api base, corp id, hash of the secret).
_tokens: dict[tuple[str, str, str], _Token] = {}


def clear_token_cache() -> None:
    _tokens.clear()


class WeComSender:
    def __init__(
        self,
        *,
        kind: ChannelKind,
        corpid: str,
        corpsecret: str,
        sender: str,
        rate_per_second: float,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.kind = kind
        self.corpid = corpid
        self.corpsecret = corpsecret
        self.sender = sender
        self.rate_per_second = rate_per_second
        self.api_base = api_base.rstrip("/")
        self._cache_key = (
            self.api_base,
            corpid,
            hashlib.sha256(corpsecret.encode()).hexdigest()[:16],
        )
        self._own_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=timeout)

    # ---------------------------------------------------------------- token

    async def _fetch_token(self) -> str | DeliveryResult:
        try:
            response = await self._client.get(
                f"{self.api_base}/cgi-bin/gettoken",
                params={"corpid": self.corpid, "corpsecret": self.corpsecret},
            )
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return _network(exc)
        errcode = int(data.get("errcode", 0) or 0)
        if errcode != 0 or not data.get("access_token"):
            return _errcode(errcode, str(data.get("errmsg", "")))
        expires_in = int(data.get("expires_in", 7200) or 7200)
        _tokens[self._cache_key] = _Token(
            data["access_token"], time.monotonic() + max(0, expires_in - 60)
        )
        return data["access_token"]

    async def access_token(self, *, refresh: bool = False) -> str | DeliveryResult:
        cached = _tokens.get(self._cache_key)
        if cached is not None and not refresh and cached.expires_at > time.monotonic():
            return cached.value
        return await self._fetch_token()

    # ---------------------------------------------------------------- message

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        content = message.content
        body: dict[str, Any] = {
            "chat_type": "group" if self.kind is ChannelKind.WECOM_GROUP else "single",
            "text": {"content": content.text},
        }
        if self.kind is ChannelKind.WECOM_GROUP:
            body["chat_id_list"] = [message.address]
        else:
            body["external_userid"] = [message.address]
        if self.sender:
            body["sender"] = self.sender
        attachment: dict[str, Any] | None = None
        if content.miniprogram:
            mp = content.miniprogram
            attachment = {
                "msgtype": "miniprogram",
                "miniprogram": {
                    "title": mp.get("title", ""),
                    "pic_media_id": mp.get("media_id", ""),
                    "appid": mp.get("appid", ""),
                    "page": mp.get("pagepath", ""),
                },
            }
        elif content.link_url:
            link = {"title": content.link_title or content.link_url, "url": content.link_url}
            if content.image_url:
                link["picurl"] = content.image_url
            if content.link_description:
                link["desc"] = content.link_description
            attachment = {"msgtype": "link", "link": link}
        elif content.image_url:
            attachment = {"msgtype": "image", "image": {"pic_url": content.image_url}}
        if attachment is not None:
            body["attachments"] = [attachment]
        return body

    async def _post(self, token: str, body: dict[str, Any]) -> dict[str, Any] | DeliveryResult:
        try:
            response = await self._client.post(
                f"{self.api_base}/cgi-bin/externalcontact/add_msg_template",
                params={"access_token": token},
                json=body,
            )
        except httpx.HTTPError as exc:
            return _network(exc)
        if response.status_code >= 500 or response.status_code == 429:
            return DeliveryResult(
                status=DeliveryStatus.RETRY,
                reason=f"WeCom answered HTTP {response.status_code}",
                provider_code=str(response.status_code),
                at=utcnow(),
            )
        try:
            return response.json()
        except ValueError:
            return DeliveryResult(
                status=DeliveryStatus.RETRY,
                reason=f"WeCom answered HTTP {response.status_code} without JSON",
                at=utcnow(),
            )

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        body = self.body(message)
        token = await self.access_token()
        if isinstance(token, DeliveryResult):
            return token
        data = await self._post(token, body)
        if isinstance(data, dict) and int(data.get("errcode", 0) or 0) in TOKEN_ERRORS:
            token = await self.access_token(refresh=True)
            if isinstance(token, DeliveryResult):
                return token
            data = await self._post(token, body)
        if isinstance(data, DeliveryResult):
            return data
        errcode = int(data.get("errcode", 0) or 0)
        if errcode != 0:
            return _errcode(errcode, str(data.get("errmsg", "")))
        if message.address in (data.get("fail_list") or []):
            return DeliveryResult(
                status=DeliveryStatus.FAILED,
                reason="WeCom could not send to this recipient (fail_list): "
                "not a contact of the sender, or the recipient limit was reached",
                provider_code="fail_list",
                at=utcnow(),
            )
        # add_msg_template creates the task; the staff member confirms it in the WeCom app.
        return DeliveryResult(
            status=DeliveryStatus.SENT,
            provider_code="0",
            provider_message_id=data.get("msgid"),
            at=utcnow(),
        )

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()


def _errcode(errcode: int, errmsg: str) -> DeliveryResult:
    return DeliveryResult(
        status=DeliveryStatus.RETRY if errcode in RETRY_ERRORS else DeliveryStatus.FAILED,
        reason=describe(errcode, errmsg),
        provider_code=str(errcode),
        retry_after=1.0 if errcode in (45009, 45011, 45033) else None,
        at=utcnow(),
    )


def _network(exc: Exception) -> DeliveryResult:
    return DeliveryResult(
        status=DeliveryStatus.RETRY,
        reason=f"could not reach WeCom: {type(exc).__name__}: {exc}",
        at=utcnow(),
    )
