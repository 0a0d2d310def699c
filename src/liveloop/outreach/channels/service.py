"""Channels of a shop: reads and writes, secrets, addresses, and delivery with retries.

Other outreach parts use: `get_channel`, `list_channels`, `open_sender`, `resolve_addresses`,
`deliver`, `RateLimiter` and (webhook receivers) `verify_signature`."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

import httpx
from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, ids_in, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.core.security import PiiCipher, derive_key
from liveloop.core.settings import Settings, get_settings
from liveloop.outreach.channels.models import ShopChannel
from liveloop.outreach.channels.senders import (
    SECRET_FIELDS,
    build_sender,
    check_config,
)
from liveloop.outreach.channels.webhook import verify_signature
from liveloop.outreach.contracts import (
    ChannelKind,
    ChannelSender,
    DeliveryResult,
    DeliveryStatus,
    OutgoingMessage,
    RenderedMessage,
)

__all__ = [
    "RateLimiter",
    "create_channel",
    "decrypt_secret",
    "delete_channel",
    "deliver",
    "get_channel",
    "list_channels",
    "open_sender",
    "readable_secret",
    "resolve_addresses",
    "send_test",
    "update_channel",
    "verify_signature",
]

# --------------------------------------------------------------------------- secrets


def _cipher(settings: Settings) -> PiiCipher:
    secret = settings.resolved_secret_key()
    # A key of its own: provider credentials are not personal data.
    return PiiCipher(derive_key(secret, "outreach-channel-secrets"), derive_key(secret, "unused"))


def encrypt_secret(values: dict[str, str], *, settings: Settings) -> bytes | None:
    values = {k: v for k, v in values.items() if v}
    if not values:
        return None
    return _cipher(settings).encrypt(json.dumps(values, sort_keys=True))


def decrypt_secret(channel: ShopChannel, *, settings: Settings) -> dict[str, str]:
    """The channel's secrets; Conflict when they were stored under another secret key (the
    install's LIVELOOP_SECRET_KEY changed): they must be typed in again."""
    if channel.secret is None:
        return {}
    try:
        return json.loads(_cipher(settings).decrypt(channel.secret))
    except InvalidTag:
        raise Conflict(
            f"the stored secrets of channel {channel.name!r} cannot be read with this "
            "install's secret key (was LIVELOOP_SECRET_KEY changed?): enter them again on "
            "the channel's page",
            code="channel_secret_unreadable",
            field="secret",
        ) from None


def readable_secret(channel: ShopChannel, *, settings: Settings) -> dict[str, str] | None:
    """The channel's secrets, or None when they cannot be read (see decrypt_secret)."""
    try:
        return decrypt_secret(channel, settings=settings)
    except Conflict:
        return None


# --------------------------------------------------------------------------- reads and writes


async def get_channel(*, session: AsyncSession, shop_id: int, channel_id: int) -> ShopChannel:
    return await get_scoped(
        session, ShopChannel, shop_id=shop_id, record_id=channel_id, label="channel"
    )


async def list_channels(
    *, session: AsyncSession, shop_id: int, kind: ChannelKind | str | None = None
) -> list[ShopChannel]:
    statement = scoped(ShopChannel, shop_id).order_by(ShopChannel.id)
    if kind is not None:
        statement = statement.where(ShopChannel.kind == str(kind))
    return list((await session.execute(statement)).scalars())


def _kind(value: str) -> ChannelKind:
    try:
        return ChannelKind(value)
    except ValueError:
        raise InvalidInput(
            f"unknown channel kind {value!r}; one of {', '.join(k.value for k in ChannelKind)}",
            code="channel_kind",
            field="kind",
        ) from None


def _split_secret(kind: ChannelKind, secret: dict[str, Any] | None) -> dict[str, str]:
    allowed = SECRET_FIELDS[kind]
    values: dict[str, str] = {}
    for key, value in (secret or {}).items():
        if key not in allowed:
            raise InvalidInput(
                f"{key} is not a secret of a {kind.value} channel; one of {', '.join(allowed)}",
                code="channel_secret",
                field=f"secret.{key}",
            )
        if not isinstance(value, str):
            raise InvalidInput("must be a string", code="channel_secret", field=f"secret.{key}")
        values[key] = value
    return values


