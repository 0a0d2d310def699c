"""Console pages of the shop: login and logout, shop settings, staff, API keys, audit log."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from liveloop.core.database import paginate
from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, PermissionDenied
from liveloop.core.security import MIN_PASSWORD_LENGTH
from liveloop.shops import service
from liveloop.shops.auth import check_csrf, console_requires, csrf_token
from liveloop.shops.permissions import ROLE_LABELS, Permission, Role
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web import i18n
from liveloop.web.console import CurrentShop, console_router, local_path, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render, request_language

router = APIRouter(include_in_schema=False)
settings_pages = console_router(prefix="/console/settings")

ShopManager = Annotated[Actor, console_requires(P.SHOP_MANAGE)]
AuditReader = Annotated[Actor, console_requires(P.AUDIT_READ)]
FormErrors = (InvalidInput, Conflict, PermissionDenied)


def role_choices(request: Request) -> list[tuple[str, str]]:
    chinese = request_language(request) == "zh_CN"
    return [(str(role), ROLE_LABELS[role][0 if chinese else 1]) for role in Role]


# Login and logout -------------------------------------------------------------------------


def _login_page(
    request: Request, *, next: str, email: str, error: str | None, status: int
) -> HTMLResponse:
    return render(
        request,
        "login.html",
        {
            "next": local_path(next),
            "email": email,
            "error": error,
            "title": translate(request, N_("Log in")),
        },
        status_code=status,
    )


@router.get("/console/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/console") -> Response:
    if request.session.get("staff_id"):
        return redirect(local_path(next))
    return _login_page(request, next=next, email="", error=None, status=200)


@router.post("/console/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/console",
) -> Response:
    try:
        await check_csrf(request)
    except PermissionDenied:
        # Mostly a login page left open until the session cookie expired: the form again,
        # with a fresh token, rather than an error page.
        error = translate(request, N_("The login form had expired; log in again."))
        return _login_page(request, next=next, email=email, error=error, status=403)
    try:
        staff = await service.authenticate_staff(
            session=session,
            email=email,
            password=password,
            ip=request.client.host if request.client else None,
        )
    except InvalidInput:
        error = translate(request, N_("Wrong e-mail or password."))
        return _login_page(request, next=next, email=email, error=error, status=400)
    language = request.session.get(i18n.SESSION_KEY) or staff.language
    # A fresh session at login: no fixation, and a new CSRF token.
    request.session.clear()
    request.session["staff_id"] = staff.id
    if language:
        request.session[i18n.SESSION_KEY] = language
    csrf_token(request)
    return redirect(local_path(next))


@router.post("/console/logout")
async def logout(request: Request) -> RedirectResponse:
    await check_csrf(request)
    language = request.session.get(i18n.SESSION_KEY)
    request.session.clear()
    if language:
        request.session[i18n.SESSION_KEY] = language
    return redirect("/console/login")


# Shop ----------------------------------------------------------------------------------------


@settings_pages.get("")
async def settings_home() -> RedirectResponse:
    return redirect("/console/settings/shop")


def _shop_page(
    request: Request, shop: object, errors: dict[str, str], status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "settings/shop.html",
        {
            "errors": errors,
            "form": shop,
            "timezones": sorted(available_timezones()),
            "title": translate(request, N_("Shop")),
        },
        status_code=status,
    )


@settings_pages.get("/shop", response_class=HTMLResponse)
async def shop_settings(request: Request, actor: ShopManager, shop: CurrentShop) -> HTMLResponse:
    return _shop_page(request, shop, {})


@settings_pages.post("/shop", response_class=HTMLResponse)
async def update_shop(
    request: Request,
    session: DbSession,
    actor: ShopManager,
    name: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
) -> Response:
    if not name.strip():
        form = {"name": name, "timezone": timezone}
        return _shop_page(
            request, form, {"name": translate(request, N_("Enter the shop's name."))}, 422
        )
    try:
        await service.update_shop(session=session, actor=actor, name=name, timezone=timezone)
    except InvalidInput as exc:
        return _shop_page(
            request, {"name": name, "timezone": timezone}, {exc.field or "name": exc.message}, 422
        )
    flash(request, translate(request, N_("Shop settings saved.")))
    return redirect("/console/settings/shop")


# Staff ---------------------------------------------------------------------------------------


async def _staff_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "settings/staff.html",
        {
            "staff": await service.list_staff(session=session, shop_id=actor.shop_id),
            "roles": role_choices(request),
            "role_names": dict(role_choices(request)),
            "errors": errors or {},
            "form": form or {"email": "", "name": "", "role": str(Role.OPERATOR)},
            "title": translate(request, N_("Staff")),
        },
        status_code=status,
    )


@settings_pages.get("/staff", response_class=HTMLResponse)
async def staff_list(request: Request, session: DbSession, actor: ShopManager) -> HTMLResponse:
    return await _staff_page(request, session, actor)


@settings_pages.post("/staff", response_class=HTMLResponse)
async def create_staff(
    request: Request,
    session: DbSession,
    actor: ShopManager,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    form = {"email": email, "name": name, "role": role}
    errors: dict[str, str] = {}
    if "@" not in email:
        errors["email"] = translate(request, N_("Enter an e-mail address."))
    if not name.strip():
        errors["name"] = translate(request, N_("Enter a name."))
    if role not in {str(r) for r in Role}:
        errors["role"] = translate(request, N_("Choose a role."))
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = translate(
            request, N_("The password needs at least %(n)s characters."), n=MIN_PASSWORD_LENGTH
        )
    if not errors:
        try:
            await service.create_staff(
                session=session,
                shop_id=actor.shop_id,
                email=email,
                name=name,
                password=password,
                role=role,
                actor=actor,
            )
        except FormErrors as exc:
            errors[exc.field or "email"] = (
                translate(request, N_("Another account already uses this e-mail."))
                if exc.code == "staff_email_taken"
                else exc.message
            )
    if errors:
        return await _staff_page(request, session, actor, errors=errors, form=form, status=422)
    flash(request, translate(request, N_("%(email)s can now log in."), email=email.strip().lower()))
    return redirect("/console/settings/staff")


@settings_pages.post("/staff/{staff_id}/role")
async def change_role(
    request: Request,
    staff_id: int,
    session: DbSession,
    actor: ShopManager,
    role: Annotated[str, Form()] = "",
) -> Response:
    if role not in {str(r) for r in Role}:
        flash(request, translate(request, N_("Choose a role.")), "error")
        return redirect("/console/settings/staff")
    try:
        await service.change_staff_role(session=session, actor=actor, staff_id=staff_id, role=role)
    except (InvalidInput, Conflict) as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, translate(request, N_("Role changed.")))
    return redirect("/console/settings/staff")


@settings_pages.post("/staff/{staff_id}/{action}")
async def set_staff_active(
    request: Request, staff_id: int, action: str, session: DbSession, actor: ShopManager
) -> Response:
    if action not in ("deactivate", "activate"):
        return redirect("/console/settings/staff")
    try:
        await service.set_staff_active(
            session=session, actor=actor, staff_id=staff_id, active=action == "activate"
        )
    except InvalidInput as exc:
        flash(request, exc.message, "error")
    else:
        message = N_("Account activated.") if action == "activate" else N_("Account deactivated.")
        flash(request, translate(request, message))
    return redirect("/console/settings/staff")


# API keys ------------------------------------------------------------------------------------


async def _api_keys_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    *,
    created_key: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "settings/api_keys.html",
        {
            "keys": await service.list_api_keys(session=session, shop_id=actor.shop_id),
            "permissions": [str(p) for p in Permission if actor.can(p)],
            "created_key": created_key,
            "errors": errors or {},
            "title": translate(request, N_("API keys")),
        },
        status_code=status,
    )


@settings_pages.get("/api-keys", response_class=HTMLResponse)
async def api_keys(request: Request, session: DbSession, actor: ShopManager) -> HTMLResponse:
    return await _api_keys_page(request, session, actor)


@settings_pages.post("/api-keys", response_class=HTMLResponse)
async def create_api_key(request: Request, session: DbSession, actor: ShopManager) -> Response:
    form = await request.form()
    name = str(form.get("name") or "").strip()
    permissions = [str(value) for value in form.getlist("permissions")]
    if not name:
        errors = {
            "name": translate(request, N_("Give the key a name, such as the system using it."))
        }
        return await _api_keys_page(request, session, actor, errors=errors, status=422)
    try:
        _, key = await service.create_api_key(
            session=session, actor=actor, name=name, permissions=permissions
        )
    except FormErrors as exc:
        errors = {exc.field or "permissions": exc.message}
        return await _api_keys_page(request, session, actor, errors=errors, status=422)
    # Shown once, in this response only: never put in the session or a redirect.
    return await _api_keys_page(request, session, actor, created_key=key, status=201)


@settings_pages.post("/api-keys/{api_key_id}/revoke")
async def revoke_api_key(
    request: Request, api_key_id: int, session: DbSession, actor: ShopManager
) -> RedirectResponse:
    await service.revoke_api_key(session=session, actor=actor, api_key_id=api_key_id)
    flash(request, translate(request, N_("The key is revoked; requests using it now fail.")))
    return redirect("/console/settings/api-keys")


# Audit log -----------------------------------------------------------------------------------

# What an entry is about, in words; action codes stay codes (they are what the filter takes).
TARGET_LABELS = {
    "api_key": N_("API key"),
    "category": N_("Category"),
    "customer": N_("Customer"),
    "product": N_("Product"),
    "shop": N_("Shop"),
    "staff": N_("Staff"),
    "tag": N_("Tag"),
    "tag_group": N_("Tag group"),
}


@settings_pages.get("/audit", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    session: DbSession,
    actor: AuditReader,
    action: str = "",
    target_type: str = "",
    target_id: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    filters = {
        "action": action.strip(),
        "target_type": target_type.strip(),
        "target_id": target_id.strip(),
    }
    statement = await service.list_audit(
        session=session,
        shop_id=actor.shop_id,
        action=filters["action"] or None,
        target_type=filters["target_type"] or None,
        target_id=filters["target_id"] or None,
    )
    result = await paginate(session, statement, page=page, per_page=50)
    return render(
        request,
        "settings/audit.html",
        {
            "page": result,
            "filters": filters,
            "target_labels": {key: translate(request, text) for key, text in TARGET_LABELS.items()},
            "title": translate(request, N_("Audit log")),
        },
    )


router.include_router(settings_pages)
