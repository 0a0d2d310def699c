"""One-time phone codes (短信验证码): send one, and verify it to learn whose phone it is.

A guest viewer proves a phone number before the shop treats it as that phone's customer
(ordering, group buys, assists, "log in with phone"). Neither the phone nor the code is stored:
the phone as the customers domain's keyed hash, the code as an HMAC bound to that hash.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import after_commit, scoped, utcnow
from liveloop.core.errors import InvalidInput, RateLimited
from liveloop.customers import service as customers_service
from liveloop.customers.crypto import get_cipher
from liveloop.customers.identities import lookup_key, normalize_identity
from liveloop.customers.phone_codes.models import PhoneCode
from liveloop.customers.phone_codes.sms import SmsSender
from liveloop.shops import service as shops_service

CODE_TTL = dt.timedelta(minutes=5)
RESEND_AFTER = dt.timedelta(seconds=60)
DAY = dt.timedelta(hours=24)  # the daily limits count the last 24 hours, not a calendar day
PHONE_DAILY_LIMIT = 10
DEVICE_DAILY_LIMIT = 20
MAX_ATTEMPTS = 5  # wrong codes before a code is dead

# Namespaces of the PostgreSQL advisory locks that serialise sends per phone and per device.
_LOCK_PHONE = 4201
_LOCK_DEVICE = 4202


class PhoneCodeRateLimited(RateLimited):
    """429 with `retry_after_s`: when the page may ask again."""

    def __init__(self, message: str, *, code: str, retry_after_s: int) -> None:
        super().__init__(message, code=code, field="phone")
        self.retry_after_s = retry_after_s

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "retry_after_s": self.retry_after_s}


class PhoneCodeRejected(InvalidInput):
    """A presented code was refused (wrong, expired, dead). A wrong try has been counted in
    the session: the caller must commit it even though the request fails."""


@dataclass(frozen=True, slots=True)
class SentCode:
    retry_after_s: int
    expires_at: dt.datetime
    # The code itself, for the demo provider's page only; never stored, never logged.
    code: str


def normalize_phone(phone: str, *, field: str = "phone") -> str:
    try:
        return normalize_identity("phone", phone)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, code=exc.code, field=field) from None


def phone_key(normalized: str) -> str:
    """The blind index of a phone: equal to customer_identities.key of that phone."""
    return lookup_key(get_cipher(), "phone", normalized)


def code_hash(key: str, code: str) -> str:
    return get_cipher().lookup_hash(f"phone-code:{key}:{code}")


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def sms_text(shop_name: str, code: str) -> str:
    minutes = int(CODE_TTL.total_seconds() // 60)
    return f"【{shop_name}】验证码 {code}，{minutes}分钟内有效。如非本人操作请忽略。"


async def _lock(session: AsyncSession, namespace: int, key: str) -> None:
    """Serialise the check-and-insert of sends (PostgreSQL; SQLite writers are serial)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))"),
        {"namespace": namespace, "key": key},
    )


