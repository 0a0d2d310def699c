"""Shops, staff accounts, API keys and the audit log: reads and writes, no HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from liveloop.core.security import (
    MIN_PASSWORD_LENGTH,
    api_key_prefix,
    hash_api_key,
    hash_password,
    new_api_key,
    verify_password,
)
from liveloop.shops.models import ApiKey, AuditEntry, Shop, Staff
from liveloop.shops.permissions import Permission, Role, permissions_for


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff member (console) or an API key (integrator), inside one shop."""

    shop_id: int
    label: str
    permissions: frozenset[str]
    staff_id: int | None = None
    api_key_id: int | None = None
    role: str | None = None
    ip: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def can(self, permission: Permission | str) -> bool:
        return str(permission) in self.permissions

    def check(self, permission: Permission | str) -> None:
        if not self.can(permission):
            raise PermissionDenied(
                f"{self.label} lacks the permission {permission}", code="permission_denied"
            )


def system_actor(shop_id: int, label: str = "system") -> Actor:
    return Actor(shop_id=shop_id, label=label, permissions=frozenset(str(p) for p in Permission))


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai", field="timezone"
        )
    return name


async def create_shop(
    *, session: AsyncSession, name: str, timezone: str = "Asia/Shanghai", currency: str = "CNY"
) -> Shop:
    shop = Shop(name=name.strip(), timezone=check_timezone(timezone), currency=currency)
    session.add(shop)
    await session.flush()
    return shop


async def get_shop(*, session: AsyncSession, shop_id: int) -> Shop:
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise NotFound(f"shop {shop_id} was not found", code="shop_not_found")
    return shop


async def update_shop(
    *, session: AsyncSession, actor: Actor, name: str | None = None, timezone: str | None = None
) -> Shop:
    shop = await get_shop(session=session, shop_id=actor.shop_id)
    if name is not None:
        shop.name = name.strip()
    if timezone is not None:
        shop.timezone = check_timezone(timezone)
    await record_audit(
        session=session,
        actor=actor,
        action="shop.update",
        target_type="shop",
        target_id=shop.id,
        details={"name": shop.name, "timezone": shop.timezone},
    )
    return shop


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )


async def create_staff(
    *,
    session: AsyncSession,
    shop_id: int,
    email: str,
    name: str,
    password: str,
    role: Role | str,
    actor: Actor | None = None,
) -> Staff:
    email = email.strip().lower()
    check_password(password)
    role = Role(role)
    existing = (await session.execute(select(Staff.id).where(Staff.email == email))).first()
    if existing:
        raise Conflict(
            f"a staff account with e-mail {email} already exists",
            code="staff_email_taken",
            field="email",
        )
    staff = Staff(
        shop_id=shop_id,
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
    )
    session.add(staff)
    await session.flush()
    if actor is not None:
        await record_audit(
            session=session,
            actor=actor,
            action="staff.create",
            target_type="staff",
            target_id=staff.id,
            details={"role": str(role)},
        )
    return staff


async def list_staff(*, session: AsyncSession, shop_id: int) -> list[Staff]:
    return list((await session.execute(scoped(Staff, shop_id).order_by(Staff.id))).scalars())


async def change_staff_role(
    *, session: AsyncSession, actor: Actor, staff_id: int, role: Role | str
) -> Staff:
    staff = await get_scoped(
        session, Staff, shop_id=actor.shop_id, record_id=staff_id, label="staff"
    )
    new_role = Role(role)
    if staff.id == actor.staff_id and new_role != Role.OWNER:
        raise InvalidInput("you cannot lower your own role; ask another owner", field="role")
    old_role = staff.role
    staff.role = new_role
    await record_audit(
        session=session,
        actor=actor,
        action="staff.role_change",
        target_type="staff",
        target_id=staff.id,
        details={"from": old_role, "to": str(new_role)},
    )
    return staff


async def set_staff_active(
    *, session: AsyncSession, actor: Actor, staff_id: int, active: bool
) -> Staff:
    staff = await get_scoped(
        session, Staff, shop_id=actor.shop_id, record_id=staff_id, label="staff"
    )
    if staff.id == actor.staff_id and not active:
        raise InvalidInput("you cannot deactivate your own account", field="active")
    staff.is_active = active
    await record_audit(
        session=session,
        actor=actor,
        action="staff.activate" if active else "staff.deactivate",
        target_type="staff",
        target_id=staff.id,
    )
    return staff


