"""Merchant accounts at providers (keys stored encrypted) and building a provider for a shop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.payments.models import PaymentAccount, Provider
from liveloop.commerce.payments.providers.base import PaymentProvider
from liveloop.commerce.payments.providers.demo import DemoProvider
from liveloop.commerce.payments.providers.wechatpay import (
    API_BASE,
    WeChatPayConfig,
    WeChatPayProvider,
)
from liveloop.core.database import scoped
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.core.jobs import queue
from liveloop.core.security import PiiCipher, derive_key
from liveloop.core.settings import Settings, get_settings

WECHATPAY = "wechatpay"
DEMO = "demo"
SECRET_FIELDS = ("private_key_pem", "api_v3_key", "platform_public_key_pem")

# Tests point the WeChat Pay client at a local fake server through this (an httpx transport).
http_transport: httpx.AsyncBaseTransport | None = None


def current_settings() -> Settings:
    """The process's settings: those the app or worker configured the queue with."""
    return queue.settings or get_settings()


def _cipher(settings: Settings) -> PiiCipher:
    secret = settings.resolved_secret_key()
    # A key of its own: merchant keys are not personal data and rotate on their own schedule.
    return PiiCipher(derive_key(secret, "payment-account-keys"), derive_key(secret, "unused"))


@dataclass(frozen=True)
class WeChatPayAccountIn:
    mchid: str
    appid: str
    serial_no: str
    platform_serial: str
    private_key_pem: str
    api_v3_key: str
    platform_public_key_pem: str
    api_base: str = ""


async def get_account(
    *, session: AsyncSession, shop_id: int, provider: str = WECHATPAY
) -> PaymentAccount | None:
    statement = scoped(PaymentAccount, shop_id).where(PaymentAccount.provider == provider)
    return (await session.execute(statement)).scalar_one_or_none()


async def set_wechatpay_account(
    *, session: AsyncSession, shop_id: int, data: WeChatPayAccountIn, enabled: bool = True
) -> PaymentAccount:
    """Create or replace the shop's WeChat Pay account after checking every key works."""
    config = WeChatPayConfig(
        mchid=data.mchid,
        appid=data.appid,
        serial_no=data.serial_no,
        private_key_pem=data.private_key_pem,
        api_v3_key=data.api_v3_key,
        platform_serial=data.platform_serial,
        platform_public_key_pem=data.platform_public_key_pem,
    )
    problems = config.check()
    if problems:
        raise InvalidInput(
            "; ".join(message for _, message in problems),
            code="invalid_payment_account",
            field=problems[0][0],
            details=[{"code": "invalid", "field": f, "message": m} for f, m in problems],
        )
    blob = _cipher(current_settings()).encrypt(
        json.dumps({name: getattr(data, name) for name in SECRET_FIELDS})
    )
    account = await get_account(session=session, shop_id=shop_id)
    if account is None:
        account = PaymentAccount(shop_id=shop_id, provider=WECHATPAY, secrets=blob)
        session.add(account)
    account.secrets = blob
    account.enabled = enabled
    account.mchid = data.mchid
    account.appid = data.appid
    account.serial_no = data.serial_no
    account.platform_serial = data.platform_serial
    account.api_base = data.api_base or ""
    await session.flush()
    return account


async def demo_allowed(*, session: AsyncSession, shop_id: int) -> bool:
    """Whether viewers may pay with the demo provider (no money moves). A shop chooses; until
    it does, demo payments are on only while no real provider is enabled, so a shop that set
    up WeChat Pay is never paid in play money by a viewer who picks "demo"."""
    demo = await get_account(session=session, shop_id=shop_id, provider=DEMO)
    if demo is not None:
        return demo.enabled
    wechat = await get_account(session=session, shop_id=shop_id)
    return wechat is None or not wechat.enabled


async def set_demo_allowed(*, session: AsyncSession, shop_id: int, allowed: bool) -> None:
    demo = await get_account(session=session, shop_id=shop_id, provider=DEMO)
    if demo is None:
        demo = PaymentAccount(shop_id=shop_id, provider=DEMO, secrets=b"")
        session.add(demo)
    demo.enabled = allowed
    await session.flush()


def account_summary(account: PaymentAccount | None) -> dict[str, Any]:
    """What the console may show: identifiers only, never the keys."""
    if account is None:
        return {"configured": False}
    return {
        "configured": True,
        "enabled": account.enabled,
        "mchid": account.mchid,
        "appid": account.appid,
        "serial_no": account.serial_no,
        "platform_serial": account.platform_serial,
        "api_base": account.api_base or API_BASE,
        "updated_at": account.updated_at,
    }


def wechatpay_config(account: PaymentAccount) -> WeChatPayConfig:
    keys = json.loads(_cipher(current_settings()).decrypt(account.secrets))
    return WeChatPayConfig(
        mchid=account.mchid,
        appid=account.appid,
        serial_no=account.serial_no,
        platform_serial=account.platform_serial,
        api_base=account.api_base or API_BASE,
        **{name: keys[name] for name in SECRET_FIELDS},
    )


@asynccontextmanager
async def provider_for(
    *, session: AsyncSession, shop_id: int, provider: str
) -> AsyncIterator[PaymentProvider]:
    """The provider for this shop, its HTTP client closed when the block ends."""
    settings = current_settings()
    if provider == Provider.DEMO:
        yield DemoProvider(
            secret=settings.resolved_secret_key(),
            shop_id=shop_id,
            public_url=settings.public_base_url,
        )
        return
    if provider not in (Provider.WECHATPAY_JSAPI, Provider.WECHATPAY_H5, WECHATPAY):
        raise InvalidInput(
            f"unknown payment provider {provider!r}; use demo, wechatpay_jsapi or wechatpay_h5",
            code="unknown_provider",
            field="provider",
        )
    account = await get_account(session=session, shop_id=shop_id)
    if account is None or not account.enabled:
        raise NotFound(
            "this shop has no WeChat Pay account set up; add it under Settings → Payments",
            code="provider_not_configured",
            field="provider",
        )
    config = wechatpay_config(account)
    scene = "h5" if provider == Provider.WECHATPAY_H5 else "jsapi"
    async with httpx.AsyncClient(
        base_url=config.api_base, transport=http_transport, timeout=10.0
    ) as client:
        yield WeChatPayProvider(config, http=client, scene=scene)
