"""Personal join links of welfare offers: signed tokens that bind a customer to an offer (and
so to its live session and community), and their QR codes.

A token reads ``{offer_id}.{customer_id}.{expires}.{signature}``: the signature is
HMAC-SHA256, keyed from the site secret, over the shop, the live session, the offer, the
customer and the expiry (base64url, 32 characters). Anything else in the token (a changed id or
expiry) fails the signature; the expiry is checked only once the signature holds.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import ClassVar

from liveloop.core.errors import Conflict, LiveLoopError, PermissionDenied
from liveloop.core.security import derive_key
from liveloop.customers.channel_codes.qr import qr_image

LINK_TTL = dt.timedelta(hours=2)  # long enough to find the group, short enough to not linger
SIGNATURE_CHARS = 32
MAX_TOKEN_CHARS = 120
PAGE_PATH = "/live/welfare/{token}"
QR_PATH = "/api/v1/public/welfare-links/{token}/qr.png"


class LinkMalformed(LiveLoopError):
    status_code: ClassVar[int] = 400
    default_code: ClassVar[str] = "welfare_link_invalid"


class LinkForged(PermissionDenied):
    default_code: ClassVar[str] = "welfare_link_forged"


class LinkUsed(Conflict):
    """A replay: the link's join was settled already (by this link or the channel)."""

    default_code: ClassVar[str] = "welfare_link_used"


class LinkExpired(LiveLoopError):
    status_code: ClassVar[int] = 410
    default_code: ClassVar[str] = "welfare_link_expired"


@dataclass(frozen=True)
class LinkParts:
    offer_id: int
    customer_id: int
    expires: int  # Unix seconds
    signature: str

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.expires, dt.UTC)


def _key(secret: str) -> bytes:
    return derive_key(secret, "live-welfare-join-link")


def _signature(
    secret: str,
    *,
    shop_id: int,
    live_session_id: int,
    offer_id: int,
    customer_id: int,
    expires: int,
) -> str:
    message = f"welfare:{shop_id}:{live_session_id}:{offer_id}:{customer_id}:{expires}".encode()
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]


def sign_link(
    secret: str,
    *,
    shop_id: int,
    live_session_id: int,
    offer_id: int,
    customer_id: int,
    expires_at: dt.datetime,
) -> str:
    expires = int(expires_at.timestamp())
    signature = _signature(
        secret, shop_id=shop_id, live_session_id=live_session_id, offer_id=offer_id,
        customer_id=customer_id, expires=expires,
    )  # fmt: skip
    return f"{offer_id}.{customer_id}.{expires}.{signature}"


def parse_link(token: str) -> LinkParts:
    """The token's parts; LinkMalformed when it is not a welfare link at all."""
    refused = LinkMalformed(
        "this is not a welfare join link; open the link from the live room again",
        field="token",
    )
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise refused
    pieces = token.strip().split(".")
    if len(pieces) != 4 or not all(p.isdigit() and len(p) <= 19 for p in pieces[:3]):
        raise refused
    if len(pieces[3]) != SIGNATURE_CHARS:
        raise refused
    offer_id, customer_id, expires = (int(p) for p in pieces[:3])
    if offer_id < 1 or customer_id < 1:
        raise refused
    return LinkParts(offer_id, customer_id, expires, pieces[3])


def check_link(
    secret: str, parts: LinkParts, *, shop_id: int, live_session_id: int, now: dt.datetime
) -> None:
    """LinkForged when the signature does not hold for this offer; LinkExpired after expiry."""
    expected = _signature(
        secret, shop_id=shop_id, live_session_id=live_session_id, offer_id=parts.offer_id,
        customer_id=parts.customer_id, expires=parts.expires,
    )  # fmt: skip
    if not hmac.compare_digest(expected, parts.signature):
        raise LinkForged(
            "this join link was not issued by the shop (or was changed); tap the offer in the "
            "live room to get your own link",
            field="token",
        )
    if now.timestamp() >= parts.expires:
        raise LinkExpired(
            "this join link has expired; tap the offer in the live room again for a new one",
            field="token",
        )


def page_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + PAGE_PATH.format(token=token)


def qr_url(token: str) -> str:
    return QR_PATH.format(token=token)


def link_qr_png(url: str) -> bytes:
    return qr_image(url, "png", scale=6)
