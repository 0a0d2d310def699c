"""Console JSON routes of polls, questions and quizzes (LIVE_MANAGE).

Polls: open in a live session, list (history with counts), get with voters, close (idempotent).
Questions: the queue (initial load; new ones come as staff room messages), answer (optionally
on screen), dismiss, take the pinned answer down. Quizzes: ask, list, get with answers and
winners, close early (idempotent)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from liveloop.core.deps import DbSession
from liveloop.live.polls import questions, quiz, service
from liveloop.live.polls.models import Poll, Quiz
from liveloop.live.polls.schemas import AnswerIn, PollIn, QuizIn
from liveloop.live.service import get_live_session
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(
    prefix="/api/v1", tags=["live polls, Q&A, quizzes"], dependencies=[Depends(current_actor)]
)

LiveManager = Annotated[Actor, requires(P.LIVE_MANAGE)]


async def _room(session: DbSession, actor: Actor, live_session_id: int) -> int:
    live = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    return live.id


async def _poll_out(session: DbSession, poll: Poll) -> dict[str, Any]:
    poll = await service.close_if_due(session=session, poll=poll)
    card = await service.card_of(session, poll)
    card["live_session_id"] = poll.live_session_id
    return card


@router.post("/live/{live_session_id}/polls", status_code=201)
async def open_poll(
    live_session_id: int, data: PollIn, session: DbSession, actor: LiveManager
) -> dict[str, Any]:
    """Open a poll in the room (409 live_session_not_live when not on air)."""
    poll = await service.open_poll(
        session=session, actor=actor, live_session_id=live_session_id, data=data
    )
    return await _poll_out(session, poll)


@router.get("/live/{live_session_id}/polls")
async def list_polls(
    live_session_id: int, session: DbSession, actor: LiveManager
) -> dict[str, Any]:
    room = await _room(session, actor, live_session_id)
    polls = await service.list_polls(session=session, shop_id=actor.shop_id, live_session_id=room)
    return {"items": [await _poll_out(session, p) for p in polls]}


@router.get("/polls/{poll_id}")
async def get_poll(poll_id: int, session: DbSession, actor: LiveManager) -> dict[str, Any]:
    """The poll with its counts and every voter's ballot."""
    poll = await service.get_poll(session=session, shop_id=actor.shop_id, poll_id=poll_id)
    out = await _poll_out(session, poll)
    voters = await service.voters_of(session=session, shop_id=actor.shop_id, poll_id=poll_id)
    out["ballots"] = [
        {
            "customer_id": v.customer_id,
            "name": v.name,
            "choices": v.choices,
            "voted_at": v.created_at.isoformat(),
        }
        for v in voters
    ]
    return out


@router.post("/polls/{poll_id}/close")
async def close_poll(poll_id: int, session: DbSession, actor: LiveManager) -> dict[str, Any]:
    """Close the poll and freeze its results; a closed poll stays as it is (200)."""
    poll = await service.close_poll(session=session, actor=actor, poll_id=poll_id)
    return await _poll_out(session, poll)


@router.get("/live/{live_session_id}/questions")
async def list_questions(
    live_session_id: int,
    session: DbSession,
    actor: LiveManager,
    status: Annotated[str | None, Query(pattern="^(pending|answered|dismissed)$")] = None,
) -> dict[str, Any]:
    room = await _room(session, actor, live_session_id)
    found = await questions.list_questions(
        session=session, shop_id=actor.shop_id, live_session_id=room, status=status
    )
    return {"items": [questions.question_out(q) for q in found]}


@router.post("/live-questions/{question_id}/answer")
async def answer_question(
    question_id: int, data: AnswerIn, session: DbSession, actor: LiveManager
) -> dict[str, Any]:
    """Mark answered; with `on_screen` the question and answer are pinned for every viewer."""
    question = await questions.answer(
        session=session,
        actor=actor,
        question_id=question_id,
        text=data.answer,
        on_screen=data.on_screen,
    )
    return questions.question_out(question)


@router.post("/live-questions/{question_id}/dismiss")
async def dismiss_question(
    question_id: int, session: DbSession, actor: LiveManager
) -> dict[str, Any]:
    question = await questions.dismiss(session=session, actor=actor, question_id=question_id)
    return questions.question_out(question)


@router.post("/live/{live_session_id}/qa/take-down")
async def take_down(live_session_id: int, session: DbSession, actor: LiveManager) -> dict[str, Any]:
    """Take the pinned answer off the viewers' screens."""
    cleared = await questions.take_down(
        session=session, actor=actor, live_session_id=live_session_id
    )
    return {"taken_down": cleared}


async def _quiz_out(session: DbSession, found: Quiz, *, answers: bool = False) -> dict[str, Any]:
    found = await quiz.close_if_due(session=session, quiz=found)
    card = await quiz.card_of(session, found)
    card["live_session_id"] = found.live_session_id
    card["correct_index"] = found.correct_index
    winners = await quiz.winners_of(session, found)
    card["winners"] = [
        {
            "rank": w.rank,
            "name": w.name,
            "customer_id": w.customer_id,
            "received_at": w.received_at.isoformat(),
            "reward_status": w.reward_status,
            "reward_note": w.reward_note,
        }
        for w in winners
    ]
    if answers:
        rows = await quiz.answers_of(session=session, shop_id=found.shop_id, quiz_id=found.id)
        card["answer_list"] = [
            {
                "id": a.id,
                "name": a.name,
                "customer_id": a.customer_id,
                "option": a.option_index,
                "correct": a.is_correct,
                "received_at": a.received_at.isoformat(),
                "rank": a.rank,
            }
            for a in rows
        ]
    return card


@router.post("/live/{live_session_id}/quizzes", status_code=201)
async def start_quiz(
    live_session_id: int, data: QuizIn, session: DbSession, actor: LiveManager
) -> dict[str, Any]:
    """Ask a timed question; at its end the answer and the winners show and rewards go out."""
    found = await quiz.start_quiz(
        session=session, actor=actor, live_session_id=live_session_id, data=data
    )
    return await _quiz_out(session, found)


@router.get("/live/{live_session_id}/quizzes")
async def list_quizzes(
    live_session_id: int, session: DbSession, actor: LiveManager
) -> dict[str, Any]:
    room = await _room(session, actor, live_session_id)
    found = await quiz.list_quizzes(session=session, shop_id=actor.shop_id, live_session_id=room)
    return {"items": [await _quiz_out(session, q) for q in found]}


@router.get("/quizzes/{quiz_id}")
async def get_quiz(quiz_id: int, session: DbSession, actor: LiveManager) -> dict[str, Any]:
    found = await quiz.get_quiz(session=session, shop_id=actor.shop_id, quiz_id=quiz_id)
    return await _quiz_out(session, found, answers=True)


@router.post("/quizzes/{quiz_id}/close")
async def close_quiz(quiz_id: int, session: DbSession, actor: LiveManager) -> dict[str, Any]:
    """End the quiz now (idempotent): the answer, winners and rewards as at its end."""
    found = await quiz.close_quiz(session=session, actor=actor, quiz_id=quiz_id)
    return await _quiz_out(session, found)
