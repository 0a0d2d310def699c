"""What every console page shares: a router that loads the staff member and shop, redirects."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from liveloop.core.deps import DbSession
from liveloop.shops import service as shops_service
from liveloop.shops.auth import ConsoleActor
from liveloop.shops.models import Shop
from liveloop.shops.service import Actor
from liveloop.web.templating import remember_layout_shop


async def load_console(request: Request, session: DbSession, actor: ConsoleActor) -> Actor:
    """Log-in check (redirects to the login page), CSRF on writes, and the shop for the layout."""
    request.state.actor = actor
    request.state.shop = await shops_service.get_shop(session=session, shop_id=actor.shop_id)
    remember_layout_shop(request, request.state.shop)
    return actor


def console_router(**kwargs: Any) -> APIRouter:
    """Every route on it needs a logged-in staff member; permissions are declared per route."""
    return APIRouter(dependencies=[Depends(load_console)], include_in_schema=False, **kwargs)


async def current_shop(request: Request, _actor: Annotated[Actor, Depends(load_console)]) -> Shop:
    shop: Shop = request.state.shop
    return shop


CurrentShop = Annotated[Shop, Depends(current_shop)]


def redirect(url: str) -> RedirectResponse:
    """After a POST: see the result with a GET (303), also for HTMX-boosted forms."""
    return RedirectResponse(url, status_code=303)


def local_path(target: str | None, fallback: str = "/console") -> str:
    """Only paths on this site are followed after login (no open redirect)."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target:
        return fallback
    return target


def form_error_text(exc: Exception) -> str:
    """What a console form shows for a refused submission: the first validation message, or
    the error's own message."""
    if isinstance(exc, ValidationError):
        return str(exc.errors()[0]["msg"])
    return str(getattr(exc, "message", exc))
