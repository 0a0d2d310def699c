"""Renders console pages: one Jinja environment per language, and `render()` for routes."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup

from liveloop.shops.auth import csrf_token
from liveloop.web import i18n
from liveloop.web.nav import active_key, nav_for

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
DEFAULT_TIMEZONE = "Asia/Shanghai"
FLASH_KEY = "flash"


def format_money(fen: int | None, currency_sign: str = "¥") -> str:
    """Integer fen -> '¥1,234.56'; negative amounts keep the sign in front: '-¥3.00'."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{currency_sign}{yuan:,}.{cents:02d}"


def fen_to_yuan(fen: int | None) -> str:
    """For form inputs: 12345 -> '123.45'."""
    if fen is None:
        return ""
    return str((Decimal(int(fen)) / 100).quantize(Decimal("0.01")))


@pass_context
def format_datetime(context: Any, value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC datetime shown in the shop's time zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    zone = context.get("timezone") or DEFAULT_TIMEZONE
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def tojson_script(value: Any) -> Markup:
    """JSON safe to embed in <script type="application/json">."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@lru_cache(maxsize=64)
def _static_version(relative: str) -> str:
    path = STATIC_DIR / relative
    return str(int(path.stat().st_mtime)) if path.exists() else "0"


def static_url(relative: str) -> str:
    return f"/static/{relative}?v={_static_version(relative)}"


def with_query(request: Request, _path: str | None = None, **changes: Any) -> str:
    """This page's URL (or `_path`) with its query, some parameters replaced or dropped (None)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in changes and v]
    pairs = kept + [(k, v) for k, v in changes.items() if v not in (None, "")]
    return (_path or request.url.path) + ("?" + urlencode(pairs) if pairs else "")


def vendor_url(name: str) -> str:
    return f"/vendor/{name}"


@lru_cache(maxsize=len(i18n.LANGUAGES))
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = format_money
    env.filters["yuan"] = fen_to_yuan
    env.filters["datetime"] = format_datetime
    env.filters["tojson_script"] = tojson_script
    env.globals.update(
        static_url=static_url,
        vendor_url=vendor_url,
        with_query=with_query,
        languages=i18n.LANGUAGES,
        language=language,
    )
    return env


@dataclass(frozen=True)
class LayoutShop:
    """What the layout shows of the shop, copied when the request starts: an error page is
    rendered after the unit of work rolled back, when the ORM row can no longer be read."""

    id: int
    name: str
    timezone: str


def remember_layout_shop(request: Request, shop: Any) -> None:
    request.state.layout_shop = LayoutShop(id=shop.id, name=shop.name, timezone=shop.timezone)


def flash(request: Request, message: str, kind: str = "success") -> None:
    """A note shown once on the next page (after a POST-redirect-GET)."""
    notes = list(request.session.get(FLASH_KEY, []))
    notes.append({"kind": kind, "message": message})
    request.session[FLASH_KEY] = notes


def request_language(request: Request) -> str:
    language = getattr(request.state, "language", None)
    if language is None:
        default = request.app.state.settings.default_language
        language = i18n.request_language(request, default)
        request.state.language = language
    return str(language)


def base_context(request: Request) -> dict[str, Any]:
    actor = getattr(request.state, "actor", None)
    shop = getattr(request.state, "layout_shop", None)
    return {
        "request": request,
        "actor": actor,
        "shop": shop,
        "timezone": getattr(shop, "timezone", None) or DEFAULT_TIMEZONE,
        "csrf_token": csrf_token(request),
        "nav": nav_for(actor),
        "active": active_key(request.url.path),
        "can": (lambda permission: actor is not None and actor.can(permission)),
        "flashes": request.session.pop(FLASH_KEY, []),
        "is_htmx": request.headers.get("hx-request") == "true",
        "title": "",
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a console template with the actor, shop, CSRF token, language and nav."""
    language = request_language(request)
    values = base_context(request)
    values.update(context or {})
    html = environment(language).get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers.setdefault("Content-Language", language.replace("_", "-"))
    response.headers.setdefault("Cache-Control", "no-store")
    return response
