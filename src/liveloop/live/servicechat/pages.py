"""Console page of in-room customer service (/console/service): the inbox beside one thread,
with the customer's profile and latest orders. The page is a shell; it reads and writes
through the JSON routes of `servicechat.api` (polling every few seconds)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from liveloop.commerce.states import STATUS_LABELS
from liveloop.core.deps import DbSession
from liveloop.live.servicechat import service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import render

router = console_router(prefix="/console")

Agent = Annotated[Actor, console_requires(P.CUSTOMERS_WRITE)]


@router.get("/service", response_class=HTMLResponse)
async def service_inbox(
    request: Request,
    session: DbSession,
    actor: Agent,
    conversation: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    live_session_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    counts = await service.inbox_counts(session=session, shop_id=actor.shop_id)
    config: dict[str, Any] = {
        "conversation_id": conversation,
        "live_session_id": live_session_id,
        "order_status": {
            status.value: translate(request, english)
            for status, (_zh, english) in STATUS_LABELS.items()
        },
    }
    return render(
        request,
        "service/inbox.html",
        {"title": translate(request, N_("Customer service")), "counts": counts, "config": config},
    )
