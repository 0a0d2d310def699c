"""Q&A (提问): viewers ask from the room, the anchor works through a queue and can put one
question with its answer on screen (the "qa" card) until it is replaced or taken down.

A new question reaches only staff (`{"type": "question", "to": "staff", ...}`); a viewer may
ask QUESTIONS_PER_WINDOW questions per WINDOW_S in one room (counted from the table, so every
web process counts the same)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, RateLimited
from liveloop.live.models import LiveStatus
from liveloop.live.polls import common
from liveloop.live.polls.models import LiveQuestion, QuestionStatus
from liveloop.live.viewers import ViewerClaims
from liveloop.shops.service import Actor, record_audit

QUESTIONS_PER_WINDOW = 3
WINDOW_S = 60


async def get_question(*, session: AsyncSession, shop_id: int, question_id: int) -> LiveQuestion:
    return await get_scoped(
        session, LiveQuestion, shop_id=shop_id, record_id=question_id, label="question"
    )


async def list_questions(
    *, session: AsyncSession, shop_id: int, live_session_id: int, status: str | None = None
) -> list[LiveQuestion]:
    statement = scoped(LiveQuestion, shop_id).where(LiveQuestion.live_session_id == live_session_id)
    if status:
        statement = statement.where(LiveQuestion.status == status)
    rows = await session.execute(statement.order_by(LiveQuestion.id).limit(500))
    return list(rows.scalars())


def question_out(question: LiveQuestion) -> dict[str, Any]:
    return {
        "id": question.id,
        "live_session_id": question.live_session_id,
        "name": question.name,
        "customer_id": question.customer_id,
        "text": question.text,
        "status": question.status,
        "answer": question.answer,
        "on_screen": question.on_screen,
        "created_at": question.created_at.isoformat(),
        "answered_at": question.answered_at.isoformat() if question.answered_at else None,
    }


def qa_card(question: LiveQuestion) -> dict[str, Any]:
    return {
        "id": question.id,
        "state": "shown",
        "question": question.text,
        "asker": question.name,
        "answer": question.answer,
        "shown_at": (question.answered_at or question.updated_at).isoformat(),
    }


async def current_room_card(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, Any] | None:
    question = await session.scalar(
        scoped(LiveQuestion, shop_id)
        .where(LiveQuestion.live_session_id == live_session_id, LiveQuestion.on_screen.is_(True))
        .order_by(LiveQuestion.id.desc())
    )
    return qa_card(question) if question is not None else None


async def _filtered(session: AsyncSession, shop_id: int, text: str) -> str:
    """The shop's sensitive words: a blocking word refuses the question, others are masked
    (as for comments: the queue is staff-only, but an answered question goes on screen)."""
    from liveloop.live.words import load_word_filter

    result = (await load_word_filter(session=session, shop_id=shop_id)).check(text)
    if result.blocked:
        raise InvalidInput(
            "this question contains words the shop does not allow; rephrase it",
            code="question_blocked",
            field="text",
        )
    return result.text


async def ask(*, session: AsyncSession, claims: ViewerClaims, text: str) -> LiveQuestion:
    if claims.live_session_id is None:
        raise InvalidInput(
            "this viewer token belongs to no live room; open the live page again",
            code="no_live_session",
            field="live_session_id",
        )
    live_session = await common.get_live_session(
        session=session, shop_id=claims.shop_id, live_session_id=claims.live_session_id
    )
    if live_session.status not in (LiveStatus.LIVE.value, LiveStatus.SCHEDULED.value):
        raise Conflict(
            "this live has ended; questions are closed", code="live_session_ended", field=None
        )
    text = " ".join(text.split())
    if len(text) < 2:
        raise InvalidInput("write a question of 2 characters or more", code="invalid", field="text")
    await common.check_not_banned(session, claims, live_session.id, kinds=("ban", "mute"))
    text = await _filtered(session, claims.shop_id, text)
    key = common.voter_key(claims)
    since = utcnow() - dt.timedelta(seconds=WINDOW_S)
    recent = await session.scalar(
        select(func.count())
        .select_from(LiveQuestion)
        .where(
            LiveQuestion.live_session_id == live_session.id,
            LiveQuestion.voter_key == key,
            LiveQuestion.created_at > since,
        )
    )
    if int(recent or 0) >= QUESTIONS_PER_WINDOW:
        raise RateLimited(
            f"you may ask {QUESTIONS_PER_WINDOW} questions a minute; wait a moment",
            code="rate_limited",
            field="text",
        )
    question = LiveQuestion(
        shop_id=claims.shop_id,
        live_session_id=live_session.id,
        voter_key=key,
        customer_id=claims.customer_id,
        name=claims.name[:64],
        text=text,
    )
    session.add(question)
    await session.flush()
    await common.record_event(
        session,
        shop_id=claims.shop_id,
        kind="live_question",
        customer_id=claims.customer_id,
        anonymous_id=None if claims.customer_id else key,
        live_session_id=live_session.id,
        properties={"question_id": question.id},
    )
    common.send(
        session,
        live_session.id,
        {"type": "question", "to": "staff", "question": question_out(question)},
    )
    return question


async def _for_anchor(session: AsyncSession, actor: Actor, question_id: int) -> LiveQuestion:
    question = await get_question(session=session, shop_id=actor.shop_id, question_id=question_id)
    live_session = await common.get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=question.live_session_id
    )
    common.check_may_run(actor, live_session)
    return question


async def _clear_screen(session: AsyncSession, shop_id: int, live_session_id: int) -> bool:
    result = await session.execute(
        update(LiveQuestion)
        .where(
            LiveQuestion.shop_id == shop_id,
            LiveQuestion.live_session_id == live_session_id,
            LiveQuestion.on_screen.is_(True),
        )
        .values(on_screen=False)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def answer(
    *, session: AsyncSession, actor: Actor, question_id: int, text: str, on_screen: bool
) -> LiveQuestion:
    """Mark answered (with the answer text); `on_screen` pins it for every viewer."""
    question = await _for_anchor(session, actor, question_id)
    if on_screen and not text.strip():
        raise InvalidInput(
            "write the answer to show on screen", code="answer_required", field="answer"
        )
    if on_screen:
        await _clear_screen(session, actor.shop_id, question.live_session_id)
    await session.refresh(question)
    question.status = QuestionStatus.ANSWERED.value
    question.answer = text.strip()
    question.answered_at = utcnow()
    question.answered_by = actor.staff_id
    question.on_screen = on_screen
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="live.question_answer",
        target_type="live_question",
        target_id=question.id,
        details={"on_screen": on_screen, "answer": question.answer[:200]},
    )
    common.send(
        session,
        question.live_session_id,
        {"type": "question", "to": "staff", "question": question_out(question)},
    )
    if on_screen:
        common.send(session, question.live_session_id, {"type": "qa", "card": qa_card(question)})
    return question


async def dismiss(*, session: AsyncSession, actor: Actor, question_id: int) -> LiveQuestion:
    question = await _for_anchor(session, actor, question_id)
    was_on_screen = question.on_screen
    question.status = QuestionStatus.DISMISSED.value
    question.on_screen = False
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="live.question_dismiss",
        target_type="live_question",
        target_id=question.id,
    )
    common.send(
        session,
        question.live_session_id,
        {"type": "question", "to": "staff", "question": question_out(question)},
    )
    if was_on_screen:
        common.send(session, question.live_session_id, {"type": "qa", "card": None})
    return question


async def take_down(*, session: AsyncSession, actor: Actor, live_session_id: int) -> bool:
    """Take the pinned answer off screen (idempotent: nothing on screen is fine)."""
    live_session = await common.get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    common.check_may_run(actor, live_session)
    cleared = await _clear_screen(session, actor.shop_id, live_session.id)
    await record_audit(
        session=session,
        actor=actor,
        action="live.qa_take_down",
        target_type="live_session",
        target_id=live_session.id,
    )
    common.send(session, live_session.id, {"type": "qa", "card": None})
    return cleared
