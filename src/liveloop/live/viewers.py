"""Viewer tokens: who is watching (a customer, or a guest device), signed and short-lived.

A token is issued by ``POST /api/v1/live/{id}/viewer-token`` and presented when joining the room
socket and when buying from the room (``Authorization: Bearer <token>`` on the viewer API).
The same token with ``live_session_id`` None is a mall token (commerce outside a live session).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from liveloop.core.errors import Unauthenticated
from liveloop.core.security import TokenSigner
from liveloop.core.settings import Settings

VIEWER_TOKEN_SALT = "liveloop.viewer"
VIEWER_TOKEN_TTL = 12 * 3600  # seconds; a viewer page asks for a new one when it expires

ROLE_VIEWER = "viewer"
ROLE_STAFF = "staff"  # anchor or room admin: may moderate; shown with a badge


@dataclass(frozen=True)
class ViewerClaims:
    shop_id: int
    live_session_id: int | None
    customer_id: int | None
    device_id: str
    name: str  # display name in the room (already masked/nicknamed, never a phone number)
    role: str = ROLE_VIEWER
    staff_id: int | None = None
    source_code: str = ""  # entry link code the viewer came through
    share_code: str = ""  # share link code the viewer came through

    @property
    def viewer_key(self) -> str:
        """One viewer, counted once however many tabs: the customer, else the device."""
        if self.customer_id is not None:
            return f"c:{self.customer_id}"
        if self.staff_id is not None:
            return f"s:{self.staff_id}"
        return f"d:{self.device_id}"

    @property
    def is_staff(self) -> bool:
        return self.role == ROLE_STAFF


def _signer(settings: Settings) -> TokenSigner:
    return TokenSigner(settings.resolved_secret_key(), VIEWER_TOKEN_SALT)


def sign_viewer_token(settings: Settings, claims: ViewerClaims) -> str:
    return _signer(settings).sign(asdict(claims))


def read_viewer_token(
    settings: Settings, token: str, *, max_age: int = VIEWER_TOKEN_TTL
) -> ViewerClaims:
    """The claims of a valid token; ``Unauthenticated`` with code token_expired/token_invalid."""
    try:
        payload = _signer(settings).unsign(token, max_age=max_age)
        return ViewerClaims(**payload)
    except ValueError as exc:
        if str(exc) == "expired":
            raise Unauthenticated(
                "The viewer token has expired; reload the page to get a new one.",
                code="token_expired",
            ) from None
        raise Unauthenticated("The viewer token is not valid.", code="token_invalid") from None
    except TypeError:
        raise Unauthenticated("The viewer token is not valid.", code="token_invalid") from None
