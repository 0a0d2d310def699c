"""Who is calling: console staff (signed session cookie + CSRF) or an API key; permission checks."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from liveloop.core.deps import DbSession
from liveloop.core.errors import PermissionDenied, Unauthenticated
from liveloop.shops import service as shops_service
from liveloop.shops.permissions import Permission
from liveloop.shops.service import Actor

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use; forms embed it, HTMX sends it as a header."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def check_csrf(request: Request) -> None:
    if request.method not in UNSAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise PermissionDenied(
            "the form has expired or did not come from LiveLoop; reload the page and try again",
            code="csrf_failed",
            field=CSRF_FIELD,
        )


async def _staff_actor(request: Request, session: Any) -> Actor | None:
    staff_id = request.session.get("staff_id")
    if not staff_id:
        return None
    staff = await shops_service.get_active_staff(session=session, staff_id=int(staff_id))
    if staff is None:
        request.session.clear()
        return None
    return shops_service.actor_for_staff(staff, ip=client_ip(request))


async def current_actor(request: Request, session: DbSession) -> Actor:
    """API routes: a Bearer API key, or the console session (then CSRF applies to writes)."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        actor = await shops_service.authenticate_api_key(
            session=session, key=authorization[7:].strip(), ip=client_ip(request)
        )
        if actor is None:
            raise Unauthenticated(
                "the API key is unknown or revoked", code="invalid_api_key", field="authorization"
            )
        return actor
    actor = await _staff_actor(request, session)
    if actor is None:
        raise Unauthenticated("log in to the console or send 'Authorization: Bearer <API key>'")
    await check_csrf(request)
    return actor


async def console_actor(request: Request, session: DbSession) -> Actor:
    """Console pages: the logged-in staff member, or a redirect to the login page."""
    actor = await _staff_actor(request, session)
    if actor is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise StarletteHTTPException(
            status_code=303, headers={"Location": f"/console/login?next={target}"}
        )
    await check_csrf(request)
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
ConsoleActor = Annotated[Actor, Depends(console_actor)]


def requires(permission: Permission) -> Any:
    """`actor: Annotated[Actor, requires(P.CUSTOMERS_READ)]` — declared per route, checked once."""

    async def check(actor: CurrentActor) -> Actor:
        actor.check(permission)
        return actor

    return Depends(check)


def console_requires(permission: Permission) -> Any:
    async def check(actor: ConsoleActor) -> Actor:
        actor.check(permission)
        return actor

    return Depends(check)
