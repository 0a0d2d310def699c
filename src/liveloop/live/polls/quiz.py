"""Quizzes (答题): a timed question with one correct option; the correct and fastest N win.

"Fastest" is by the server's receive time of the answer, ties broken by the answer's id. Only
customers can win (a reward needs a customer); a guest may answer and sees the result. The
close (job at ends_at, or the next read after it) is one conditional UPDATE: the caller that
flips the quiz to closed ranks the winners and grants the rewards in the same transaction, so a
second close grants nothing; points carry an idempotency key per quiz and customer besides."""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.jobs import enqueue_after_commit
from liveloop.live.polls import common
from liveloop.live.polls.models import Quiz, QuizAnswer, QuizStatus, RewardKind
from liveloop.live.polls.schemas import QuizIn
from liveloop.live.viewers import ViewerClaims
from liveloop.shops.service import Actor, record_audit, system_actor

log = structlog.get_logger(__name__)

SHOW_RESULT_S = 30  # the answer and winners stay on screen this long after the close


async def get_quiz(*, session: AsyncSession, shop_id: int, quiz_id: int) -> Quiz:
    return await get_scoped(session, Quiz, shop_id=shop_id, record_id=quiz_id, label="quiz")


async def list_quizzes(*, session: AsyncSession, shop_id: int, live_session_id: int) -> list[Quiz]:
    rows = await session.execute(
        scoped(Quiz, shop_id)
        .where(Quiz.live_session_id == live_session_id)
        .order_by(Quiz.id.desc())
        .limit(200)
    )
    return list(rows.scalars())


async def winners_of(session: AsyncSession, quiz: Quiz) -> list[QuizAnswer]:
    rows = await session.execute(
        select(QuizAnswer)
        .where(QuizAnswer.quiz_id == quiz.id, QuizAnswer.rank.is_not(None))
        .order_by(QuizAnswer.rank)
    )
    return list(rows.scalars())


async def answers_of(*, session: AsyncSession, shop_id: int, quiz_id: int) -> list[QuizAnswer]:
    await get_quiz(session=session, shop_id=shop_id, quiz_id=quiz_id)
    rows = await session.execute(
        scoped(QuizAnswer, shop_id)
        .where(QuizAnswer.quiz_id == quiz_id)
        .order_by(QuizAnswer.received_at, QuizAnswer.id)
    )
    return list(rows.scalars())


def quiz_card(quiz: Quiz, winners: list[QuizAnswer] | None = None) -> dict[str, Any]:
    closed = quiz.status == QuizStatus.CLOSED.value
    card: dict[str, Any] = {
        "id": quiz.id,
        "state": quiz.status,
        "question": quiz.question,
        "options": list(quiz.options),
        "duration_seconds": quiz.duration_seconds,
        "starts_at": quiz.starts_at.isoformat(),
        "ends_at": quiz.ends_at.isoformat(),
        "show_until": quiz.show_until.isoformat() if quiz.show_until else None,
        "reward": {
            "kind": quiz.reward_kind,
            "points": quiz.reward_points,
            "coupon_id": quiz.reward_coupon_id,
        },
        "winner_count": quiz.winner_count,
    }
    if closed:
        results = quiz.results or {}
        card["correct_index"] = quiz.correct_index
        card["counts"] = list(results.get("counts") or [0] * len(quiz.options))
        card["answers"] = int(results.get("answers") or 0)
        card["correct"] = int(results.get("correct") or 0)
        card["winners"] = [{"rank": w.rank, "name": w.name} for w in winners or []]
    return card


async def card_of(session: AsyncSession, quiz: Quiz) -> dict[str, Any]:
    winners = await winners_of(session, quiz) if quiz.status == QuizStatus.CLOSED.value else []
    return quiz_card(quiz, winners)


async def current_room_card(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, Any] | None:
    quiz = await session.scalar(
        scoped(Quiz, shop_id)
        .where(Quiz.live_session_id == live_session_id)
        .order_by(Quiz.id.desc())
    )
    if quiz is None:
        return None
    quiz = await close_if_due(session=session, quiz=quiz)
    if quiz.show_until is not None and quiz.show_until <= utcnow():
        return None
    return await card_of(session, quiz)


