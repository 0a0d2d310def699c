"""Many viewers voting and answering at once on separate connections, committing for real
(PostgreSQL in CI; SQLite runs it too, one writer at a time): the counts equal the distinct
voters, a viewer who votes from two connections at once has one ballot, votes and answers
racing the close are all in the stored results, and a quiz closed five times at once rewards
exactly its N fastest correct customers, once each.

Not the rolled-back `session` fixture: the test makes its own shop and deletes it."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import delete, func, select

from liveloop.core.errors import Conflict
from liveloop.core.jobs import queue
from liveloop.customers import service as customers_service
from liveloop.customers.points.models import PointsEntry
from liveloop.events.models import Event
from liveloop.live.polls import quiz, service
from liveloop.live.polls.models import PollVote, QuizAnswer
from liveloop.live.polls.schemas import PollIn, QuizIn
from liveloop.live.viewers import ViewerClaims
from liveloop.shops import service as shops_service
from liveloop.shops.models import AuditEntry
from liveloop.shops.service import system_actor
from tests.factories.live import make_live_session
from tests.factories.shops import drop_shop


@pytest.fixture(autouse=True)
def job_queue(settings):  # type: ignore[no-untyped-def]
    queue.configure(settings)


async def test_concurrent_votes_count_each_voter_once(database, monkeypatch) -> None:
    monkeypatch.setattr(service.THROTTLE, "sender", _discard)
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="投票并发店")
        room = await make_live_session(session, shop_id=shop.id, status="live")
        ids = await customers_service.insert_customer_rows(
            session=session,
            rows=[{"shop_id": shop.id, "display_name": f"观众{n}"} for n in range(40)],
        )
        poll = await service.open_poll(
            session=session,
            actor=system_actor(shop.id),
            live_session_id=room.id,
            data=PollIn(question="选哪款？", options=["A", "B", "C"]),
        )
        await session.commit()
    # Every customer votes twice at the same moment (two devices), guests once each.
    attempts = [(cid, f"dev-{cid}-{n}", (cid + n) % 3) for cid in ids for n in range(2)]
    attempts += [(None, f"guest-{n}", n % 3) for n in range(20)]

    async def vote(customer_id: int | None, device: str, option: int) -> str:
        claims = ViewerClaims(
            shop_id=shop.id,
            live_session_id=room.id,
            customer_id=customer_id,
            device_id=device,
            name="观**",
        )
        async with database.sessionmaker() as session:
            try:
                await service.vote(
                    session=session, claims=claims, poll_id=poll.id, options=[option]
                )
                await session.commit()
                return "ok"
            except Conflict as refused:
                await session.rollback()
                return refused.code
            except Exception as error:  # SQLite: "database is locked" under contention
                await session.rollback()
                return type(error).__name__

    try:
        outcomes = Counter(await asyncio.gather(*(vote(*a) for a in attempts)))
        async with database.sessionmaker() as session:
            stored = await service.get_poll(session=session, shop_id=shop.id, poll_id=poll.id)
            counts, voters = await service.count_votes(session, stored)
            ballots = await session.scalar(
                select(func.count()).select_from(PollVote).where(PollVote.poll_id == poll.id)
            )
            distinct = await session.scalar(
                select(func.count(func.distinct(PollVote.voter_key))).where(
                    PollVote.poll_id == poll.id
                )
            )
        assert outcomes["ok"] == ballots == voters == distinct == sum(counts)
        assert set(outcomes) <= {"ok", "already_voted", "OperationalError"}
        if database.engine.dialect.name == "postgresql":
            # Every customer got exactly one ballot in, every guest one.
            assert outcomes["ok"] == len(ids) + 20 and outcomes["already_voted"] == len(ids)
    finally:
        async with database.sessionmaker() as session:
            await session.execute(delete(Event).where(Event.shop_id == shop.id))
            await drop_shop(session, shop.id)
            await session.commit()


async def _discard(_room_id: int, _message: dict[str, object]) -> None:
    return None


async def _cleanup(database, shop_id: int) -> None:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        await session.execute(delete(Event).where(Event.shop_id == shop_id))
        await drop_shop(session, shop_id)
        await session.commit()


async def test_votes_racing_the_close_are_all_in_the_results(database, monkeypatch) -> None:
    """Votes hold a shared lock on the poll until they commit, so the close waits for them:
    the frozen results count every stored ballot, and a vote after the close is refused."""
    monkeypatch.setattr(service.THROTTLE, "sender", _discard)
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="投票收尾店")
        room = await make_live_session(session, shop_id=shop.id, status="live")
        poll = await service.open_poll(
            session=session,
            actor=system_actor(shop.id),
            live_session_id=room.id,
            data=PollIn(question="哪个好？", options=["A", "B"]),
        )
        await session.commit()

    async def vote(n: int) -> str:
        claims = ViewerClaims(
            shop_id=shop.id, live_session_id=room.id, customer_id=None, device_id=f"g{n}", name="观"
        )
        async with database.sessionmaker() as session:
            try:
                await service.vote(session=session, claims=claims, poll_id=poll.id, options=[n % 2])
                await session.commit()
                return "ok"
            except Conflict as refused:
                await session.rollback()
                return refused.code
            except Exception as error:  # SQLite: "database is locked" under contention
                await session.rollback()
                return type(error).__name__

    async def close() -> str:
        async with database.sessionmaker() as session:
            await service.close_poll(session=session, actor=system_actor(shop.id), poll_id=poll.id)
            await session.commit()
            return "closed"

    try:
        tasks = [vote(n) for n in range(30)]
        tasks.insert(15, close())
        outcomes = Counter(await asyncio.gather(*tasks))
        assert outcomes["closed"] == 1
        assert set(outcomes) <= {"ok", "closed", "poll_closed", "OperationalError"}
        async with database.sessionmaker() as session:
            stored = await service.get_poll(session=session, shop_id=shop.id, poll_id=poll.id)
            ballots = await session.scalar(
                select(func.count()).select_from(PollVote).where(PollVote.poll_id == poll.id)
            )
        assert stored.results is not None
        assert stored.results["voters"] == ballots == outcomes["ok"]
        assert sum(stored.results["counts"]) == ballots
    finally:
        await _cleanup(database, shop.id)


async def test_quiz_answers_and_closes_at_once_reward_exactly_n_once(database) -> None:
    """Forty customers answer (most correctly) while the anchor, the job and readers close
    the quiz at the same moment: exactly N winners, each rewarded once, one close audited,
    and every stored answer counted in the results."""
    winner_count = 5
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="答题并发店")
        room = await make_live_session(session, shop_id=shop.id, status="live")
        ids = await customers_service.insert_customer_rows(
            session=session,
            rows=[{"shop_id": shop.id, "display_name": f"答题{n}"} for n in range(40)],
        )
        started = await quiz.start_quiz(
            session=session,
            actor=system_actor(shop.id),
            live_session_id=room.id,
            data=QuizIn(
                question="哪个对？",
                options=["错", "对"],
                correct_index=1,
                duration_seconds=30,
                reward_kind="points",
                reward_points=9,
                winner_count=winner_count,
            ),
        )
        await session.commit()

    async def answer(customer_id: int, n: int) -> str:
        claims = ViewerClaims(
            shop_id=shop.id,
            live_session_id=room.id,
            customer_id=customer_id,
            device_id=f"d{n}",
            name="答**",
        )
        async with database.sessionmaker() as session:
            try:
                await quiz.answer_quiz(
                    session=session, claims=claims, quiz_id=started.id, option=int(n % 4 != 0)
                )
                await session.commit()
                return "ok"
            except Conflict as refused:
                await session.rollback()
                return refused.code
            except Exception as error:  # SQLite: "database is locked" under contention
                await session.rollback()
                return type(error).__name__

    async def close() -> str:
        async with database.sessionmaker() as session:
            try:
                await quiz.close_quiz(
                    session=session, actor=system_actor(shop.id), quiz_id=started.id
                )
                await session.commit()
                return "close"
            except Exception as error:
                await session.rollback()
                return type(error).__name__

    try:
        # The first half answer before anyone closes; then answers and five closes race.
        first = Counter(await asyncio.gather(*(answer(c, n) for n, c in enumerate(ids[:20]))))
        racing = [answer(c, n + 20) for n, c in enumerate(ids[20:])]
        for at in (0, 5, 10, 15, 20):
            racing.insert(at, close())
        second = Counter(await asyncio.gather(*racing))
        assert second["close"] == 5
        assert set(first) | set(second) <= {"ok", "close", "quiz_closed", "OperationalError"}
        async with database.sessionmaker() as session:
            stored = await quiz.get_quiz(session=session, shop_id=shop.id, quiz_id=started.id)
            rows = list(
                (
                    await session.execute(
                        select(QuizAnswer).where(QuizAnswer.quiz_id == started.id)
                    )
                ).scalars()
            )
            grants = (
                await session.execute(
                    select(PointsEntry.customer_id).where(
                        PointsEntry.ref_type == "quiz", PointsEntry.ref_id == started.id
                    )
                )
            ).all()
            closes = await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(
                    AuditEntry.action == "live.quiz_close", AuditEntry.target_id == str(started.id)
                )
            )
        correct = sorted((a.received_at, a.id, a.customer_id) for a in rows if a.is_correct)
        expected = [customer for _at, _id, customer in correct][:winner_count]
        winners = sorted((a for a in rows if a.rank is not None), key=lambda a: a.rank or 0)
        assert [w.customer_id for w in winners] == expected and len(expected) == winner_count
        assert sorted(g[0] for g in grants) == sorted(expected)  # each winner once, no one else
        assert closes == 1
        assert stored.results is not None and stored.results["answers"] == len(rows)
        assert len(rows) == first["ok"] + second["ok"]
    finally:
        await _cleanup(database, shop.id)
