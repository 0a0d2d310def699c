"""The one PII cipher of the process, built from the settings (secret key and optional pii key)."""

from __future__ import annotations

from liveloop.core.security import PiiCipher
from liveloop.core.settings import Settings, get_settings

_cipher: PiiCipher | None = None


def configure_cipher(settings: Settings) -> PiiCipher:
    """Build the cipher from these settings and use it from now on (app start-up, tests, CLI)."""
    global _cipher
    _cipher = PiiCipher.from_secret(settings.resolved_secret_key(), settings.pii_key)
    return _cipher


def get_cipher() -> PiiCipher:
    """The configured cipher; built from the environment's settings on first use."""
    return _cipher if _cipher is not None else configure_cipher(get_settings())