async def start_quiz(
    *, session: AsyncSession, actor: Actor, live_session_id: int, data: QuizIn
) -> Quiz:
    live_session = await common.room_for_anchor(session, actor, live_session_id, "ask a quiz")
    running = await session.scalar(
        scoped(Quiz, actor.shop_id).where(
            Quiz.live_session_id == live_session.id, Quiz.status == QuizStatus.OPEN.value
        )
    )
    if running is not None:
        running = await close_if_due(session=session, quiz=running)
        if running.status == QuizStatus.OPEN.value:
            raise Conflict(
                f"quiz {running.id} is still running in this room; wait for its end or end it now",
                code="quiz_running",
                field="live_session_id",
            )
    if data.reward_kind == RewardKind.COUPON.value:
        await _check_coupon(session, actor.shop_id, data)
    now = utcnow()
    quiz = Quiz(
        shop_id=actor.shop_id,
        live_session_id=live_session.id,
        question=data.question.strip(),
        options=list(data.options),
        correct_index=data.correct_index,
        duration_seconds=data.duration_seconds,
        starts_at=now,
        ends_at=now + dt.timedelta(seconds=data.duration_seconds),
        status=QuizStatus.OPEN.value,
        reward_kind=data.reward_kind,
        reward_points=data.reward_points if data.reward_kind == RewardKind.POINTS.value else 0,
        reward_coupon_id=data.reward_coupon_id
        if data.reward_kind == RewardKind.COUPON.value
        else None,
        winner_count=data.winner_count,
        open_room_key=live_session.id,
        created_by=actor.staff_id,
    )
    try:
        async with session.begin_nested():
            session.add(quiz)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "another quiz was started in this room at the same moment; wait for its end",
            code="quiz_running",
            field="live_session_id",
        ) from None
    await record_audit(
        session=session,
        actor=actor,
        action="live.quiz_open",
        target_type="quiz",
        target_id=quiz.id,
        details={
            "live_session_id": live_session.id,
            "question": quiz.question,
            "options": quiz.options,
            "correct_index": quiz.correct_index,
            "ends_at": quiz.ends_at.isoformat(),
            "reward": {
                "kind": quiz.reward_kind,
                "points": quiz.reward_points,
                "coupon_id": quiz.reward_coupon_id,
            },
            "winner_count": quiz.winner_count,
        },
    )
    common.send(session, live_session.id, {"type": "quiz", "card": quiz_card(quiz)})
    from liveloop.live.polls import tasks

    enqueue_after_commit(
        session, tasks.close_quiz_when_due, eta=quiz.ends_at, shop_id=quiz.shop_id, quiz_id=quiz.id
    )
    return quiz


async def _check_coupon(session: AsyncSession, shop_id: int, data: QuizIn) -> None:
    """The reward coupon is this shop's and has enough left for every winner."""
    from liveloop.commerce.coupons import service as coupons

    try:
        coupon = await coupons.get_coupon(
            session=session, shop_id=shop_id, coupon_id=int(data.reward_coupon_id or 0)
        )
    except NotFound:
        raise InvalidInput(
            f"coupon {data.reward_coupon_id} was not found in this shop",
            code="coupon_not_found",
            field="reward_coupon_id",
        ) from None
    left = coupon.total_quantity - coupon.claimed_count
    if left < data.winner_count:
        raise Conflict(
            f"coupon {coupon.id} ({coupon.title}) has {left} left, fewer than the "
            f"{data.winner_count} winners; raise its quantity or reward fewer winners",
            code="reward_coupon_short",
            field="winner_count",
        )


async def answer_quiz(
    *, session: AsyncSession, claims: ViewerClaims, quiz_id: int, option: int
) -> QuizAnswer:
    received_at = utcnow()
    quiz = await common.lock_shared(
        session, Quiz, shop_id=claims.shop_id, record_id=quiz_id, label="quiz"
    )
    common.check_room_of(claims, quiz.live_session_id, "quiz", quiz_id)
    # After ends_at the quiz is over whatever its row says (the job or the next read closes
    # it; not here, under the shared lock, in a transaction this refusal rolls back).
    if quiz.status != QuizStatus.OPEN.value or received_at >= quiz.ends_at:
        raise Conflict(
            f"quiz {quiz.id} has ended; answers are closed", code="quiz_closed", field="quiz_id"
        )
    await common.check_may_take_part(session, claims, quiz.live_session_id)
    if option >= len(quiz.options):
        raise InvalidInput(
            f"options are numbered 0 to {len(quiz.options) - 1}", code="invalid", field="option"
        )
    key = common.voter_key(claims)
    answer = QuizAnswer(
        shop_id=quiz.shop_id,
        quiz_id=quiz.id,
        voter_key=key,
        customer_id=claims.customer_id,
        name=claims.name[:64],
        option_index=option,
        is_correct=option == quiz.correct_index,
        received_at=received_at,
    )
    try:
        async with session.begin_nested():
            session.add(answer)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "you have already answered this quiz", code="already_answered", field="quiz_id"
        ) from None
    await common.record_event(
        session,
        shop_id=quiz.shop_id,
        kind="quiz_answer",
        customer_id=claims.customer_id,
        anonymous_id=None if claims.customer_id else key,
        live_session_id=quiz.live_session_id,
        properties={"quiz_id": quiz.id, "option": option, "correct": answer.is_correct},
    )
    return answer


async def close_quiz(*, session: AsyncSession, actor: Actor, quiz_id: int) -> Quiz:
    """The anchor ends the quiz early; closing a closed quiz changes nothing."""
    quiz = await get_quiz(session=session, shop_id=actor.shop_id, quiz_id=quiz_id)
    live_session = await common.get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=quiz.live_session_id
    )
    common.check_may_run(actor, live_session)
    return await _close(session, quiz, actor, now=utcnow(), reason="anchor")


