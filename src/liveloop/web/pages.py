"""Console pages of no single domain: the dashboard, the language switch, areas to come."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from liveloop.analytics import overview
from liveloop.core.deps import DbSession
from liveloop.core.errors import register_html_error_page
from liveloop.shops import service as shops_service
from liveloop.shops.auth import check_csrf
from liveloop.web import i18n
from liveloop.web.console import CurrentShop, console_router, local_path, redirect
from liveloop.web.errors import render_error_page
from liveloop.web.nav import PLACEHOLDER_AREAS, NavItem
from liveloop.web.templating import render

register_html_error_page("/console", render_error_page)

router = APIRouter(include_in_schema=False)
console = console_router(prefix="/console")

LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=302)


@router.post("/console/language")
async def switch_language(
    request: Request,
    session: DbSession,
    language: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/console",
) -> RedirectResponse:
    """Works logged in or not (the login page has the switch too); remembered in the session,
    in a cookie that outlives logging out, and, when logged in, on the staff account, so the
    next login on any browser speaks the same language."""
    await check_csrf(request)
    chosen = i18n.normalize_language(language) or request.app.state.settings.default_language
    request.session[i18n.SESSION_KEY] = chosen
    staff_id = request.session.get("staff_id")
    if staff_id:
        await shops_service.set_staff_language(
            session=session, staff_id=int(staff_id), language=chosen
        )
    response = redirect(local_path(next))
    response.set_cookie(
        i18n.LANGUAGE_COOKIE,
        chosen,
        max_age=LANGUAGE_COOKIE_AGE,
        samesite="lax",
        httponly=True,
        secure=request.app.state.settings.cookie_secure,
    )
    return response


@console.get("", response_class=HTMLResponse)
async def dashboard(request: Request, session: DbSession, shop: CurrentShop) -> HTMLResponse:
    figures = await overview.shop_figures(session=session, shop_id=shop.id, timezone=shop.timezone)
    chart = await overview.new_customers_by_channel(
        session=session, shop_id=shop.id, timezone=shop.timezone, days=30
    )
    return render(
        request,
        "dashboard.html",
        {"figures": figures, "chart": chart, "title": i18n.translate(request, "Dashboard")},
    )


def _area_page(item: NavItem) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def area_to_come(request: Request) -> HTMLResponse:
        title = i18n.translate(request, item.label)
        return render(request, "placeholder.html", {"item": item, "title": title})

    return area_to_come


# Areas whose issues are still open: a tidy page instead of a 404. Explicit paths, not a
# catch-all, because the domains' routers are included after this one.
for _item in PLACEHOLDER_AREAS.values():
    console.add_api_route(
        _item.href.removeprefix("/console"),
        _area_page(_item),
        methods=["GET"],
        response_class=HTMLResponse,
        name=f"area_{_item.key}",
    )


router.include_router(console)
