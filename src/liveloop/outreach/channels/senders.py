"""Which config and secrets each kind of channel takes, and the sender built from them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from liveloop.core.errors import InvalidInput
from liveloop.core.settings import Settings
from liveloop.outreach.channels.email import MailboxSender, SmtpSender, mailbox_path
from liveloop.outreach.channels.sms import SmsSender
from liveloop.outreach.channels.webhook import WebhookSender
from liveloop.outreach.channels.wecom import DEFAULT_API_BASE, WeComSender
from liveloop.outreach.contracts import ChannelKind, ChannelSender

SECRET_FIELDS: dict[ChannelKind, tuple[str, ...]] = {
    ChannelKind.EMAIL: ("password",),
    ChannelKind.WEBHOOK: ("signing_secret",),
    ChannelKind.WECOM_CUSTOMER: ("corpsecret",),
    ChannelKind.WECOM_GROUP: ("corpsecret",),
    ChannelKind.SMS: ("api_key",),
}

SMTP_SECURITY = ("none", "starttls", "ssl")


def _bad(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, code="channel_config", field=f"config.{field}")


def _str(config: dict[str, Any], key: str, *, required: bool = False, max_len: int = 500) -> str:
    value = config.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _bad("must be a string", key)
    value = value.strip()
    if required and not value:
        raise _bad("is required", key)
    if len(value) > max_len:
        raise _bad(f"is longer than {max_len} characters", key)
    return value


def _url(config: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = _str(config, key, required=required, max_len=2000)
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _bad("must be an http:// or https:// URL", key)
    return value


def _email(config: dict[str, Any], key: str) -> str:
    value = _str(config, key, required=True, max_len=254)
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or " " in value:
        raise _bad("must be an e-mail address", key)
    return value


def check_config(
    kind: ChannelKind, config: dict[str, Any] | None, secrets: dict[str, str]
) -> dict[str, Any]:
    """The cleaned config, or InvalidInput naming the field (`config.<name>`)."""
    config = dict(config or {})
    for key in config:
        if key in SECRET_FIELDS[kind]:
            raise _bad(f"{key} is a secret: send it in `secret`, not in `config`", key)
    if kind is ChannelKind.EMAIL:
        transport = _str(config, "transport") or "smtp"
        if transport not in ("smtp", "mailbox"):
            raise _bad("must be smtp or mailbox", "transport")
        out: dict[str, Any] = {
            "transport": transport,
            "from_addr": _email(config, "from_addr"),
            "from_name": _str(config, "from_name", max_len=80),
        }
        if transport == "smtp":
            out["host"] = _str(config, "host", required=True, max_len=253)
            security = _str(config, "security") or "starttls"
            if security not in SMTP_SECURITY:
                raise _bad("must be none, starttls or ssl", "security")
            out["security"] = security
            port = config.get("port", 465 if security == "ssl" else 587)
            if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
                raise _bad("must be a port number 1-65535", "port")
            out["port"] = port
            out["username"] = _str(config, "username", max_len=254)
            if out["username"] and not secrets.get("password"):
                raise InvalidInput(
                    "a password is needed with a username",
                    code="channel_secret",
                    field="secret.password",
                )
        return out
    if kind is ChannelKind.WEBHOOK:
        if not secrets.get("signing_secret"):
            raise InvalidInput(
                "a signing secret is required: receivers verify X-LiveLoop-Signature with it",
                code="channel_secret",
                field="secret.signing_secret",
            )
        return {"url": _url(config, "url")}
    if kind in (ChannelKind.WECOM_CUSTOMER, ChannelKind.WECOM_GROUP):
        if not secrets.get("corpsecret"):
            raise InvalidInput(
                "the app secret (corpsecret) is required",
                code="channel_secret",
                field="secret.corpsecret",
            )
        out = {
            "corpid": _str(config, "corpid", required=True, max_len=64),
            "sender": _str(config, "sender", required=kind is ChannelKind.WECOM_GROUP, max_len=64),
        }
        api_base = _url(config, "api_base", required=False)
        if api_base:
            out["api_base"] = api_base
        return out
    # SMS
    out = {"url": _url(config, "url")}
    for key in (
        "api_key_header",
        "to_field",
        "text_field",
        "key_field",
        "ok_field",
        "id_field",
        "message_field",
    ):
        value = _str(config, key, max_len=100)
        if value:
            out[key] = value
    if "api_key_prefix" in config:
        # Not stripped: "Bearer " keeps the space that separates it from the key.
        prefix = config["api_key_prefix"] if config["api_key_prefix"] is not None else ""
        if not isinstance(prefix, str):
            raise _bad("must be a string", "api_key_prefix")
        if len(prefix) > 40:
            raise _bad("is longer than 40 characters", "api_key_prefix")
        out["api_key_prefix"] = prefix
    for key in ("ok_values", "retry_values"):
        if key in config:
            values = config[key]
            if not isinstance(values, list) or not all(
                isinstance(v, (str, int)) and not isinstance(v, bool) for v in values
            ):
                raise _bad("must be a list of strings", key)
            out[key] = [str(v) for v in values]
    if "extra" in config:
        if not isinstance(config["extra"], dict):
            raise _bad("must be an object", "extra")
        out["extra"] = config["extra"]
    return out


def build_sender(
    kind: ChannelKind,
    *,
    config: dict[str, Any],
    secret: dict[str, str],
    rate_per_second: float,
    settings: Settings,
    shop_id: int,
    http_client: httpx.AsyncClient | None = None,
) -> ChannelSender:
    if kind is ChannelKind.EMAIL:
        if config.get("transport") == "mailbox":
            return MailboxSender(
                path=mailbox_path(settings.var_dir),
                shop_id=shop_id,
                from_addr=config["from_addr"],
                from_name=config.get("from_name", ""),
                rate_per_second=rate_per_second,
            )
        return SmtpSender(
            host=config["host"],
            port=int(config["port"]),
            security=config.get("security", "starttls"),
            username=config.get("username", ""),
            password=secret.get("password", ""),
            from_addr=config["from_addr"],
            from_name=config.get("from_name", ""),
            rate_per_second=rate_per_second,
        )
    if kind is ChannelKind.WEBHOOK:
        return WebhookSender(
            url=config["url"],
            secret=secret.get("signing_secret", ""),
            rate_per_second=rate_per_second,
            http_client=http_client,
        )
    if kind in (ChannelKind.WECOM_CUSTOMER, ChannelKind.WECOM_GROUP):
        return WeComSender(
            kind=kind,
            corpid=config["corpid"],
            corpsecret=secret.get("corpsecret", ""),
            sender=config.get("sender", ""),
            rate_per_second=rate_per_second,
            api_base=config.get("api_base") or DEFAULT_API_BASE,
            http_client=http_client,
        )
    return SmsSender(
        config=config,
        api_key=secret.get("api_key", ""),
        rate_per_second=rate_per_second,
        http_client=http_client,
    )