async def close_if_due(
    *, session: AsyncSession, quiz: Quiz, now: dt.datetime | None = None
) -> Quiz:
    now = now or utcnow()
    if quiz.status == QuizStatus.OPEN.value and now >= quiz.ends_at:
        actor = system_actor(quiz.shop_id, label="quiz timer")
        return await _close(session, quiz, actor, now=now, reason="time")
    return quiz


async def _close(
    session: AsyncSession, quiz: Quiz, actor: Actor, *, now: dt.datetime, reason: str
) -> Quiz:
    # Every stored answer counts: answers hold a shared lock on the quiz row until they commit
    # (common.lock_shared), so this UPDATE waits for them, and those after it find it closed.
    closed_at = min(now, quiz.ends_at)
    result = await session.execute(
        update(Quiz)
        .where(Quiz.id == quiz.id, Quiz.status == QuizStatus.OPEN.value)
        .values(
            status=QuizStatus.CLOSED.value,
            closed_at=closed_at,
            open_room_key=None,
            show_until=max(now, quiz.ends_at) + dt.timedelta(seconds=SHOW_RESULT_S),
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(quiz)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return quiz  # closed already (by the anchor, the job or another read)
    counts = [0] * len(quiz.options)
    rows = await session.execute(
        select(QuizAnswer.option_index, func.count())
        .where(QuizAnswer.quiz_id == quiz.id)
        .group_by(QuizAnswer.option_index)
    )
    for index, count in rows.all():
        if 0 <= index < len(counts):
            counts[index] = int(count)
    quiz.results = {
        "counts": counts,
        "answers": sum(counts),
        "correct": counts[quiz.correct_index],
    }
    await session.flush()
    winners: list[QuizAnswer] = []
    if quiz.winner_count > 0:
        rows2 = await session.execute(
            select(QuizAnswer)
            .where(
                QuizAnswer.quiz_id == quiz.id,
                QuizAnswer.is_correct.is_(True),
                QuizAnswer.customer_id.is_not(None),
            )
            .order_by(QuizAnswer.received_at, QuizAnswer.id)
            .limit(quiz.winner_count)
        )
        winners = list(rows2.scalars())
    await record_audit(
        session=session,
        actor=actor,
        action="live.quiz_close",
        target_type="quiz",
        target_id=quiz.id,
        details={
            "reason": reason,
            **quiz.results,
            "winners": [w.customer_id for w in winners],
        },
    )
    for rank, winner in enumerate(winners, start=1):
        marked = await session.execute(
            update(QuizAnswer)
            .where(QuizAnswer.id == winner.id, QuizAnswer.rank.is_(None))
            .values(rank=rank)
            .execution_options(synchronize_session=False)
        )
        await session.refresh(winner)
        if marked.rowcount == 1:  # type: ignore[attr-defined]
            await _reward(session, quiz, winner, actor)
            await common.record_event(
                session,
                shop_id=quiz.shop_id,
                kind="quiz_win",
                customer_id=winner.customer_id,
                live_session_id=quiz.live_session_id,
                properties={
                    "quiz_id": quiz.id,
                    "rank": rank,
                    "reward": quiz.reward_kind,
                    "reward_status": winner.reward_status,
                },
                client_event_id=f"quiz-win-{quiz.id}-{winner.customer_id}",
            )
    common.send(session, quiz.live_session_id, {"type": "quiz", "card": quiz_card(quiz, winners)})
    return quiz


async def _reward(session: AsyncSession, quiz: Quiz, winner: QuizAnswer, actor: Actor) -> None:
    """Grant one winner's reward (a failure is noted on the answer; the result stands)."""
    if quiz.reward_kind == RewardKind.NONE.value or winner.customer_id is None:
        return
    reason = f"quiz {quiz.id}: {quiz.question}"[:200]
    try:
        async with session.begin_nested():
            if quiz.reward_kind == RewardKind.POINTS.value:
                from liveloop.customers.points import service as points

                await points.grant_points_once(
                    session=session,
                    shop_id=quiz.shop_id,
                    customer_id=winner.customer_id,
                    points=quiz.reward_points,
                    reason=reason,
                    ref_type="quiz",
                    ref_id=quiz.id,
                    idempotency_key=f"quiz:{quiz.id}:{winner.customer_id}",
                )
            elif quiz.reward_coupon_id is not None:
                from liveloop.commerce.coupons import service as coupons

                await coupons.grant_coupon(
                    session=session,
                    shop_id=quiz.shop_id,
                    coupon_id=quiz.reward_coupon_id,
                    customer_id=winner.customer_id,
                    reason=reason,
                )
            winner.reward_status = "granted"
            await session.flush()
    except Exception as error:  # the coupon ran out, the customer was erased…
        log.warning("quiz_reward_failed", quiz_id=quiz.id, error=repr(error))
        winner.reward_status = "failed"
        winner.reward_note = str(error)[:200]
        await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="live.quiz_reward",
        target_type="quiz",
        target_id=quiz.id,
        details={
            "customer_id": winner.customer_id,
            "rank": winner.rank,
            "reward": {
                "kind": quiz.reward_kind,
                "points": quiz.reward_points,
                "coupon_id": quiz.reward_coupon_id,
            },
            "status": winner.reward_status,
        },
    )
