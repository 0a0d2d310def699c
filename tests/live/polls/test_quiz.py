"""Quizzes: validation, one answer each, close by time or by the anchor (idempotent), the
correct and fastest N ranked by server receive time (ties by id), rewards granted once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from liveloop.core.database import utcnow
from liveloop.customers.points.models import PointsEntry
from liveloop.events.models import Event
from liveloop.live.polls import quiz as quiz_service
from liveloop.live.polls.models import Quiz, QuizAnswer
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.live.polls.conftest import viewer


def body(**overrides: object) -> dict[str, object]:
    return {
        "question": "今天第一款茶叫什么？",
        "options": ["大红袍", "龙井", "普洱"],
        "correct_index": 1,
        "duration_seconds": 30,
        "reward_kind": "points",
        "reward_points": 50,
        "winner_count": 2,
        **overrides,
    }


async def end_quiz(session, quiz_id: int) -> Quiz:  # type: ignore[no-untyped-def]
    """Move the quiz and its answers 5 minutes into the past: its time is up."""
    back = dt.timedelta(minutes=5)
    stored = await session.get(Quiz, quiz_id)
    stored.starts_at -= back
    stored.ends_at -= back
    for answer in (
        await session.execute(select(QuizAnswer).where(QuizAnswer.quiz_id == quiz_id))
    ).scalars():
        answer.received_at -= back
    await session.flush()
    return stored


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"options": ["一"]}, "options"),
        ({"options": list("abcdefg")}, "options"),
        ({"correct_index": 3}, "correct_index"),
        ({"duration_seconds": 5}, "duration_seconds"),
        ({"duration_seconds": 121}, "duration_seconds"),
        ({"reward_points": 0}, "reward_points"),
        ({"reward_kind": "coupon"}, "reward_coupon_id"),
        ({"winner_count": 0}, "winner_count"),
    ],
)
async def test_quiz_validation(client, room, overrides, field) -> None:
    response = await client.post(f"/api/v1/live/{room.id}/quizzes", json=body(**overrides))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


async def test_quiz_fastest_correct_win_and_rewards_once(
    client, anon_client, session, shop, room, settings, sent, monkeypatch
) -> None:
    created = await client.post(f"/api/v1/live/{room.id}/quizzes", json=body())
    assert created.status_code == 201, created.text
    quiz = created.json()
    assert "correct_index" not in sent[-1][1]["card"]  # the room never sees the answer early
    second = await client.post(f"/api/v1/live/{room.id}/quizzes", json=body())
    assert second.status_code == 409 and second.json()["code"] == "quiz_running"
    fans = [
        await factories.make_customer(session, shop_id=shop.id, name=f"答题{n}") for n in range(5)
    ]
    # Receive times: fan 3 first but wrong, fans 1 and 2 at the same instant (tie: by id),
    # fan 0 later, fan 4 last.
    base = utcnow()
    plan = [(fans[3], 0, 0), (fans[2], 1, 1), (fans[1], 1, 1), (fans[0], 1, 2), (fans[4], 1, 3)]
    ids = {}
    for fan, option, offset in plan:
        monkeypatch.setattr(quiz_service, "utcnow", lambda o=offset: base + dt.timedelta(seconds=o))
        answered = await anon_client.post(
            f"/api/v1/public/quizzes/{quiz['id']}/answer",
            json={"option": option},
            headers=viewer(settings, shop.id, room.id, fan.id, device=f"q{fan.id}"),
        )
        assert answered.status_code == 201, answered.text
        ids[fan.id] = fan
    monkeypatch.undo()
    monkeypatch.setattr(
        "liveloop.live.polls.common.send", lambda _s, room_id, msg: sent.append((room_id, msg))
    )
    twice = await anon_client.post(
        f"/api/v1/public/quizzes/{quiz['id']}/answer",
        json={"option": 2},
        headers=viewer(settings, shop.id, room.id, fans[0].id, device="other"),
    )
    assert twice.status_code == 409 and twice.json()["code"] == "already_answered"
    bad = await anon_client.post(
        f"/api/v1/public/quizzes/{quiz['id']}/answer",
        json={"option": 9},
        headers=viewer(settings, shop.id, room.id, None, device="g"),
    )
    assert bad.status_code == 422 and bad.json()["field"] == "option"

    stored = await end_quiz(session, quiz["id"])
    # The tie between fans 1 and 2 (same receive time) goes to the smaller answer id: fan 2's.
    expected = [fans[2].id, fans[1].id]
    card = await quiz_service.current_room_card(
        session=session, shop_id=shop.id, live_session_id=room.id
    )
    assert card is not None and card["state"] == "closed" and card["correct_index"] == 1
    assert card["counts"] == [1, 4, 0] and card["correct"] == 4
    winners = await quiz_service.winners_of(session, stored)
    assert [w.customer_id for w in winners] == expected and [w.rank for w in winners] == [1, 2]
    # Closing again (the anchor, the job) grants nothing more.
    again = await client.post(f"/api/v1/quizzes/{quiz['id']}/close")
    assert (
        again.status_code == 200 and [w["customer_id"] for w in again.json()["winners"]] == expected
    )
    from liveloop.live.polls import tasks

    assert (
        await tasks.close_quiz_when_due.function(
            session=session, shop_id=shop.id, quiz_id=quiz["id"]
        )
        == "closed"
    )
    grants = (
        await session.execute(
            select(PointsEntry.customer_id, PointsEntry.delta).where(PointsEntry.ref_type == "quiz")
        )
    ).all()
    assert sorted(grants) == sorted((c, 50) for c in expected)
    rewards = await session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "live.quiz_reward")
    )
    assert rewards == 2
    closes = [m for _r, m in sent if m["type"] == "quiz" and m["card"]["state"] == "closed"]
    assert len(closes) == 1 and [w["rank"] for w in closes[0]["card"]["winners"]] == [1, 2]
    late = await anon_client.post(
        f"/api/v1/public/quizzes/{quiz['id']}/answer",
        json={"option": 1},
        headers=viewer(settings, shop.id, room.id, None, device="late"),
    )
    assert late.status_code == 409 and late.json()["code"] == "quiz_closed"
    mine = (
        await anon_client.get(
            f"/api/v1/public/quizzes/{quiz['id']}",
            headers=viewer(settings, shop.id, room.id, fans[2].id, device="any"),
        )
    ).json()
    assert mine["my_answer"]["correct"] is True and mine["my_answer"]["rank"] == 1
    detail = (await client.get(f"/api/v1/quizzes/{quiz['id']}")).json()
    assert len(detail["answer_list"]) == 5
    events = await session.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.type == "quiz_answer", Event.shop_id == shop.id)
    )
    assert events == 5


async def test_close_twice_in_service_grants_once(session, shop, room, actor) -> None:
    from liveloop.live.polls.schemas import QuizIn
    from liveloop.live.viewers import ViewerClaims

    quiz = await quiz_service.start_quiz(
        session=session, actor=actor, live_session_id=room.id, data=QuizIn(**body(winner_count=1))
    )
    fan = await factories.make_customer(session, shop_id=shop.id, name="快手")
    claims = ViewerClaims(
        shop_id=shop.id, live_session_id=room.id, customer_id=fan.id, device_id="d", name="快**"
    )
    await quiz_service.answer_quiz(session=session, claims=claims, quiz_id=quiz.id, option=1)
    await quiz_service.close_quiz(session=session, actor=actor, quiz_id=quiz.id)
    await quiz_service.close_quiz(session=session, actor=actor, quiz_id=quiz.id)
    await quiz_service.close_if_due(
        session=session, quiz=quiz, now=quiz.ends_at + dt.timedelta(hours=1)
    )
    total = await session.scalar(
        select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
            PointsEntry.customer_id == fan.id
        )
    )
    assert total == 50
    answer = await session.scalar(select(QuizAnswer).where(QuizAnswer.quiz_id == quiz.id))
    assert answer is not None and answer.reward_status == "granted" and answer.rank == 1


async def test_guest_answers_but_cannot_win_and_coupon_reward(
    client, anon_client, session, shop, room, settings
) -> None:
    from liveloop.commerce.coupons.models import CustomerCoupon
    from tests.commerce.coupons.test_service import make_coupon

    coupon = await make_coupon(session, shop)
    quiz = (
        await client.post(
            f"/api/v1/live/{room.id}/quizzes",
            json=body(
                reward_kind="coupon", reward_coupon_id=coupon.id, reward_points=0, winner_count=3
            ),
        )
    ).json()
    await anon_client.post(
        f"/api/v1/public/quizzes/{quiz['id']}/answer",
        json={"option": 1},
        headers=viewer(settings, shop.id, room.id, None, device="guest"),
    )
    fan = await factories.make_customer(session, shop_id=shop.id, name="券粉")
    await anon_client.post(
        f"/api/v1/public/quizzes/{quiz['id']}/answer",
        json={"option": 1},
        headers=viewer(settings, shop.id, room.id, fan.id, device="fan"),
    )
    closed = (await client.post(f"/api/v1/quizzes/{quiz['id']}/close")).json()
    assert [w["customer_id"] for w in closed["winners"]] == [fan.id]
    assert closed["winners"][0]["reward_status"] == "granted"
    await client.post(f"/api/v1/quizzes/{quiz['id']}/close")
    held = await session.scalar(
        select(func.count()).select_from(CustomerCoupon).where(CustomerCoupon.customer_id == fan.id)
    )
    assert held == 1


async def test_quiz_shop_isolation(client, session, other_shop) -> None:
    from liveloop.live.polls.schemas import QuizIn
    from liveloop.shops.service import system_actor
    from tests.factories.live import make_live_session

    their_room = await make_live_session(session, shop_id=other_shop.id, status="live")
    theirs = await quiz_service.start_quiz(
        session=session,
        actor=system_actor(other_shop.id),
        live_session_id=their_room.id,
        data=QuizIn(**body()),
    )
    assert (await client.get(f"/api/v1/quizzes/{theirs.id}")).status_code == 404
    assert (await client.post(f"/api/v1/quizzes/{theirs.id}/close")).status_code == 404


async def test_quiz_coupon_reward_must_exist_and_cover_the_winners(
    client, session, shop, other_shop, room
) -> None:
    from tests.commerce.coupons.test_service import make_coupon

    theirs = await make_coupon(session, other_shop)
    unknown = await client.post(
        f"/api/v1/live/{room.id}/quizzes",
        json=body(reward_kind="coupon", reward_coupon_id=theirs.id, reward_points=0),
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "coupon_not_found"
    assert unknown.json()["field"] == "reward_coupon_id"
    few = await make_coupon(session, shop, total_quantity=2)
    short = await client.post(
        f"/api/v1/live/{room.id}/quizzes",
        json=body(reward_kind="coupon", reward_coupon_id=few.id, reward_points=0, winner_count=3),
    )
    assert short.status_code == 409 and short.json()["code"] == "reward_coupon_short"
    assert short.json()["field"] == "winner_count"


async def test_quiz_wins_are_events_and_banned_viewers_cannot_answer(
    client, anon_client, session, shop, room, settings, actor
) -> None:
    from liveloop.live import moderation

    quiz = (await client.post(f"/api/v1/live/{room.id}/quizzes", json=body(winner_count=1))).json()
    banned = await factories.make_customer(session, shop_id=shop.id, name="被封")
    await moderation.ban(
        session=session, actor=actor, live_session_id=room.id, customer_id=banned.id
    )
    refused = await anon_client.post(
        f"/api/v1/public/quizzes/{quiz['id']}/answer",
        json={"option": 1},
        headers=viewer(settings, shop.id, room.id, banned.id, device="b"),
    )
    assert refused.status_code == 403 and refused.json()["code"] == "banned"
    fan = await factories.make_customer(session, shop_id=shop.id, name="答对")
    await anon_client.post(
        f"/api/v1/public/quizzes/{quiz['id']}/answer",
        json={"option": 1},
        headers=viewer(settings, shop.id, room.id, fan.id, device="f"),
    )
    closed = (await client.post(f"/api/v1/quizzes/{quiz['id']}/close")).json()
    assert [w["customer_id"] for w in closed["winners"]] == [fan.id]
    wins = (
        await session.execute(
            select(Event.customer_id, Event.properties).where(
                Event.type == "quiz_win", Event.shop_id == shop.id
            )
        )
    ).all()
    assert [(c, p["rank"]) for c, p in wins] == [(fan.id, 1)]
    after = await client.post(f"/api/v1/live/{room.id}/quizzes", json=body())
    assert after.status_code == 201  # the closed quiz frees the room for the next one