async def create_channel(
    *,
    session: AsyncSession,
    shop_id: int,
    kind: str,
    name: str,
    config: dict[str, Any],
    secret: dict[str, Any] | None = None,
    rate_per_second: float = 10.0,
    enabled: bool = True,
    settings: Settings | None = None,
) -> ShopChannel:
    settings = settings or get_settings()
    channel_kind = _kind(kind)
    secrets = _split_secret(channel_kind, secret)
    config = check_config(channel_kind, config, secrets)
    channel = ShopChannel(
        shop_id=shop_id,
        kind=channel_kind.value,
        name=name,
        config=config,
        secret=encrypt_secret(secrets, settings=settings),
        rate_per_second=rate_per_second,
        enabled=enabled,
    )
    session.add(channel)
    await session.flush()
    return channel


async def update_channel(
    *,
    session: AsyncSession,
    shop_id: int,
    channel_id: int,
    changes: dict[str, Any],
    settings: Settings | None = None,
) -> ShopChannel:
    """`changes` may hold name, config, secret (merged: a key set to "" removes it),
    rate_per_second, enabled."""
    settings = settings or get_settings()
    channel = await get_channel(session=session, shop_id=shop_id, channel_id=channel_id)
    kind = ChannelKind(channel.kind)
    # Unreadable stored secrets are replaced by what is typed now (check_config names any
    # required one still missing).
    secrets = readable_secret(channel, settings=settings) or {}
    if changes.get("secret") is not None:
        secrets.update(_split_secret(kind, changes["secret"]))
        secrets = {k: v for k, v in secrets.items() if v}
    config = changes["config"] if changes.get("config") is not None else channel.config
    channel.config = check_config(kind, config, secrets)
    channel.secret = encrypt_secret(secrets, settings=settings)
    for key in ("name", "rate_per_second", "enabled"):
        if changes.get(key) is not None:
            setattr(channel, key, changes[key])
    channel.updated_at = utcnow()
    await session.flush()
    return channel


async def delete_channel(*, session: AsyncSession, shop_id: int, channel_id: int) -> None:
    channel = await get_channel(session=session, shop_id=shop_id, channel_id=channel_id)
    await session.delete(channel)
    await session.flush()


# --------------------------------------------------------------------------- senders


def open_sender(
    channel: ShopChannel,
    *,
    settings: Settings,
    http_client: httpx.AsyncClient | None = None,
) -> ChannelSender:
    """A sender for this channel. Close it with `await sender.aclose()` (it closes the HTTP
    client only when it made it)."""
    return build_sender(
        ChannelKind(channel.kind),
        config=dict(channel.config or {}),
        secret=decrypt_secret(channel, settings=settings),
        rate_per_second=channel.rate_per_second,
        settings=settings,
        shop_id=channel.shop_id,
        http_client=http_client,
    )


async def send_test(
    channel: ShopChannel, *, address: str, text: str, subject: str | None, settings: Settings
) -> DeliveryResult:
    """One transactional test message to `address` through `channel`, no retries: the answer
    is now (the API's test send and the console's "Send a test")."""
    kind = ChannelKind(channel.kind)
    if kind is ChannelKind.EMAIL and "@" not in address:
        raise InvalidInput("must be an e-mail address", code="invalid_address", field="address")
    sender = open_sender(channel, settings=settings)
    try:
        return await sender.send(
            OutgoingMessage(
                key=f"test:{channel.id}:{secrets.token_hex(6)}",
                shop_id=channel.shop_id,
                kind=kind,
                address=address,
                content=RenderedMessage(
                    text=text, subject=subject or "LiveLoop test / 测试", marketing=False
                ),
                metadata={"test": True},
            )
        )
    finally:
        await sender.aclose()


# --------------------------------------------------------------------------- addresses


