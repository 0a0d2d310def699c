"""Helpers of the poll, Q&A and quiz tests: a room on air, viewer tokens, recorded messages."""

from __future__ import annotations

from typing import Any

import pytest

from liveloop.live.polls import common
from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from tests.factories.live import make_live_session


def viewer(
    settings: Any,
    shop_id: int,
    live_session_id: int | None,
    customer_id: int | None = None,
    *,
    device: str = "d1",
    name: str = "张**",
) -> dict[str, str]:
    token = sign_viewer_token(
        settings,
        ViewerClaims(
            shop_id=shop_id,
            live_session_id=live_session_id,
            customer_id=customer_id,
            device_id=device,
            name=name,
        ),
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def room(session, shop):  # type: ignore[no-untyped-def]
    return await make_live_session(session, shop_id=shop.id, status="live")


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, dict[str, Any]]]:
    """Every room message the tools would send after commit, in order."""
    messages: list[tuple[int, dict[str, Any]]] = []
    monkeypatch.setattr(common, "send", lambda _s, room_id, msg: messages.append((room_id, msg)))
    return messages


async def make_polls_records(session: Any, *, shop_id: int) -> dict[str, int]:
    """A closed poll with a ballot, a question and a closed quiz in this shop (for the shop
    isolation test): ids keyed by the route parameters."""
    from liveloop.live.polls import questions, quiz, service
    from liveloop.live.polls.schemas import PollIn, QuizIn
    from liveloop.shops.service import system_actor
    from tests import factories

    actor = system_actor(shop_id)
    room = await make_live_session(session, shop_id=shop_id, status="live")
    fan = await factories.make_customer(session, shop_id=shop_id, name="隔壁观众")
    claims = ViewerClaims(
        shop_id=shop_id, live_session_id=room.id, customer_id=fan.id, device_id="iso", name="隔**"
    )
    poll = await service.open_poll(
        session=session,
        actor=actor,
        live_session_id=room.id,
        data=PollIn(question="隔壁的投票", options=["是", "否"]),
    )
    await service.vote(session=session, claims=claims, poll_id=poll.id, options=[0])
    await service.close_poll(session=session, actor=actor, poll_id=poll.id)
    question = await questions.ask(session=session, claims=claims, text="隔壁的问题？")
    asked = await quiz.start_quiz(
        session=session,
        actor=actor,
        live_session_id=room.id,
        data=QuizIn(question="隔壁的答题", options=["对", "错"], correct_index=0),
    )
    await quiz.answer_quiz(session=session, claims=claims, quiz_id=asked.id, option=0)
    await quiz.close_quiz(session=session, actor=actor, quiz_id=asked.id)
    return {"poll_id": poll.id, "question_id": question.id, "quiz_id": asked.id}
