"""JSON routes of live moderation: sensitive words, mutes, bans, kicks, lifts, deleted comments.

Included by `live.api` (same prefix and authentication), ahead of its /{live_session_id} routes
so that "words" and "restrictions" are never read as a session id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response

from liveloop.core.deps import DbSession
from liveloop.live import moderation, service
from liveloop.live.schemas import (
    KickCreate,
    RestrictionCreate,
    RestrictionOut,
    WordOut,
    WordsCreate,
    WordUpdate,
)
from liveloop.shops.auth import requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter()

LiveManager = Annotated[Actor, requires(P.LIVE_MANAGE)]


async def _check_session(session: Any, actor: Actor, live_session_id: int) -> None:
    await service.get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )


# ------------------------------------------------------------------------- sensitive words


@router.get("/words", response_model=list[WordOut])
async def list_words(session: DbSession, actor: LiveManager) -> list[WordOut]:
    words = await moderation.list_words(session=session, shop_id=actor.shop_id)
    return [WordOut.model_validate(w) for w in words]


@router.post("/words", response_model=list[WordOut], status_code=201)
async def add_words(data: WordsCreate, session: DbSession, actor: LiveManager) -> list[WordOut]:
    rows = await moderation.add_words(
        session=session, actor=actor, words=[(w, data.action.value) for w in data.words]
    )
    return [WordOut.model_validate(w) for w in rows]


@router.patch("/words/{word_id}", response_model=WordOut)
async def update_word(
    word_id: int, data: WordUpdate, session: DbSession, actor: LiveManager
) -> WordOut:
    row = await moderation.update_word(
        session=session, actor=actor, word_id=word_id, action=data.action.value
    )
    return WordOut.model_validate(row)


@router.delete("/words/{word_id}", status_code=204)
async def delete_word(word_id: int, session: DbSession, actor: LiveManager) -> Response:
    await moderation.delete_word(session=session, actor=actor, word_id=word_id)
    return Response(status_code=204)


@router.post("/restrictions/{restriction_id}/lift", response_model=RestrictionOut)
async def lift_restriction(
    restriction_id: int, session: DbSession, actor: LiveManager
) -> RestrictionOut:
    restriction = await moderation.lift_restriction(
        session=session, actor=actor, restriction_id=restriction_id
    )
    return RestrictionOut.model_validate(restriction)


# ----------------------------------------------------------------------------- moderation


@router.get("/{live_session_id}/restrictions", response_model=list[RestrictionOut])
async def list_restrictions(
    live_session_id: int, session: DbSession, actor: LiveManager, active_only: bool = True
) -> list[RestrictionOut]:
    await _check_session(session, actor, live_session_id)
    rows = await moderation.list_restrictions(
        session=session,
        shop_id=actor.shop_id,
        live_session_id=live_session_id,
        active_only=active_only,
    )
    return [RestrictionOut.model_validate(r) for r in rows]


async def _restrict(
    kind: str, live_session_id: int, data: RestrictionCreate, session: Any, actor: Actor
) -> RestrictionOut:
    await _check_session(session, actor, live_session_id)
    restriction = await moderation.restrict(
        session=session,
        actor=actor,
        kind=kind,
        live_session_id=None if data.shop_wide else live_session_id,
        customer_id=data.customer_id,
        device_id=data.device_id,
        minutes=data.minutes,
        reason=data.reason,
    )
    return RestrictionOut.model_validate(restriction)


@router.post("/{live_session_id}/mutes", response_model=RestrictionOut, status_code=201)
async def mute(
    live_session_id: int, data: RestrictionCreate, session: DbSession, actor: LiveManager
) -> RestrictionOut:
    return await _restrict("mute", live_session_id, data, session, actor)


@router.post("/{live_session_id}/bans", response_model=RestrictionOut, status_code=201)
async def ban(
    live_session_id: int, data: RestrictionCreate, session: DbSession, actor: LiveManager
) -> RestrictionOut:
    return await _restrict("ban", live_session_id, data, session, actor)


@router.post("/{live_session_id}/kicks", response_model=RestrictionOut, status_code=201)
async def kick(
    live_session_id: int, data: KickCreate, session: DbSession, actor: LiveManager
) -> RestrictionOut:
    await _check_session(session, actor, live_session_id)
    restriction = await moderation.kick(
        session=session,
        actor=actor,
        live_session_id=live_session_id,
        customer_id=data.customer_id,
        device_id=data.device_id,
        reason=data.reason,
    )
    return RestrictionOut.model_validate(restriction)


@router.delete("/{live_session_id}/comments/{comment_id}", status_code=204)
async def delete_comment(
    live_session_id: int, comment_id: str, session: DbSession, actor: LiveManager
) -> Response:
    await moderation.delete_comment(
        session=session, actor=actor, live_session_id=live_session_id, comment_id=comment_id
    )
    return Response(status_code=204)
