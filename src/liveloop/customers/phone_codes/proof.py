"""Proving a phone on the way from guest to customer (order, group buy, assist, login)."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.errors import InvalidInput
from liveloop.customers.phone_codes import service
from liveloop.customers.phone_codes.service import PhoneCodeRejected
from liveloop.live.viewers import ViewerClaims


def refusal_response(error: PhoneCodeRejected) -> JSONResponse:
    """A refused code as a response rather than a raised error: the request's unit of work then
    commits, and the wrong try stays counted (raising would roll the count back and leave the
    6 digits open to guessing)."""
    return JSONResponse(error.as_dict(), status_code=error.status_code)


async def prove_guest_phone(
    *,
    session: AsyncSession,
    claims: ViewerClaims,
    phone: str,
    code: str | None,
    phone_field: str,
    code_field: str,
) -> int:
    """The customer a guest becomes by this phone, once the code texted to it is shown.

    422 phone_code_required without a code; PhoneCodeRejected (answer it with
    `refusal_response`) for a wrong, expired or dead one."""
    if not code:
        service.normalize_phone(phone, field=phone_field)  # a bad phone is named first
        raise InvalidInput(
            "confirm this phone number: tap 'Get code' and enter the 6 digits we text you",
            code="phone_code_required",
            field=code_field,
        )
    return await service.verify_phone_code(
        session=session,
        shop_id=claims.shop_id,
        phone=phone,
        code=code,
        device_id=claims.device_id,
        phone_field=phone_field,
        code_field=code_field,
    )
