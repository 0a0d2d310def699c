"""Domain errors and the one handler that turns them into JSON `{code, message, field}`.

Paths that people open in a browser (the console) can register an HTML error page instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = structlog.get_logger(__name__)


class LiveLoopError(Exception):
    """Base of every error a person can act on. Subclasses fix the HTTP status."""

    status_code: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.details = details or []

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        if self.details:
            body["errors"] = self.details
        return body


class InvalidInput(LiveLoopError):
    status_code = 422
    default_code = "invalid"


class NotFound(LiveLoopError):
    status_code = 404
    default_code = "not_found"


class Conflict(LiveLoopError):
    status_code = 409
    default_code = "conflict"


class Unauthenticated(LiveLoopError):
    status_code = 401
    default_code = "unauthenticated"


class PermissionDenied(LiveLoopError):
    status_code = 403
    default_code = "permission_denied"


class RateLimited(LiveLoopError):
    status_code = 429
    default_code = "rate_limited"


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'items', 3, 'type') -> 'items[3].type'."""
    parts: list[str] = []
    for part in location:
        if part in ("body", "query", "path", "header", "cookie") and not parts:
            continue
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def validation_details(errors: list[dict[str, Any]] | Any) -> list[dict[str, Any]]:
    details = []
    for error in errors:
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        details.append(
            {
                "code": error.get("type", "invalid"),
                "message": message,
                "field": field_path(error["loc"]),
            }
        )
    return details


# (request, status, code, message) -> a page; registered by the web layer for its prefixes.
HtmlErrorPage = Callable[[Request, int, str, str], Response]
_html_error_pages: dict[str, HtmlErrorPage] = {}


def register_html_error_page(prefix: str, renderer: HtmlErrorPage) -> None:
    """Errors under `prefix` (e.g. '/console') render as HTML; the API keeps JSON."""
    _html_error_pages[prefix.rstrip("/")] = renderer


def _html_error_page_for(request: Request) -> HtmlErrorPage | None:
    path = request.url.path
    for prefix, renderer in _html_error_pages.items():
        if path == prefix or path.startswith(prefix + "/"):
            return renderer
    return None


async def _liveloop_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LiveLoopError)
    renderer = _html_error_page_for(request)
    if renderer is not None:
        return renderer(request, exc.status_code, exc.code, exc.message)
    return JSONResponse(exc.as_dict(), status_code=exc.status_code)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(exc.errors())
    first = details[0] if details else {"message": "invalid request", "field": None}
    message = f"{first['field'] or 'request'}: {first['message']}"
    renderer = _html_error_page_for(request)
    if renderer is not None:
        return renderer(request, 422, "invalid", message)
    body = {"code": "invalid", "message": message, "field": first["field"], "errors": details}
    return JSONResponse(body, status_code=422)


async def _http_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, StarletteHTTPException)
    codes = {
        404: "not_found",
        405: "method_not_allowed",
        401: "unauthenticated",
        403: "permission_denied",
    }
    code = codes.get(exc.status_code, "http_error")
    renderer = _html_error_page_for(request) if exc.status_code >= 400 else None
    if renderer is not None:
        return renderer(request, exc.status_code, code, str(exc.detail))
    body = {"code": code, "message": str(exc.detail), "field": None}
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path)
    body = {
        "code": "internal_error",
        "message": "Something went wrong on our side; it has been logged.",
        "field": None,
    }
    return JSONResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LiveLoopError, _liveloop_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
