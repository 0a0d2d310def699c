"""Viewer JSON routes of phone codes: ask for a code, log in with phone + code."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from liveloop.commerce.viewer_api import CurrentBuyer
from liveloop.core.deps import DbSession
from liveloop.customers.phone_codes import service
from liveloop.customers.phone_codes.proof import refusal_response
from liveloop.customers.phone_codes.schemas import (
    PhoneCodeIn,
    PhoneCodeSentOut,
    PhoneLoginIn,
    PhoneLoginOut,
)
from liveloop.customers.phone_codes.service import PhoneCodeRejected
from liveloop.customers.phone_codes.sms import sms_sender_for
from liveloop.live.viewers import sign_viewer_token

router = APIRouter(prefix="/api/v1/public", tags=["phone codes (viewer)"])


@router.post("/phone-codes", response_model=PhoneCodeSentOut, status_code=201)
async def send_code(
    data: PhoneCodeIn, request: Request, session: DbSession, claims: CurrentBuyer
) -> PhoneCodeSentOut:
    """Text a 6-digit code to this phone (valid 5 minutes, for this device). One per phone per
    60 s, 10 per phone and 20 per device a day: beyond that 429 with `retry_after_s`."""
    sender = sms_sender_for(request.app.state.settings)
    sent = await service.send_phone_code(
        session=session,
        shop_id=claims.shop_id,
        phone=data.phone,
        device_id=claims.device_id,
        sender=sender,
    )
    return PhoneCodeSentOut(
        retry_after_s=sent.retry_after_s,
        expires_at=sent.expires_at,
        demo_code=sent.code if sender.reveals_codes else None,
    )


@router.post("/phone-login", response_model=PhoneLoginOut)
async def phone_login(
    data: PhoneLoginIn, request: Request, session: DbSession, claims: CurrentBuyer
) -> PhoneLoginOut | JSONResponse:
    """Log in with phone + code ("my orders" on a new device): this token's claims with the
    phone's customer. The customer is created when the phone is new to the shop."""
    try:
        customer_id = await service.verify_phone_code(
            session=session,
            shop_id=claims.shop_id,
            phone=data.phone,
            code=data.code,
            device_id=claims.device_id,
        )
    except PhoneCodeRejected as refused:
        return refusal_response(refused)
    token = sign_viewer_token(
        request.app.state.settings, dataclasses.replace(claims, customer_id=customer_id)
    )
    return PhoneLoginOut(viewer_token=token, customer_id=customer_id)
