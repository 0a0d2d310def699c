"""Passwords (argon2), signed tokens, API key secrets, and encryption of personal data (AES-GCM)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from the site secret (HMAC-SHA256)."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


class TokenSigner:
    """Signed, timestamped tokens (viewer tokens, CSRF, one-time links)."""

    def __init__(self, secret: str, salt: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=salt)

    def sign(self, payload: Any) -> str:
        return self._serializer.dumps(payload)

    def unsign(self, token: str, *, max_age: int) -> Any:
        """Return the payload; raise ValueError('expired'|'invalid') otherwise."""
        try:
            return self._serializer.loads(token, max_age=max_age)
        except SignatureExpired:
            raise ValueError("expired") from None
        except BadSignature:
            raise ValueError("invalid") from None


API_KEY_PREFIX = "ll_"


def new_api_key() -> tuple[str, str, str]:
    """Return (full key shown once, public prefix for lookup, sha256 hash to store)."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = f"{API_KEY_PREFIX}{prefix}_{secret}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    # API keys are long random strings: a fast hash is safe and keeps every request cheap.
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_prefix(key: str) -> str | None:
    if not key.startswith(API_KEY_PREFIX):
        return None
    prefix, _, rest = key[len(API_KEY_PREFIX) :].partition("_")
    return prefix if prefix and rest else None


class PiiCipher:
    """AES-GCM encryption of phone numbers and e-mail addresses, plus a keyed hash for lookups."""

    def __init__(self, key: bytes, lookup_key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("PII key must be 32 bytes")
        self._aead = AESGCM(key)
        # HMAC-SHA256 with the key's inner and outer pads hashed once: each lookup hash then
        # copies the two prepared states instead of setting up a new HMAC (about 2.5x faster,
        # same digests as hmac.new).
        block = lookup_key if len(lookup_key) <= 64 else hashlib.sha256(lookup_key).digest()
        block = block.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    @classmethod
    def from_secret(cls, secret: str, pii_key: str = "") -> PiiCipher:
        key = base64.urlsafe_b64decode(pii_key) if pii_key else derive_key(secret, "pii-encryption")
        return cls(key, derive_key(secret, "pii-lookup"))

    def encrypt(self, value: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, value.encode(), None)

    def decrypt(self, blob: bytes) -> str:
        return self._aead.decrypt(bytes(blob[:12]), bytes(blob[12:]), None).decode()

    def lookup_hash(self, value: str) -> str:
        inner = self._inner.copy()
        inner.update(value.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def mask_phone(phone: str) -> str:
    """'+8613812345678' / '13812345678' -> '138****5678'."""
    digits = phone[-11:] if len(phone) >= 11 else phone
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_email(email: str) -> str:
    """'zhangwei@example.com' -> 'z***i@example.com'."""
    local, _, domain = email.partition("@")
    masked = local[:1] + "*" if len(local) <= 2 else f"{local[0]}***{local[-1]}"
    return f"{masked}@{domain}"