async def resolve_addresses(
    *,
    session: AsyncSession,
    shop_id: int,
    kind: ChannelKind | str,
    customer_ids: Sequence[int],
) -> dict[int, str]:
    """Where each customer is reached on this kind of channel; customers without an address
    are missing. One query, the ids bound as one parameter (`ids_in`)."""
    from liveloop.customers.communities.models import Community, CommunityMember
    from liveloop.customers.crypto import get_cipher
    from liveloop.customers.models import STATUS_ACTIVE, Customer, CustomerIdentity

    kind = ChannelKind(kind)
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    found: dict[int, str] = {}
    if not ids:
        return found
    if kind is ChannelKind.WEBHOOK:
        rows = await session.execute(
            scoped(Customer, shop_id, Customer.id).where(
                ids_in(session, Customer.id, ids), Customer.status == STATUS_ACTIVE
            )
        )
        for (customer_id,) in rows:
            found[customer_id] = str(customer_id)
    elif kind is ChannelKind.WECOM_GROUP:
        rows = await session.execute(
            select(CommunityMember.customer_id, Community.external_id)
            .join(Community, Community.id == CommunityMember.community_id)
            .where(
                CommunityMember.shop_id == shop_id,
                Community.shop_id == shop_id,
                ids_in(session, CommunityMember.customer_id, ids),
                CommunityMember.left_at.is_(None),
                Community.channel == "wecom_group",
                Community.external_id.is_not(None),
                Community.archived_at.is_(None),
            )
            .order_by(CommunityMember.customer_id, CommunityMember.joined_at.desc())
        )
        for customer_id, chat_id in rows:
            found.setdefault(customer_id, chat_id)
    else:
        channel = {
            ChannelKind.EMAIL: "email",
            ChannelKind.SMS: "phone",
            ChannelKind.WECOM_CUSTOMER: "wecom",
        }[kind]
        rows = await session.execute(
            scoped(
                CustomerIdentity,
                shop_id,
                CustomerIdentity.customer_id,
                CustomerIdentity.key,
                CustomerIdentity.secret,
            )
            .where(
                ids_in(session, CustomerIdentity.customer_id, ids),
                CustomerIdentity.channel == channel,
            )
            .order_by(CustomerIdentity.customer_id, CustomerIdentity.id)
        )
        cipher = get_cipher() if channel in ("email", "phone") else None
        for customer_id, key, secret in rows:
            if customer_id in found:
                continue
            if cipher is not None:
                if secret is None:
                    continue
                found[customer_id] = cipher.decrypt(secret)
            else:
                found[customer_id] = key
    return found


# --------------------------------------------------------------------------- delivery


async def deliver(
    sender: ChannelSender,
    message: OutgoingMessage,
    *,
    retries: int = 3,
    backoff: float = 0.5,
) -> DeliveryResult:
    """Send once, and again up to `retries` times while the result is RETRY, waiting
    `backoff * 2**attempt` seconds (or the provider's retry_after, if longer). A result that is
    still RETRY at the end becomes FAILED with the provider's reason."""
    attempt = 0
    while True:
        try:
            result = await sender.send(message)
        except Exception as exc:  # a sender should not raise; keep the promise anyway
            result = DeliveryResult(
                status=DeliveryStatus.RETRY,
                reason=f"unexpected error: {type(exc).__name__}: {exc}",
                at=utcnow(),
            )
        if result.status is not DeliveryStatus.RETRY:
            return result
        if attempt >= retries:
            return DeliveryResult(
                status=DeliveryStatus.FAILED,
                reason=f"gave up after {attempt + 1} attempts: {result.reason or 'no reason'}",
                provider_code=result.provider_code,
                provider_message_id=result.provider_message_id,
                at=result.at or utcnow(),
            )
        wait = backoff * (2**attempt)
        if result.retry_after is not None:
            wait = max(wait, result.retry_after)
        attempt += 1
        if wait > 0:
            await asyncio.sleep(wait)


class RateLimiter:
    """Token bucket: at most `rate_per_second` acquisitions per second on average, bursts of
    up to max(1, rate) tokens. A rate of 0 or less means no limit."""

    def __init__(self, rate_per_second: float, *, burst: float | None = None) -> None:
        self.rate = float(rate_per_second)
        self.capacity = float(burst) if burst is not None else max(1.0, self.rate)
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)
