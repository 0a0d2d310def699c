"""The simulated audience (demo) votes in a poll, answers a quiz and asks questions against a
real server: the poll's counts and the quiz's answers come from the simulated viewers."""

from __future__ import annotations

import asyncio

from liveloop.demo.audience import DemoAudience
from liveloop.demo.polls_demo import answer_quizzes, ask_questions, vote_in_polls
from tests.pages.test_live_viewer import LiveServer, live_server

__all__ = ["live_server"]  # the real server fixture


async def test_the_simulated_audience_votes_answers_and_asks(live_server: LiveServer) -> None:
    audience = DemoAudience(
        base_url=live_server.base,
        code=live_server.code,
        live_session_id=live_server.live_session_id,
        size=3,
        ramp_seconds=0.5,
        mean_watch_seconds=3600,
        tick_seconds=0.25,
        steps=[
            vote_in_polls(interest=1.0, rate=4.0),
            answer_quizzes(interest=1.0, rate=4.0),
            ask_questions(rate=4.0),
        ],
        seed=11,
    )
    room = live_server.live_session_id
    audience.start()
    try:
        poll = await live_server.api(
            "POST",
            f"/api/v1/live/{room}/polls",
            {"question": "下一款？", "options": ["红茶", "绿茶"]},
        )
        assert poll.status_code == 201, poll.text
        voted: dict = {}  # type: ignore[type-arg]
        for _ in range(150):
            voted = (await live_server.api("GET", f"/api/v1/polls/{poll.json()['id']}")).json()
            if voted["voters"] >= 3:
                break
            await asyncio.sleep(0.2)
        quiz = await live_server.api(
            "POST",
            f"/api/v1/live/{room}/quizzes",
            {"question": "哪个是绿茶？", "options": ["大红袍", "龙井"], "correct_index": 1,
             "duration_seconds": 60},
        )  # fmt: skip
        assert quiz.status_code == 201, quiz.text
        answered: dict = {}  # type: ignore[type-arg]
        for _ in range(150):
            answered = (await live_server.api("GET", f"/api/v1/quizzes/{quiz.json()['id']}")).json()
            if len(answered["answer_list"]) >= 3:
                break
            await asyncio.sleep(0.2)
        asked = (await live_server.api("GET", f"/api/v1/live/{room}/questions")).json()["items"]
    finally:
        await audience.stop()
    assert voted["voters"] == 3 and sum(voted["counts"]) >= 3  # one ballot per viewer
    assert len(answered["answer_list"]) == 3
    assert asked and all(len(q["text"]) >= 2 for q in asked)
