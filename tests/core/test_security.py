import hashlib
import hmac

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from liveloop.core.logging import configure_logging
from liveloop.core.security import (
    PiiCipher,
    TokenSigner,
    api_key_prefix,
    hash_password,
    mask_email,
    mask_phone,
    new_api_key,
    verify_password,
)

cipher = PiiCipher.from_secret("s" * 40)


@given(st.text(min_size=12, max_size=200))
def test_pii_roundtrip_and_ciphertext_hides_value(value: str) -> None:
    blob = cipher.encrypt(value)
    assert cipher.decrypt(blob) == value
    assert value.encode() not in blob
    assert cipher.encrypt(value) != blob  # fresh nonce each time


def test_lookup_hash_is_keyed_and_stable() -> None:
    other = PiiCipher.from_secret("t" * 40)
    assert cipher.lookup_hash("13812345678") == cipher.lookup_hash("13812345678")
    assert cipher.lookup_hash("13812345678") != other.lookup_hash("13812345678")


@given(st.text(max_size=300))
def test_lookup_hash_is_hmac_sha256_of_the_lookup_key(value: str) -> None:
    # The prepared-state shortcut must give exactly what the standard HMAC gives (stored
    # hashes stay valid), also for keys longer than SHA-256's block.
    for key in (b"k" * 32, b"long" * 40):
        expected = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
        assert PiiCipher(b"x" * 32, key).lookup_hash(value) == expected


def test_tampered_ciphertext_is_refused() -> None:
    blob = bytearray(cipher.encrypt("13812345678"))
    blob[-1] ^= 1
    with pytest.raises(Exception):  # noqa: B017  (cryptography raises InvalidTag)
        cipher.decrypt(bytes(blob))


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("13812345678", "138****5678"), ("+8613812345678", "138****5678"), ("12345", "*****")],
)
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


def test_mask_email() -> None:
    assert mask_email("zhangwei@example.com") == "z***i@example.com"
    assert mask_email("ab@x.cn") == "a*@x.cn"


def test_passwords_are_argon2_and_verified() -> None:
    stored = hash_password("correct-horse-42")
    assert stored.startswith("$argon2")
    assert verify_password(stored, "correct-horse-42")
    assert not verify_password(stored, "wrong")
    assert not verify_password("garbage", "wrong")


def test_api_key_format() -> None:
    key, prefix, key_hash = new_api_key()
    assert api_key_prefix(key) == prefix
    assert key not in key_hash
    assert api_key_prefix("Bearer nonsense") is None


def test_token_signer_rejects_tampering_and_expiry() -> None:
    signer = TokenSigner("s" * 40, "viewer")
    token = signer.sign({"customer_id": 7})
    assert signer.unsign(token, max_age=60) == {"customer_id": 7}
    with pytest.raises(ValueError, match="invalid"):
        signer.unsign(token[:-2] + "xx", max_age=60)
    with pytest.raises(ValueError, match="invalid"):
        TokenSigner("s" * 40, "other").unsign(token, max_age=60)
    with pytest.raises(ValueError, match="expired"):
        signer.unsign(token, max_age=-1)


def test_logs_redact_secrets_and_pii(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")
    structlog.get_logger("test").info("login", password="hunter22", phone="13812345678", staff_id=3)
    err = capsys.readouterr().err
    assert "hunter22" not in err
    assert "13812345678" not in err
    assert "staff_id=3" in err
    configure_logging("warning")