async def authenticate_staff(
    *, session: AsyncSession, email: str, password: str, ip: str | None = None
) -> Staff:
    """Check a console login; the failure message does not say which half was wrong."""
    staff = (
        await session.execute(select(Staff).where(Staff.email == email.strip().lower()))
    ).scalar_one_or_none()
    if staff is None or not staff.is_active or not verify_password(staff.password_hash, password):
        if staff is not None:
            await record_audit(
                session=session,
                actor=actor_for_staff(staff, ip=ip),
                action="login.failed",
                target_type="staff",
                target_id=staff.id,
            )
        raise InvalidInput("wrong e-mail or password", code="login_failed", field="password")
    staff.last_login_at = utcnow()
    await record_audit(
        session=session,
        actor=actor_for_staff(staff, ip=ip),
        action="login",
        target_type="staff",
        target_id=staff.id,
    )
    return staff


def actor_for_staff(staff: Staff, *, ip: str | None = None) -> Actor:
    return Actor(
        shop_id=staff.shop_id,
        label=f"{staff.name} <{staff.email}>",
        staff_id=staff.id,
        role=staff.role,
        permissions=frozenset(str(p) for p in permissions_for(staff.role)),
        ip=ip,
    )


async def get_active_staff(*, session: AsyncSession, staff_id: int) -> Staff | None:
    staff = await session.get(Staff, staff_id)
    return staff if staff is not None and staff.is_active else None


def check_api_key_permissions(actor: Actor, requested: Iterable[str]) -> list[str]:
    requested = sorted(set(requested))
    known = {str(p) for p in Permission}
    for name in requested:
        if name not in known:
            raise InvalidInput(f"unknown permission {name!r}", field="permissions")
        if not actor.can(name):
            raise PermissionDenied(
                f"you cannot grant {name}, which you do not hold", field="permissions"
            )
    if not requested:
        raise InvalidInput("an API key needs at least one permission", field="permissions")
    return requested


async def create_api_key(
    *, session: AsyncSession, actor: Actor, name: str, permissions: Iterable[str]
) -> tuple[ApiKey, str]:
    """Create a key; the full secret is returned once and only its hash is stored."""
    granted = check_api_key_permissions(actor, permissions)
    key, prefix, key_hash = new_api_key()
    api_key = ApiKey(
        shop_id=actor.shop_id,
        name=name.strip(),
        prefix=prefix,
        key_hash=key_hash,
        permissions=granted,
        created_by_id=actor.staff_id,
    )
    session.add(api_key)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="api_key.create",
        target_type="api_key",
        target_id=api_key.id,
        details={"name": api_key.name, "permissions": granted},
    )
    return api_key, key


async def list_api_keys(*, session: AsyncSession, shop_id: int) -> list[ApiKey]:
    return list((await session.execute(scoped(ApiKey, shop_id).order_by(ApiKey.id))).scalars())


async def revoke_api_key(*, session: AsyncSession, actor: Actor, api_key_id: int) -> ApiKey:
    api_key = await get_scoped(
        session, ApiKey, shop_id=actor.shop_id, record_id=api_key_id, label="api_key"
    )
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        await record_audit(
            session=session,
            actor=actor,
            action="api_key.revoke",
            target_type="api_key",
            target_id=api_key.id,
        )
    return api_key


async def authenticate_api_key(
    *, session: AsyncSession, key: str, ip: str | None = None
) -> Actor | None:
    prefix = api_key_prefix(key)
    if prefix is None:
        return None
    api_key = (
        await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))
    ).scalar_one_or_none()
    if api_key is None or api_key.revoked_at is not None or api_key.key_hash != hash_api_key(key):
        return None
    now = utcnow()
    if api_key.last_used_at is None or now - api_key.last_used_at > dt.timedelta(minutes=1):
        await session.execute(
            update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now)
        )
    return Actor(
        shop_id=api_key.shop_id,
        label=f"API key {api_key.name} ({api_key.prefix})",
        api_key_id=api_key.id,
        permissions=frozenset(api_key.permissions),
        ip=ip,
    )


async def record_audit(
    *,
    session: AsyncSession,
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: int | str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        shop_id=actor.shop_id,
        actor_staff_id=actor.staff_id,
        actor_api_key_id=actor.api_key_id,
        actor_label=actor.label,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details or {},
        ip=actor.ip,
    )
    session.add(entry)
    await session.flush()
    return entry


async def list_audit(
    *,
    session: AsyncSession,
    shop_id: int,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
) -> Any:
    statement = scoped(AuditEntry, shop_id).order_by(AuditEntry.id.desc())
    if action:
        statement = statement.where(AuditEntry.action == action)
    if target_type:
        statement = statement.where(AuditEntry.target_type == target_type)
    if target_id:
        statement = statement.where(AuditEntry.target_id == target_id)
    return statement


async def set_staff_language(*, session: AsyncSession, staff_id: int, language: str | None) -> bool:
    """Remember the console language a staff member chose ('zh_CN', 'en'; None: follow the
    browser); login reads it back. False when there is no such account."""
    if language is not None and not 1 <= len(language) <= 8:
        raise InvalidInput(f"{language!r} is not a language code", field="language")
    result = await session.execute(
        update(Staff).where(Staff.id == staff_id).values(language=language)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
