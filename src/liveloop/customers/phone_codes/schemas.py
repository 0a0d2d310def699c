"""API shapes of phone codes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from liveloop.core.schemas import OutModel, StrictModel

# What a buyer types from the text message; shared by every input that proves a phone
# (empty means none was given: the guest is then asked for one).
PhoneCodeValue = Annotated[
    str, Field(pattern=r"^(\d{6})?$", description="The 6-digit code texted to the phone")
]


class PhoneCodeIn(StrictModel):
    phone: str = Field(min_length=5, max_length=32, description="Mainland mobile number")


class PhoneCodeSentOut(OutModel):
    sent: bool = True
    retry_after_s: int = Field(description="Seconds before another code may be asked for")
    expires_at: dt.datetime
    demo_code: str | None = Field(
        None, description="Only with the demo SMS provider (no real phone receives the code)"
    )


class PhoneLoginIn(StrictModel):
    phone: str = Field(min_length=5, max_length=32)
    code: str = Field(pattern=r"^\d{6}$", description="The 6-digit code texted to the phone")


class PhoneLoginOut(OutModel):
    viewer_token: str
    customer_id: int
