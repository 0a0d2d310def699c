"""Viewer JSON routes (viewer token): vote in a poll, ask a question, answer a quiz.

A customer votes and answers once; a guest once per device (the token's device id)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from liveloop.commerce.viewer_api import CurrentBuyer
from liveloop.core.database import utcnow
from liveloop.core.deps import DbSession
from liveloop.live.polls import common, questions, quiz, service
from liveloop.live.polls.models import QuizAnswer
from liveloop.live.polls.schemas import QuestionIn, QuizAnswerIn, VoteIn

router = APIRouter(prefix="/api/v1/public", tags=["live polls, Q&A, quizzes (viewer)"])


@router.get("/polls/{poll_id}")
async def poll_card(poll_id: int, session: DbSession, claims: CurrentBuyer) -> dict[str, Any]:
    """The poll's card (counts so far) and this viewer's ballot (`my_choices`, null if none)."""
    poll = await service.get_poll(session=session, shop_id=claims.shop_id, poll_id=poll_id)
    common.check_room_of(claims, poll.live_session_id, "poll", poll_id)
    poll = await service.close_if_due(session=session, poll=poll)
    card = await service.card_of(session, poll)
    card["my_choices"] = await service.my_vote(session, poll, claims)
    card["server_time"] = utcnow().isoformat()
    return card


@router.post("/polls/{poll_id}/vote", status_code=201)
async def vote(
    poll_id: int, data: VoteIn, session: DbSession, claims: CurrentBuyer
) -> dict[str, Any]:
    """409 already_voted (a vote cannot be changed) / poll_closed; 422 for bad options."""
    _poll, card = await service.vote(
        session=session, claims=claims, poll_id=poll_id, options=data.options
    )
    card["my_choices"] = sorted(set(data.options))
    return card


@router.post("/live/questions", status_code=201)
async def ask(data: QuestionIn, session: DbSession, claims: CurrentBuyer) -> dict[str, Any]:
    """Ask the anchor (429 rate_limited beyond 3 a minute)."""
    question = await questions.ask(session=session, claims=claims, text=data.text)
    return {"id": question.id, "text": question.text, "status": question.status}


def _mine(answer: QuizAnswer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {"option": answer.option_index, "received_at": answer.received_at.isoformat()}


@router.get("/quizzes/{quiz_id}")
async def quiz_card(quiz_id: int, session: DbSession, claims: CurrentBuyer) -> dict[str, Any]:
    """The quiz's card; after the end it carries the correct option and the winners."""
    found = await quiz.get_quiz(session=session, shop_id=claims.shop_id, quiz_id=quiz_id)
    common.check_room_of(claims, found.live_session_id, "quiz", quiz_id)
    found = await quiz.close_if_due(session=session, quiz=found)
    card = await quiz.card_of(session, found)
    mine = await session.scalar(
        select(QuizAnswer).where(
            QuizAnswer.quiz_id == found.id, QuizAnswer.voter_key == common.voter_key(claims)
        )
    )
    card["my_answer"] = _mine(mine)
    if mine is not None and found.status == "closed":
        card["my_answer"]["correct"] = mine.is_correct
        card["my_answer"]["rank"] = mine.rank
    card["server_time"] = utcnow().isoformat()
    return card


@router.post("/quizzes/{quiz_id}/answer", status_code=201)
async def answer(
    quiz_id: int, data: QuizAnswerIn, session: DbSession, claims: CurrentBuyer
) -> dict[str, Any]:
    """One answer per viewer (409 already_answered); 409 quiz_closed after the end. The
    result (right or wrong) shows when the quiz closes."""
    found = await quiz.answer_quiz(
        session=session, claims=claims, quiz_id=quiz_id, option=data.option
    )
    return {"quiz_id": quiz_id, "my_answer": _mine(found)}
