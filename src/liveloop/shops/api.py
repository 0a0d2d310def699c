"""JSON routes of shops, staff, API keys and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from liveloop.core.database import paginate
from liveloop.core.deps import DbSession
from liveloop.core.schemas import PageOut
from liveloop.shops import service
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AuditOut,
    MeOut,
    ShopOut,
    ShopUpdate,
    StaffCreate,
    StaffOut,
    StaffRoleChange,
)
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["shop"], dependencies=[Depends(current_actor)])

ShopManager = Annotated[Actor, requires(P.SHOP_MANAGE)]


@router.get("/me", response_model=MeOut)
async def me(session: DbSession, actor: Annotated[Actor, Depends(current_actor)]) -> MeOut:
    shop = await service.get_shop(session=session, shop_id=actor.shop_id)
    return MeOut(
        shop=ShopOut.model_validate(shop),
        label=actor.label,
        role=actor.role,
        permissions=sorted(actor.permissions),
    )


@router.patch("/shop", response_model=ShopOut)
async def update_shop(data: ShopUpdate, session: DbSession, actor: ShopManager) -> ShopOut:
    shop = await service.update_shop(
        session=session, actor=actor, name=data.name, timezone=data.timezone
    )
    return ShopOut.model_validate(shop)


@router.get("/staff", response_model=list[StaffOut])
async def list_staff(session: DbSession, actor: ShopManager) -> list[StaffOut]:
    return [
        StaffOut.model_validate(s)
        for s in await service.list_staff(session=session, shop_id=actor.shop_id)
    ]


@router.post("/staff", response_model=StaffOut, status_code=201)
async def create_staff(data: StaffCreate, session: DbSession, actor: ShopManager) -> StaffOut:
    staff = await service.create_staff(
        session=session,
        shop_id=actor.shop_id,
        email=data.email,
        name=data.name,
        password=data.password,
        role=data.role,
        actor=actor,
    )
    return StaffOut.model_validate(staff)


@router.put("/staff/{staff_id}/role", response_model=StaffOut)
async def change_role(
    staff_id: int, data: StaffRoleChange, session: DbSession, actor: ShopManager
) -> StaffOut:
    staff = await service.change_staff_role(
        session=session, actor=actor, staff_id=staff_id, role=data.role
    )
    return StaffOut.model_validate(staff)


@router.post("/staff/{staff_id}/deactivate", response_model=StaffOut)
async def deactivate_staff(staff_id: int, session: DbSession, actor: ShopManager) -> StaffOut:
    staff = await service.set_staff_active(
        session=session, actor=actor, staff_id=staff_id, active=False
    )
    return StaffOut.model_validate(staff)


@router.get("/api-keys", response_model=list[ApiKeyOut])
async def list_api_keys(session: DbSession, actor: ShopManager) -> list[ApiKeyOut]:
    keys = await service.list_api_keys(session=session, shop_id=actor.shop_id)
    return [ApiKeyOut.model_validate(k) for k in keys]


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
async def create_api_key(
    data: ApiKeyCreate, session: DbSession, actor: ShopManager
) -> ApiKeyCreated:
    api_key, key = await service.create_api_key(
        session=session, actor=actor, name=data.name, permissions=data.permissions
    )
    return ApiKeyCreated.model_validate(
        {**ApiKeyOut.model_validate(api_key).model_dump(), "key": key}
    )


@router.delete("/api-keys/{api_key_id}", response_model=ApiKeyOut)
async def revoke_api_key(api_key_id: int, session: DbSession, actor: ShopManager) -> ApiKeyOut:
    return ApiKeyOut.model_validate(
        await service.revoke_api_key(session=session, actor=actor, api_key_id=api_key_id)
    )


@router.get("/audit", response_model=PageOut[AuditOut])
async def list_audit(
    session: DbSession,
    actor: Annotated[Actor, requires(P.AUDIT_READ)],
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PageOut[AuditOut]:
    statement = await service.list_audit(
        session=session,
        shop_id=actor.shop_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
    )
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[AuditOut].of(result, AuditOut)
