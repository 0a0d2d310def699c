"""Console page of the shop's sensitive-word list (/console/live/words): add (one word a line),
switch between mask and block, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput
from liveloop.live import moderation
from liveloop.live.models import WordAction
from liveloop.live.pages import FormErrors, Manager, error_text
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/live/words")


@pages.get("", response_class=HTMLResponse)
async def words_page(request: Request, session: DbSession, actor: Manager) -> HTMLResponse:
    return render(
        request,
        "live/words.html",
        {
            "words": await moderation.list_words(session=session, shop_id=actor.shop_id),
            "title": translate(request, N_("Sensitive words")),
        },
    )


@pages.post("")
async def add_words(
    request: Request,
    session: DbSession,
    actor: Manager,
    words: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "mask",
) -> Response:
    """One word a line (or separated by commas)."""
    entries = [w.strip() for w in words.replace("，", "\n").replace(",", "\n").splitlines()]
    try:
        chosen = WordAction(action).value if action in {a.value for a in WordAction} else None
        if chosen is None:
            raise InvalidInput(f"{action!r} is not block or mask", field="action")
        added = await moderation.add_words(
            session=session, actor=actor, words=[(w, chosen) for w in entries if w]
        )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("%(count)s words saved."), count=len(added)))
    return redirect("/console/live/words")


@pages.post("/{word_id}")
async def update_word(
    request: Request,
    word_id: int,
    session: DbSession,
    actor: Manager,
    action: Annotated[str, Form()] = "",
) -> Response:
    await moderation.get_word(session=session, shop_id=actor.shop_id, word_id=word_id)
    if action in {a.value for a in WordAction}:
        await moderation.update_word(session=session, actor=actor, word_id=word_id, action=action)
        flash(request, translate(request, N_("Word saved.")))
    else:
        flash(request, f"{action!r} is not block or mask", "error")
    return redirect("/console/live/words")


@pages.post("/{word_id}/delete")
async def delete_word(
    request: Request, word_id: int, session: DbSession, actor: Manager
) -> Response:
    await moderation.delete_word(session=session, actor=actor, word_id=word_id)
    flash(request, translate(request, N_("Word deleted.")))
    return redirect("/console/live/words")


router.include_router(pages)
