"""WeCom (企业微信) callback crypto and event parsing, shaped on its public "接收事件服务器" API.

WeCom signs every callback with ``msg_signature = sha1(sort(token, timestamp, nonce, encrypt))``
and encrypts the message with AES-256-CBC: the key is the base64 of the 43-character
EncodingAESKey (plus "="), the IV its first 16 bytes, the padding PKCS#7 to 32-byte blocks, and
the plaintext is ``random(16) + len(msg) (4 bytes, big endian) + msg + receive_id (corp id)``.
`WecomCrypto` does both directions (encrypting is what tests and simulators need); the outreach
domain reuses it for its own callbacks. Pure functions: no database, no HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16
MAX_BODY = 256 * 1024


class WecomCallbackError(Exception):
    """A callback that fails verification or cannot be read; `forged` when the signature is bad."""

    def __init__(self, message: str, *, forged: bool = False) -> None:
        super().__init__(message)
        self.forged = forged


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def _pad(data: bytes) -> bytes:
    amount = BLOCK - len(data) % BLOCK
    return data + bytes([amount]) * amount


def _unpad(data: bytes) -> bytes:
    amount = data[-1] if data else 0
    if not 1 <= amount <= BLOCK or data[-amount:] != bytes([amount]) * amount:
        raise WecomCallbackError("bad padding in the decrypted message")
    return data[:-amount]


class WecomCrypto:
    def __init__(self, *, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("an EncodingAESKey has 43 characters")
        self.token = token
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.receive_id = receive_id

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, *, random: bytes | None = None) -> str:
        body = message.encode()
        plain = (random or os.urandom(16)) + struct.pack(">I", len(body)) + body
        plain += self.receive_id.encode()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(_pad(plain)) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except ValueError:
            raise WecomCallbackError("the Encrypt field is not base64") from None
        if not raw or len(raw) % 16:
            raise WecomCallbackError("the Encrypt field has a bad length")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(raw) + decryptor.finalize())
        if len(plain) < 20:
            raise WecomCallbackError("the decrypted message is too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise WecomCallbackError("the decrypted message is truncated")
        if receive_id.decode(errors="replace") != self.receive_id:
            raise WecomCallbackError("the message was encrypted for another corp id", forged=True)
        return message.decode()

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, msg_signature.lower()):
            raise WecomCallbackError("msg_signature does not match", forged=True)

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The GET WeCom sends when the callback URL is saved: answer with the plain echostr."""
        self.verify(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def open_message(self, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> str:
        """Verify and decrypt a POSTed callback; returns the inner XML."""
        encrypted = read_xml(body).get("Encrypt", "")
        if not encrypted:
            raise WecomCallbackError("the callback has no Encrypt field")
        self.verify(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def seal_message(self, message: str, *, timestamp: str, nonce: str) -> tuple[bytes, str]:
        """What WeCom would POST for `message`: the body and its msg_signature."""
        encrypted = self.encrypt(message)
        body = (
            f"<xml><ToUserName><![CDATA[{self.receive_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>"
        ).encode()
        return body, signature(self.token, timestamp, nonce, encrypted)


def read_xml(body: bytes | str) -> dict[str, str]:
    """The flat text fields of a WeCom XML message (DOCTYPE/entities refused, size bounded)."""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_BODY:
        raise WecomCallbackError("the callback body is too large")
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise WecomCallbackError("the callback body declares a DOCTYPE")
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError:
        raise WecomCallbackError("the callback body is not XML") from None
    return {child.tag: (child.text or "").strip() for child in root}


@dataclass
class WecomEvent:
    """One decrypted event, reduced to what LiveLoop acts on."""

    event: str
    change_type: str
    staff_user_id: str = ""
    external_user_id: str = ""
    state: str = ""
    welcome_code: str = ""
    chat_id: str = ""
    update_detail: str = ""
    members: list[str] = field(default_factory=list)
    create_time: int = 0


def parse_event(message: str) -> WecomEvent:
    """`change_external_contact` (add_external_contact, del_external_contact, ...) and
    `change_external_chat` (update with add_member / del_member and MemChangeList)."""
    fields = read_xml(message)
    root = ElementTree.fromstring(message.encode())
    members = [(item.text or "").strip() for item in root.iter("Item")]
    try:
        created = int(fields.get("CreateTime") or 0)
    except ValueError:
        created = 0
    return WecomEvent(
        event=fields.get("Event", ""),
        change_type=fields.get("ChangeType", ""),
        staff_user_id=fields.get("UserID", ""),
        external_user_id=fields.get("ExternalUserID", ""),
        state=fields.get("State", ""),
        welcome_code=fields.get("WelcomeCode", ""),
        chat_id=fields.get("ChatId", ""),
        update_detail=fields.get("UpdateDetail", ""),
        members=[m for m in members if m],
        create_time=created,
    )


def is_external_user_id(user_id: str) -> bool:
    """WeCom's external contact ids start with "wm" or "wo"; a group's staff members do not."""
    return user_id.startswith(("wm", "wo"))
