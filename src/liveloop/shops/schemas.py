"""API shapes of shops, staff, API keys and audit entries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import EmailStr, Field

from liveloop.core.schemas import OutModel, StrictModel
from liveloop.shops.permissions import Role


class ShopOut(OutModel):
    id: int
    name: str
    timezone: str
    currency: str


class ShopUpdate(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    timezone: str | None = Field(None, max_length=64)


class StaffCreate(StrictModel):
    email: EmailStr
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=200)
    role: Role


class StaffRoleChange(StrictModel):
    role: Role


class StaffOut(OutModel):
    id: int
    email: str
    name: str
    role: str
    is_active: bool
    last_login_at: dt.datetime | None


class ApiKeyCreate(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    permissions: list[str] = Field(min_length=1)


class ApiKeyOut(OutModel):
    id: int
    name: str
    prefix: str
    permissions: list[str]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. It is shown only this once; store it now.")


class AuditOut(OutModel):
    id: int
    created_at: dt.datetime
    actor_label: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    ip: str | None


class MeOut(StrictModel):
    shop: ShopOut
    label: str
    role: str | None
    permissions: list[str]
