"""Property tests: for any sequence of ballots (valid or not, repeated, from customers on
several devices or from guests) a poll's counts equal a reference tally, and its frozen
results equal the counts; for any set of quiz answers the winners are the first N correct
customers by receive time (ties by id), each rewarded once however often the quiz is closed."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from liveloop.core.errors import Conflict, InvalidInput
from liveloop.customers.points.models import PointsEntry
from liveloop.live.polls import quiz as quiz_service
from liveloop.live.polls import service
from liveloop.live.polls.models import Quiz, QuizAnswer
from liveloop.live.polls.schemas import PollIn, QuizIn
from liveloop.live.viewers import ViewerClaims
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.factories.live import make_live_session

OPTIONS = ["甲", "乙", "丙", "丁"]
PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# (who: customer n or guest n, device n, chosen option indexes, possibly out of range or repeated)
ballots = st.lists(
    st.tuples(
        st.sampled_from(["customer", "guest"]),
        st.integers(0, 3),
        st.integers(0, 2),
        st.lists(st.integers(-1, 4), min_size=1, max_size=4),
    ),
    max_size=14,
)


def expected_outcome(choices: list[int], *, multiple: bool, max_choices: int, voted: bool) -> str:
    """What the rules say of one ballot (the reference the service is checked against)."""
    if len(set(choices)) != len(choices) or any(c < 0 or c >= len(OPTIONS) for c in choices):
        return "invalid"
    if not multiple and len(choices) != 1:
        return "invalid"
    if len(choices) > max_choices:
        return "invalid"
    return "already_voted" if voted else "ok"


@PROPERTY_SETTINGS
@given(attempts=ballots, multiple=st.booleans(), max_choices=st.integers(1, 4))
async def test_counts_equal_a_reference_tally(
    session, shop, actor, attempts, multiple, max_choices
) -> None:
    nested = await session.begin_nested()
    try:
        room = await make_live_session(session, shop_id=shop.id, status="live")
        customers = [
            await factories.make_customer(session, shop_id=shop.id, name=f"投票{n}")
            for n in range(4)
        ]
        poll = await service.open_poll(
            session=session,
            actor=actor,
            live_session_id=room.id,
            data=PollIn(
                question="选哪个？", options=OPTIONS, multiple=multiple, max_choices=max_choices
            ),
        )
        limit = max_choices if multiple else 1
        voted: set[str] = set()
        tally: Counter[int] = Counter()
        for who, number, device, choices in attempts:
            customer_id = customers[number].id if who == "customer" else None
            # A customer is one voter on every device; a guest is one voter per device.
            key = f"c{customer_id}" if customer_id else f"g{number}-{device}"
            claims = ViewerClaims(
                shop_id=shop.id,
                live_session_id=room.id,
                customer_id=customer_id,
                device_id=f"{who}-{number}-{device}",
                name="观**",
            )
            expected = expected_outcome(
                choices, multiple=multiple, max_choices=limit, voted=key in voted
            )
            try:
                await service.vote(session=session, claims=claims, poll_id=poll.id, options=choices)
                outcome = "ok"
            except InvalidInput:
                outcome = "invalid"
            except Conflict as refused:
                outcome = refused.code
            assert outcome == expected, (choices, key)
            if outcome == "ok":
                voted.add(key)
                tally.update(choices)
        counts, voters = await service.count_votes(session, poll)
        assert counts == [tally[i] for i in range(len(OPTIONS))]
        assert voters == len(voted)
        closed = await service.close_poll(session=session, actor=actor, poll_id=poll.id)
        assert closed.results == {"counts": counts, "voters": voters}
        late = ViewerClaims(
            shop_id=shop.id, live_session_id=room.id, customer_id=None, device_id="late", name="晚"
        )
        try:
            await service.vote(session=session, claims=late, poll_id=poll.id, options=[0])
            raise AssertionError("a closed poll took a vote")
        except Conflict as refused:
            assert refused.code == "poll_closed"
    finally:
        await nested.rollback()


# (customer n or a guest, the option, the receive offset in seconds: equal offsets are ties)
answers = st.lists(
    st.tuples(st.one_of(st.integers(0, 5), st.none()), st.integers(0, 2), st.integers(0, 4)),
    max_size=12,
)


@PROPERTY_SETTINGS
@given(planned=answers, winner_count=st.integers(1, 4), closes=st.integers(1, 3))
async def test_quiz_winners_are_the_fastest_correct_and_rewarded_once(
    session, shop, actor, monkeypatch, planned, winner_count, closes
) -> None:
    nested = await session.begin_nested()
    try:
        room = await make_live_session(session, shop_id=shop.id, status="live")
        customers = [
            await factories.make_customer(session, shop_id=shop.id, name=f"答题{n}")
            for n in range(6)
        ]
        quiz = await quiz_service.start_quiz(
            session=session,
            actor=actor,
            live_session_id=room.id,
            data=QuizIn(
                question="哪个对？",
                options=["错一", "对", "错二"],
                correct_index=1,
                duration_seconds=30,
                reward_kind="points",
                reward_points=7,
                winner_count=winner_count,
            ),
        )
        # The quiz began 20 s ago: the planned receive times (0 to 4 s in) are in the past.
        quiz.starts_at -= dt.timedelta(seconds=20)
        quiz.ends_at -= dt.timedelta(seconds=20)
        await session.flush()
        base = quiz.starts_at
        accepted: list[
            tuple[dt.datetime, int, int | None, int]
        ] = []  # (at, answer id, customer, option)
        seen: set[str] = set()
        for index, (number, option, offset) in enumerate(planned):
            customer_id = customers[number].id if number is not None else None
            key = f"c{customer_id}" if customer_id else f"g{index}"
            at = base + dt.timedelta(seconds=offset)
            monkeypatch.setattr(quiz_service, "utcnow", lambda at=at: at)
            claims = ViewerClaims(
                shop_id=shop.id,
                live_session_id=room.id,
                customer_id=customer_id,
                device_id=f"dev-{index}",
                name="答**",
            )
            try:
                answer = await quiz_service.answer_quiz(
                    session=session, claims=claims, quiz_id=quiz.id, option=option
                )
            except Conflict as refused:
                assert refused.code == "already_answered" and key in seen
                continue
            assert key not in seen
            seen.add(key)
            accepted.append((at, answer.id, customer_id, option))
        monkeypatch.undo()
        expected = [
            customer
            for _at, _id, customer, option in sorted(accepted)
            if option == 1 and customer is not None
        ][:winner_count]
        stored = await session.get(Quiz, quiz.id)
        assert stored is not None
        for _ in range(closes):  # the anchor, the job, a read: one close grants
            await quiz_service.close_quiz(session=session, actor=actor, quiz_id=quiz.id)
        await quiz_service.close_if_due(
            session=session, quiz=stored, now=stored.ends_at + dt.timedelta(hours=1)
        )
        winners = await quiz_service.winners_of(session, stored)
        assert [w.customer_id for w in winners] == expected
        assert [w.rank for w in winners] == list(range(1, len(expected) + 1))
        grants = (
            await session.execute(
                select(PointsEntry.customer_id, PointsEntry.delta).where(
                    PointsEntry.ref_type == "quiz", PointsEntry.ref_id == quiz.id
                )
            )
        ).all()
        assert sorted(grants) == sorted((c, 7) for c in expected)
        rewards = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "live.quiz_reward", AuditEntry.target_id == str(quiz.id))
        )
        assert rewards == len(expected)
        results: dict[str, Any] = stored.results or {}
        assert results["answers"] == len(accepted)
        assert results["correct"] == sum(1 for *_x, option in accepted if option == 1)
        ranked = await session.scalar(
            select(func.count())
            .select_from(QuizAnswer)
            .where(QuizAnswer.quiz_id == quiz.id, QuizAnswer.rank.is_not(None))
        )
        assert ranked == len(expected)
    finally:
        await nested.rollback()
