"""Q&A: viewers ask (length-checked, rate-limited), staff see the queue, answer on screen."""

from __future__ import annotations

from liveloop.live.polls import questions
from tests import factories
from tests.factories.live import make_live_session
from tests.live.polls.conftest import viewer


async def test_ask_queue_answer_on_screen(
    client, anon_client, session, shop, room, settings, sent
) -> None:
    fan = await factories.make_customer(session, shop_id=shop.id, name="提问者")
    headers = viewer(settings, shop.id, room.id, fan.id, name="提**")
    asked = await anon_client.post(
        "/api/v1/public/live/questions", json={"text": "  这款茶  能冷泡吗？ "}, headers=headers
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["text"] == "这款茶 能冷泡吗？"
    staff_message = sent[-1][1]
    assert staff_message["type"] == "question" and staff_message["to"] == "staff"
    assert staff_message["question"]["name"] == "提**"
    queue = (await client.get(f"/api/v1/live/{room.id}/questions?status=pending")).json()["items"]
    assert [q["id"] for q in queue] == [asked.json()["id"]]

    empty = await client.post(
        f"/api/v1/live-questions/{queue[0]['id']}/answer", json={"answer": " ", "on_screen": True}
    )
    assert empty.status_code == 422 and empty.json()["field"] == "answer"
    answered = await client.post(
        f"/api/v1/live-questions/{queue[0]['id']}/answer",
        json={"answer": "可以，4 小时。", "on_screen": True},
    )
    assert answered.status_code == 200 and answered.json()["status"] == "answered"
    qa = [m for _r, m in sent if m["type"] == "qa"]
    assert (
        qa[-1]["card"]["question"] == "这款茶 能冷泡吗？"
        and qa[-1]["card"]["answer"] == "可以，4 小时。"
    )
    card = await questions.current_room_card(
        session=session, shop_id=shop.id, live_session_id=room.id
    )
    assert card is not None and card["id"] == queue[0]["id"]

    # A second on-screen answer replaces the first.
    other = (
        await anon_client.post(
            "/api/v1/public/live/questions", json={"text": "包邮吗？"}, headers=headers
        )
    ).json()
    await client.post(
        f"/api/v1/live-questions/{other['id']}/answer", json={"answer": "包邮", "on_screen": True}
    )
    card = await questions.current_room_card(
        session=session, shop_id=shop.id, live_session_id=room.id
    )
    assert card is not None and card["id"] == other["id"]
    down = await client.post(f"/api/v1/live/{room.id}/qa/take-down")
    assert down.json() == {"taken_down": True}
    assert sent[-1][1] == {"type": "qa", "card": None}
    assert (
        await questions.current_room_card(session=session, shop_id=shop.id, live_session_id=room.id)
        is None
    )

    third = (
        await anon_client.post(
            "/api/v1/public/live/questions", json={"text": "有小样吗？"}, headers=headers
        )
    ).json()
    dismissed = await client.post(f"/api/v1/live-questions/{third['id']}/dismiss")
    assert dismissed.json()["status"] == "dismissed"
    assert (await client.get(f"/api/v1/live/{room.id}/questions?status=pending")).json()[
        "items"
    ] == []


async def test_question_validation_and_rate_limit(anon_client, shop, room, settings) -> None:
    headers = viewer(settings, shop.id, room.id, None, device="asker")
    short = await anon_client.post(
        "/api/v1/public/live/questions", json={"text": "?"}, headers=headers
    )
    assert short.status_code == 422 and short.json()["field"] == "text"
    long = await anon_client.post(
        "/api/v1/public/live/questions", json={"text": "问" * 201}, headers=headers
    )
    assert long.status_code == 422 and long.json()["field"] == "text"
    for n in range(questions.QUESTIONS_PER_WINDOW):
        ok = await anon_client.post(
            "/api/v1/public/live/questions", json={"text": f"问题 {n}"}, headers=headers
        )
        assert ok.status_code == 201
    limited = await anon_client.post(
        "/api/v1/public/live/questions", json={"text": "还有一个"}, headers=headers
    )
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    # Another viewer is not held back.
    other = viewer(settings, shop.id, room.id, None, device="someone-else")
    assert (
        await anon_client.post(
            "/api/v1/public/live/questions", json={"text": "我也问"}, headers=other
        )
    ).status_code == 201
    roomless = viewer(settings, shop.id, None, None, device="x")
    assert (
        await anon_client.post(
            "/api/v1/public/live/questions", json={"text": "在吗"}, headers=roomless
        )
    ).status_code == 422


async def test_question_shop_isolation(
    client, anon_client, session, shop, other_shop, settings
) -> None:
    their_room = await make_live_session(session, shop_id=other_shop.id, status="live")
    asked = await anon_client.post(
        "/api/v1/public/live/questions",
        json={"text": "别家的问题"},
        headers=viewer(settings, other_shop.id, their_room.id),
    )
    assert asked.status_code == 201
    qid = asked.json()["id"]
    assert (
        await client.post(f"/api/v1/live-questions/{qid}/answer", json={"answer": "x"})
    ).status_code == 404
    assert (await client.post(f"/api/v1/live-questions/{qid}/dismiss")).status_code == 404
    assert (await client.get(f"/api/v1/live/{their_room.id}/questions")).status_code == 404


async def test_muted_or_banned_viewers_cannot_ask_and_blocked_words_refuse(
    anon_client, session, shop, room, settings, actor
) -> None:
    from liveloop.live import moderation
    from liveloop.live.words import add_words

    muted = await factories.make_customer(session, shop_id=shop.id, name="禁言")
    await moderation.mute(
        session=session, actor=actor, live_session_id=room.id, customer_id=muted.id
    )
    refused = await anon_client.post(
        "/api/v1/public/live/questions",
        json={"text": "我能问吗？"},
        headers=viewer(settings, shop.id, room.id, muted.id),
    )
    assert refused.status_code == 403 and refused.json()["code"] == "muted"
    await moderation.ban(session=session, actor=actor, live_session_id=None, device_id="bad-phone")
    banned = await anon_client.post(
        "/api/v1/public/live/questions",
        json={"text": "我能问吗？"},
        headers=viewer(settings, shop.id, room.id, None, device="bad-phone"),
    )
    assert banned.status_code == 403 and banned.json()["code"] == "banned"
    await add_words(session=session, actor=actor, words=[("加微信", "block"), ("便宜", "mask")])
    headers = viewer(settings, shop.id, room.id, None, device="ok-phone")
    blocked = await anon_client.post(
        "/api/v1/public/live/questions", json={"text": "主播加微信吗"}, headers=headers
    )
    assert blocked.status_code == 422 and blocked.json()["code"] == "question_blocked"
    masked = await anon_client.post(
        "/api/v1/public/live/questions", json={"text": "能再便宜点吗"}, headers=headers
    )
    assert masked.status_code == 201 and masked.json()["text"] == "能再＊＊点吗"
    assert (
        await anon_client.post(
            "/api/v1/public/live/questions", json={"text": "   "}, headers=headers
        )
    ).status_code == 422
