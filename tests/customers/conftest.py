"""The customers tests encrypt PII with a cipher built from the test settings."""

from __future__ import annotations

import pytest

from liveloop.core.settings import Settings
from liveloop.customers import crypto


@pytest.fixture(autouse=True)
def pii_cipher(settings: Settings):  # type: ignore[no-untyped-def]
    # Per test, because the CLI test configures the cipher from its own settings.
    return crypto.configure_cipher(settings)
