"""Normalising channel identities and turning them into rows: hash for lookup, ciphertext, mask."""

from __future__ import annotations

import re
from dataclasses import dataclass

from liveloop.core.errors import InvalidInput
from liveloop.core.security import PiiCipher, mask_email, mask_phone
from liveloop.customers.models import CHANNELS, PII_CHANNELS

_PHONE_NOISE = re.compile(r"[\s\-().]")
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EXTERNAL_ID = 128


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise InvalidInput(
            f"unknown identity channel {channel!r}; use one of {', '.join(CHANNELS)}",
            code="unknown_channel",
            field="channel",
        )
    return channel


def normalize_phone(value: str) -> str:
    """'+86 138-1234-5678' -> '13812345678'; anything else than a mainland mobile is refused."""
    value = str(value)
    # Most files hold bare digits: skip the regex substitution for them.
    digits = value if value.isascii() and value.isdigit() else _PHONE_NOISE.sub("", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _CN_MOBILE.fullmatch(digits):
        raise InvalidInput(
            f"phone {value} is not a mainland mobile number (11 digits starting 13–19)",
            code="invalid_phone",
            field="phone",
        )
    return digits


def normalize_email(value: str) -> str:
    email = str(value).strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise InvalidInput(
            f"e-mail {value} is not an address like name@example.com",
            code="invalid_email",
            field="email",
        )
    return email


def normalize_identity(channel: str, value: str) -> str:
    """The canonical form of one identity value; raises InvalidInput naming the value."""
    check_channel(channel)
    if channel == "phone":
        return normalize_phone(value)
    if channel == "email":
        return normalize_email(value)
    external_id = str(value).strip()
    if not external_id:
        raise InvalidInput(f"{channel} id is empty", code="invalid_identity", field=channel)
    if len(external_id) > MAX_EXTERNAL_ID:
        raise InvalidInput(
            f"{channel} id {external_id[:20]}… is longer than {MAX_EXTERNAL_ID} characters",
            code="invalid_identity",
            field=channel,
        )
    return external_id


def mask_identity(channel: str, normalized: str) -> str | None:
    if channel == "phone":
        return mask_phone(normalized)
    if channel == "email":
        return mask_email(normalized)
    return None


@dataclass(frozen=True, slots=True)
class IdentityValue:
    """One normalised identity ready to look up (`channel`, `key`) and to store."""

    channel: str
    key: str
    secret: bytes | None
    masked: str | None

    @property
    def lookup(self) -> tuple[str, str]:
        return (self.channel, self.key)

    @property
    def label(self) -> str:
        """How the identity may appear in messages and logs (never the clear phone/e-mail)."""
        return f"{self.channel} {self.masked if self.masked is not None else self.key}"


def lookup_key(cipher: PiiCipher, channel: str, normalized: str) -> str:
    return cipher.lookup_hash(f"{channel}:{normalized}") if channel in PII_CHANNELS else normalized


def make_identity(
    cipher: PiiCipher, channel: str, value: str, *, encrypt: bool = True
) -> IdentityValue:
    """Normalise, hash and (for phone/e-mail) encrypt one identity; `encrypt=False` for lookups."""
    normalized = normalize_identity(channel, value)
    if channel not in PII_CHANNELS:
        return IdentityValue(channel, normalized, None, None)
    return IdentityValue(
        channel,
        cipher.lookup_hash(f"{channel}:{normalized}"),
        cipher.encrypt(normalized) if encrypt else None,
        mask_phone(normalized) if channel == "phone" else mask_email(normalized),
    )
