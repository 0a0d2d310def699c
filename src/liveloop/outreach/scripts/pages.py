"""Console page of the script library (/console/scripts): categories, search, and the editor of
shop-wide and personal entries. The page is a shell over the JSON routes of `scripts.api`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from liveloop.outreach.scripts.variables import VARIABLES
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import render

router = console_router(prefix="/console")

Reader = Annotated[Actor, console_requires(P.CUSTOMERS_READ)]


@router.get("/scripts", response_class=HTMLResponse)
async def scripts_page(request: Request, actor: Reader) -> HTMLResponse:
    config: dict[str, Any] = {
        "can_manage": actor.can(P.OUTREACH_MANAGE),
        "variables": [
            {"name": v.name, "aliases": list(v.aliases), "label": translate(request, v.label)}
            for v in VARIABLES
        ],
    }
    return render(
        request,
        "outreach/scripts.html",
        {"title": translate(request, N_("Scripts")), "config": config},
    )


# The variables' labels are shown on the page (translated from these msgids).
_LABELS = (
    N_("Customer's name"),
    N_("Member tier"),
    N_("Points balance"),
    N_("Latest order number"),
    N_("Shop name"),
)