def _wait_s(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, -int((now - until).total_seconds() // 1))


async def _check_send_limits(
    session: AsyncSession, *, shop_id: int, key: str, device_id: str, now: dt.datetime
) -> None:
    rows = (
        await session.execute(
            scoped(PhoneCode, shop_id, PhoneCode.sent_at)
            .where(PhoneCode.phone_key == key, PhoneCode.sent_at > now - DAY)
            .order_by(PhoneCode.sent_at.desc())
            .limit(PHONE_DAILY_LIMIT)
        )
    ).all()
    if rows and rows[0].sent_at > now - RESEND_AFTER:
        wait = _wait_s(rows[0].sent_at + RESEND_AFTER, now)
        raise PhoneCodeRateLimited(
            f"a code was sent to this phone moments ago; ask again in {wait} s",
            code="phone_code_too_soon",
            retry_after_s=wait,
        )
    if len(rows) >= PHONE_DAILY_LIMIT:
        wait = _wait_s(rows[PHONE_DAILY_LIMIT - 1].sent_at + DAY, now)
        raise PhoneCodeRateLimited(
            f"this phone has had {PHONE_DAILY_LIMIT} codes in 24 hours; "
            f"try again in {wait // 3600 + 1} h",
            code="phone_code_daily_limit",
            retry_after_s=wait,
        )
    device_sends = (
        await session.execute(
            scoped(PhoneCode, shop_id, PhoneCode.sent_at)
            .where(PhoneCode.device_id == device_id, PhoneCode.sent_at > now - DAY)
            .order_by(PhoneCode.sent_at.desc())
            .limit(DEVICE_DAILY_LIMIT)
        )
    ).all()
    if len(device_sends) >= DEVICE_DAILY_LIMIT:
        wait = _wait_s(device_sends[-1].sent_at + DAY, now)
        raise PhoneCodeRateLimited(
            f"this device has asked for {DEVICE_DAILY_LIMIT} codes in 24 hours; "
            f"try again in {wait // 3600 + 1} h",
            code="phone_code_device_limit",
            retry_after_s=wait,
        )


async def send_phone_code(
    *,
    session: AsyncSession,
    shop_id: int,
    phone: str,
    device_id: str,
    sender: SmsSender,
    now: dt.datetime | None = None,
) -> SentCode:
    """Make a code for this phone and device and text it once the transaction commits.

    At most one per phone per 60 s, 10 per phone and 20 per device in 24 hours (429 with
    `retry_after_s`). A new code does not cancel an older one still in its 5 minutes, but only
    the newest code of a phone and device is checked.
    """
    now = now or utcnow()
    normalized = normalize_phone(phone)
    key = phone_key(normalized)
    await _lock(session, _LOCK_PHONE, key)
    await _lock(session, _LOCK_DEVICE, device_id)
    await _check_send_limits(session, shop_id=shop_id, key=key, device_id=device_id, now=now)
    code = new_code()
    row = PhoneCode(
        shop_id=shop_id,
        phone_key=key,
        code_hash=code_hash(key, code),
        device_id=device_id,
        sent_at=now,
        expires_at=now + CODE_TTL,
    )
    session.add(row)
    await session.flush()
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    message = sms_text(shop.name, code)
    after_commit(session, lambda: sender.send(normalized, message))
    return SentCode(
        retry_after_s=int(RESEND_AFTER.total_seconds()), expires_at=row.expires_at, code=code
    )


def _refused(message: str, code: str, field: str) -> PhoneCodeRejected:
    return PhoneCodeRejected(message, code=code, field=field)


async def check_phone_code(
    *,
    session: AsyncSession,
    shop_id: int,
    phone: str,
    code: str,
    device_id: str,
    now: dt.datetime | None = None,
    phone_field: str = "phone",
    code_field: str = "code",
) -> str:
    """The normalised phone when `code` is the newest code this device got for it.

    Raises PhoneCodeRejected: phone_code_invalid (wrong; counted), phone_code_expired (past
    its 5 minutes), phone_code_locked (5 wrong tries). A code already accepted may be presented
    again by the same device until it expires (a retried order); another device never can.
    """
    now = now or utcnow()
    normalized = normalize_phone(phone, field=phone_field)
    key = phone_key(normalized)
    row = (
        await session.execute(
            scoped(PhoneCode, shop_id)
            .where(PhoneCode.phone_key == key, PhoneCode.device_id == device_id)
            .order_by(PhoneCode.sent_at.desc(), PhoneCode.id.desc())
            .limit(1)
            # Counts change by conditional updates: read them fresh, not from the identity map.
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        raise _refused(
            "no code was sent to this phone from this device: tap 'Get code' first",
            "phone_code_invalid",
            code_field,
        )
    matches = hmac.compare_digest(row.code_hash, code_hash(key, code.strip()))
    if row.attempts >= MAX_ATTEMPTS:
        raise _locked(code_field)
    if row.expires_at <= now:
        raise _refused(
            "this code has expired (codes last 5 minutes): ask for a new one",
            "phone_code_expired",
            code_field,
        )
    if matches:
        accepted = await session.execute(
            update(PhoneCode)
            .where(
                PhoneCode.id == row.id,
                PhoneCode.shop_id == shop_id,
                PhoneCode.attempts < MAX_ATTEMPTS,
                PhoneCode.expires_at > now,
            )
            .values(verified_at=func.coalesce(PhoneCode.verified_at, now), uses=PhoneCode.uses + 1)
            .execution_options(synchronize_session=False)
        )
        if accepted.rowcount == 1:  # type: ignore[attr-defined]
            return normalized
        raise _locked(code_field)  # the last wrong tries raced this one
    # Count the wrong try with a conditional update: parallel guesses get 5 between them.
    counted = (
        await session.execute(
            update(PhoneCode)
            .where(
                PhoneCode.id == row.id,
                PhoneCode.shop_id == shop_id,
                PhoneCode.attempts < MAX_ATTEMPTS,
            )
            .values(attempts=PhoneCode.attempts + 1)
            .returning(PhoneCode.attempts)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if counted is None or counted >= MAX_ATTEMPTS:
        raise _locked(code_field)
    left = MAX_ATTEMPTS - counted
    raise _refused(
        f"the code is not right ({left} {'try' if left == 1 else 'tries'} left)",
        "phone_code_invalid",
        code_field,
    )


def _locked(field: str) -> PhoneCodeRejected:
    return _refused(
        f"{MAX_ATTEMPTS} wrong codes: this code no longer works, ask for a new one",
        "phone_code_locked",
        field,
    )


async def verify_phone_code(
    *,
    session: AsyncSession,
    shop_id: int,
    phone: str,
    code: str,
    device_id: str,
    now: dt.datetime | None = None,
    phone_field: str = "phone",
    code_field: str = "code",
) -> int:
    """The id of the customer owning `phone` (created when unknown) once `code` proves it;
    raises PhoneCodeRejected as `check_phone_code` does."""
    normalized = await check_phone_code(
        session=session,
        shop_id=shop_id,
        phone=phone,
        code=code,
        device_id=device_id,
        now=now,
        phone_field=phone_field,
        code_field=code_field,
    )
    resolved = await customers_service.resolve_identities(
        session=session, shop_id=shop_id, identities=[("phone", normalized)]
    )
    return resolved[("phone", normalized)]


async def codes_sent(*, session: AsyncSession, shop_id: int, phone: str) -> list[PhoneCode]:
    """The codes sent to a phone, newest first (support and tests)."""
    key = phone_key(normalize_phone(phone))
    found = await session.execute(
        scoped(PhoneCode, shop_id)
        .where(PhoneCode.phone_key == key)
        .order_by(PhoneCode.sent_at.desc(), PhoneCode.id.desc())
        .execution_options(populate_existing=True)
    )
    return list(found.scalars())
