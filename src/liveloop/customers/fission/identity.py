"""The invite page's identity step, in one place: who the viewer is, whether they are new to the
shop, and their phone's lookup key.

A guest names themselves by a mainland mobile number and proves it with the code texted to it
(customers.phone_codes, as at checkout); a customer token needs neither.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.customers.fission.service import phone_key_of
from liveloop.live.viewers import ViewerClaims, sign_viewer_token


@dataclass(frozen=True)
class Identified:
    customer_id: int
    was_new: bool  # created by this step (the service also checks it is newer than the link)
    phone_key: str | None
    viewer_token: str | None  # a fresh token when a guest became a customer


async def identify_viewer(
    request: Request,
    session: AsyncSession,
    claims: ViewerClaims,
    *,
    phone: str | None,
    code: str | None,
    name: str,
) -> Identified | None:
    """The viewer as a customer, or None for a guest who gave no phone number."""
    if claims.customer_id is not None:
        # A customer token: whether they are new is decided by their record's age (service).
        return Identified(
            customer_id=claims.customer_id,
            was_new=True,
            phone_key=await phone_key_of(session, claims.shop_id, claims.customer_id),
            viewer_token=None,
        )
    if not phone:
        return None
    from liveloop.customers import service as customers_service
    from liveloop.customers.crypto import get_cipher
    from liveloop.customers.identities import make_identity

    value = make_identity(get_cipher(), "phone", phone, encrypt=False)
    found = await customers_service.lookup_identities(
        session=session, shop_id=claims.shop_id, keys=[value.lookup]
    )
    from liveloop.customers.phone_codes.proof import prove_guest_phone

    # Raises phone_code_required / PhoneCodeRejected: a typed number alone proves nothing.
    customer_id = await prove_guest_phone(
        session=session,
        claims=claims,
        phone=phone,
        code=code,
        phone_field="phone",
        code_field="phone_code",
    )
    was_new = value.lookup not in found
    token = sign_viewer_token(
        request.app.state.settings,
        dataclasses.replace(claims, customer_id=customer_id, name=name or claims.name),
    )
    return Identified(
        customer_id=customer_id,
        was_new=was_new,
        phone_key=value.key,
        viewer_token=token,
    )
