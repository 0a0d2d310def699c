"""The console's error page: a friendly HTML page in the layout instead of JSON."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from liveloop.web.i18n import N_, translate
from liveloop.web.templating import render

HEADINGS = {
    400: N_("That request could not be handled"),
    401: N_("Please log in"),
    403: N_("You do not have access to this page"),
    404: N_("Page not found"),
    405: N_("That action is not available here"),
    409: N_("That conflicts with existing data"),
    422: N_("Some input needs fixing"),
    429: N_("Too many requests; wait a moment"),
}

FALLBACK_HEADING = N_("Something went wrong")

MESSAGES = {
    403: N_("Your role does not include this. Ask a shop owner if you need it."),
    404: N_("The page or record does not exist, or it belongs to another shop."),
}

# Errors with a cause of their own, whatever their status: (heading, message).
FORM_EXPIRED = N_("The page was open too long or came from elsewhere. Reload it and try again.")
BY_CODE = {"csrf_failed": (N_("This form has expired"), FORM_EXPIRED)}


def render_error_page(request: Request, status: int, code: str, message: str) -> Response:
    """Errors on console paths: the layout, a heading a person understands, and the detail."""
    heading = translate(request, HEADINGS.get(status, FALLBACK_HEADING))
    general = MESSAGES.get(status)
    # Domain messages are English sentences meant for people; the generic ones are translated.
    detail = translate(request, general) if general and status in (403, 404) else message
    if code in BY_CODE:
        heading, detail = (translate(request, text) for text in BY_CODE[code])
    if status == 404 and message and message != "Not Found":
        detail = f"{detail} ({message})"
    return render(
        request,
        "error.html",
        {"status": status, "heading": heading, "message": detail, "code": code, "title": heading},
        status_code=status,
    )
