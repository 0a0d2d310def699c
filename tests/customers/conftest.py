"""The customers tests encrypt PII with a cipher built from the test settings."""

from __future__ import annotations

import pytest

from liveloop.core.settings import Settings
from liveloop.customers import crypto


@pytest.fixture(autouse=True, scope="session")
def pii_cipher(settings: Settings):  # type: ignore[no-untyped-def]
    return crypto.configure_cipher(settings)
