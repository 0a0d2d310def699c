"""Polls: console open/list/close, viewer votes, validation, isolation, throttled cards."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from liveloop.events.models import Event
from liveloop.live.polls import common, service
from liveloop.live.polls.models import Poll
from liveloop.live.polls.throttle import CardThrottle
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.factories.live import make_live_session
from tests.live.polls.conftest import viewer


def body(**overrides: object) -> dict[str, object]:
    return {"question": "下一款上什么？", "options": ["红茶", "绿茶", "乌龙"], **overrides}


async def test_open_vote_close_and_history(
    client, anon_client, session, shop, room, settings, sent
) -> None:
    opened = await client.post(f"/api/v1/live/{room.id}/polls", json=body())
    assert opened.status_code == 201, opened.text
    poll = opened.json()
    assert poll["state"] == "open" and poll["counts"] == [0, 0, 0]
    assert sent[-1][1]["type"] == "poll" and sent[-1][1]["card"]["id"] == poll["id"]
    fans = [
        await factories.make_customer(session, shop_id=shop.id, name=f"粉丝{n}") for n in range(3)
    ]
    for fan, choice in zip(fans, [0, 2, 2], strict=True):
        voted = await anon_client.post(
            f"/api/v1/public/polls/{poll['id']}/vote",
            json={"options": [choice]},
            headers=viewer(settings, shop.id, room.id, fan.id, device=f"dev{fan.id}"),
        )
        assert voted.status_code == 201, voted.text
    assert voted.json()["counts"] == [1, 0, 2] and voted.json()["voters"] == 3
    # One vote per customer, from any device; a vote cannot be changed.
    again = await anon_client.post(
        f"/api/v1/public/polls/{poll['id']}/vote",
        json={"options": [1]},
        headers=viewer(settings, shop.id, room.id, fans[0].id, device="another-phone"),
    )
    assert again.status_code == 409 and again.json()["code"] == "already_voted"
    # A guest votes once per device.
    guest = viewer(settings, shop.id, room.id, None, device="guest-phone")
    first = await anon_client.post(
        f"/api/v1/public/polls/{poll['id']}/vote", json={"options": [1]}, headers=guest
    )
    assert first.status_code == 201
    second = await anon_client.post(
        f"/api/v1/public/polls/{poll['id']}/vote", json={"options": [1]}, headers=guest
    )
    assert second.status_code == 409
    card = (await anon_client.get(f"/api/v1/public/polls/{poll['id']}", headers=guest)).json()
    assert card["my_choices"] == [1] and card["counts"] == [1, 1, 2]

    closed = await client.post(f"/api/v1/polls/{poll['id']}/close")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert closed.json()["counts"] == [1, 1, 2] and closed.json()["show_until"]
    assert sent[-1][1]["card"]["state"] == "closed"
    messages_before = len(sent)
    twice = await client.post(f"/api/v1/polls/{poll['id']}/close")
    assert twice.status_code == 200 and twice.json()["counts"] == [1, 1, 2]
    assert len(sent) == messages_before  # the second close sends nothing
    audits = await session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "live.poll_close")
    )
    assert audits == 1
    late = await anon_client.post(
        f"/api/v1/public/polls/{poll['id']}/vote",
        json={"options": [0]},
        headers=viewer(settings, shop.id, room.id, None, device="late"),
    )
    assert late.status_code == 409 and late.json()["code"] == "poll_closed"

    stored = await session.get(Poll, poll["id"])
    assert stored is not None and stored.results == {"counts": [1, 1, 2], "voters": 4}
    history = (await client.get(f"/api/v1/live/{room.id}/polls")).json()["items"]
    assert [p["id"] for p in history] == [poll["id"]] and history[0]["voters"] == 4
    detail = (await client.get(f"/api/v1/polls/{poll['id']}")).json()
    assert sorted(b["choices"][0] for b in detail["ballots"]) == [0, 1, 2, 2]
    events = await session.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.type == "poll_vote", Event.shop_id == shop.id)
    )
    assert events == 4


async def test_multiple_choice_limits(client, anon_client, shop, room, settings) -> None:
    poll = (
        await client.post(
            f"/api/v1/live/{room.id}/polls",
            json=body(options=["A", "B", "C", "D"], multiple=True, max_choices=2),
        )
    ).json()
    url = f"/api/v1/public/polls/{poll['id']}/vote"
    headers = viewer(settings, shop.id, room.id, None, device="m1")
    three = await anon_client.post(url, json={"options": [0, 1, 2]}, headers=headers)
    assert three.status_code == 422 and three.json()["field"] == "options"
    dup = await anon_client.post(url, json={"options": [1, 1]}, headers=headers)
    assert dup.status_code == 422 and dup.json()["field"] == "options"
    out = await anon_client.post(url, json={"options": [7]}, headers=headers)
    assert out.status_code == 422 and out.json()["field"] == "options"
    two = await anon_client.post(url, json={"options": [3, 1]}, headers=headers)
    assert two.status_code == 201 and two.json()["counts"] == [0, 1, 0, 1]
    assert two.json()["voters"] == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"options": ["只有一个"]}, "options"),
        ({"options": [str(n) for n in range(11)]}, "options"),
        ({"options": ["同", "同"]}, "options"),
        ({"question": ""}, "question"),
        ({"multiple": True, "max_choices": 4}, "max_choices"),
        ({"duration_seconds": 5}, "duration_seconds"),
    ],
)
async def test_poll_validation(client, room, overrides, field) -> None:
    response = await client.post(f"/api/v1/live/{room.id}/polls", json=body(**overrides))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


async def test_poll_needs_a_live_room(client, session, shop) -> None:
    scheduled = await make_live_session(session, shop_id=shop.id)
    response = await client.post(f"/api/v1/live/{scheduled.id}/polls", json=body())
    assert response.status_code == 409 and response.json()["code"] == "live_session_not_live"


async def test_shop_isolation(client, anon_client, session, other_shop, settings) -> None:
    from liveloop.shops.service import system_actor

    their_room = await make_live_session(session, shop_id=other_shop.id, status="live")
    from liveloop.live.polls.schemas import PollIn

    theirs = await service.open_poll(
        session=session,
        actor=system_actor(other_shop.id),
        live_session_id=their_room.id,
        data=PollIn(**body()),
    )
    assert (await client.get(f"/api/v1/polls/{theirs.id}")).status_code == 404
    assert (await client.post(f"/api/v1/polls/{theirs.id}/close")).status_code == 404
    assert (await client.get(f"/api/v1/live/{their_room.id}/polls")).status_code == 404
    opened = await client.post(f"/api/v1/live/{their_room.id}/polls", json=body())
    assert opened.status_code == 404


async def test_viewer_of_another_room_or_shop_gets_404(
    client, anon_client, session, shop, other_shop, room, settings
) -> None:
    poll = (await client.post(f"/api/v1/live/{room.id}/polls", json=body())).json()
    other_room = await make_live_session(session, shop_id=shop.id, status="live")
    for headers in (
        viewer(settings, shop.id, other_room.id, None, device="x"),
        viewer(settings, other_shop.id, None, None, device="y"),
    ):
        response = await anon_client.post(
            f"/api/v1/public/polls/{poll['id']}/vote", json={"options": [0]}, headers=headers
        )
        assert response.status_code == 404


async def test_closes_at_its_end_time_on_next_read(
    client, anon_client, session, shop, room, settings, sent
) -> None:
    poll = (
        await client.post(f"/api/v1/live/{room.id}/polls", json=body(duration_seconds=30))
    ).json()
    stored = await session.get(Poll, poll["id"])
    assert stored is not None
    stored.opened_at -= dt.timedelta(minutes=1)
    stored.ends_at = stored.opened_at + dt.timedelta(seconds=30)
    await session.flush()
    headers = viewer(settings, shop.id, room.id, None, device="z")
    card = (await anon_client.get(f"/api/v1/public/polls/{poll['id']}", headers=headers)).json()
    assert card["state"] == "closed" and card["closed_at"] == stored.ends_at.isoformat()
    vote = await anon_client.post(
        f"/api/v1/public/polls/{poll['id']}/vote", json={"options": [0]}, headers=headers
    )
    assert vote.status_code == 409
    # The job does nothing more on a closed poll.
    from liveloop.live.polls import tasks

    assert (
        await tasks.close_poll_when_due.function(
            session=session, shop_id=shop.id, poll_id=poll["id"]
        )
        == "closed"
    )
    closes = [m for _r, m in sent if m["type"] == "poll" and m["card"]["state"] == "closed"]
    assert len(closes) == 1


async def test_many_votes_few_room_messages(
    client, anon_client, shop, room, settings, monkeypatch
) -> None:
    """Votes are offered to the throttle after commit; with the clock standing still, 40
    votes give one card at once and one coalesced card at the flush: never one per vote.

    The interval is an hour of the fake clock: the flush timer is a real event-loop timer
    of that delay, so a slow machine cannot fire it while the 40 votes are posted."""
    published: list[dict[str, Any]] = []

    async def record(_room_id: int, message: dict[str, Any]) -> None:
        published.append(message)

    now = [1000.0]
    throttle = CardThrottle(interval_s=3600.0, clock=lambda: now[0], sender=record)
    monkeypatch.setattr(service, "THROTTLE", throttle)
    monkeypatch.setattr(common, "after_commit", lambda _session, callback: callback())
    monkeypatch.setattr(common, "send", lambda *_a: None)
    poll = (await client.post(f"/api/v1/live/{room.id}/polls", json=body())).json()
    for n in range(40):
        response = await anon_client.post(
            f"/api/v1/public/polls/{poll['id']}/vote",
            json={"options": [n % 3]},
            headers=viewer(settings, shop.id, room.id, None, device=f"phone-{n}"),
        )
        assert response.status_code == 201
    assert throttle.sent == 1 and throttle.coalesced == 39
    now[0] += 3600.0
    assert throttle.flush(poll["id"]) is True
    assert throttle.flush(poll["id"]) is False  # nothing kept any more
    import asyncio

    await asyncio.sleep(0)
    assert len(published) == 2
    assert published[0]["card"]["voters"] == 1
    assert published[-1]["card"]["voters"] == 40 and published[-1]["card"]["counts"] == [14, 13, 13]
    # After a quiet interval the next vote goes out at once.
    now[0] += 3600.0
    await anon_client.post(
        f"/api/v1/public/polls/{poll['id']}/vote",
        json={"options": [0]},
        headers=viewer(settings, shop.id, room.id, None, device="phone-late"),
    )
    assert throttle.sent == 3


async def test_room_card_for_a_room_opening_later(client, session, shop, room) -> None:
    assert (
        await service.current_room_card(session=session, shop_id=shop.id, live_session_id=room.id)
        is None
    )
    poll = (await client.post(f"/api/v1/live/{room.id}/polls", json=body())).json()
    card = await service.current_room_card(
        session=session, shop_id=shop.id, live_session_id=room.id
    )
    assert card is not None and card["id"] == poll["id"] and card["state"] == "open"


async def test_one_open_poll_per_room(client, room) -> None:
    first = (await client.post(f"/api/v1/live/{room.id}/polls", json=body())).json()
    second = await client.post(f"/api/v1/live/{room.id}/polls", json=body(question="再来一个？"))
    assert second.status_code == 409 and second.json()["code"] == "poll_open"
    assert str(first["id"]) in second.json()["message"]
    await client.post(f"/api/v1/polls/{first['id']}/close")
    third = await client.post(f"/api/v1/live/{room.id}/polls", json=body(question="再来一个？"))
    assert third.status_code == 201, third.text


async def test_a_timed_poll_past_its_end_makes_way_for_the_next(client, session, room) -> None:
    first = (
        await client.post(f"/api/v1/live/{room.id}/polls", json=body(duration_seconds=30))
    ).json()
    stored = await session.get(Poll, first["id"])
    assert stored is not None
    stored.ends_at = stored.opened_at - dt.timedelta(seconds=1)
    await session.flush()
    second = await client.post(f"/api/v1/live/{room.id}/polls", json=body())
    assert second.status_code == 201, second.text
    await session.refresh(stored)
    assert stored.status == "closed" and stored.open_room_key is None


async def test_banned_viewer_cannot_vote(
    client, anon_client, session, shop, room, settings, actor
) -> None:
    from liveloop.live import moderation

    fan = await factories.make_customer(session, shop_id=shop.id, name="捣乱")
    await moderation.ban(session=session, actor=actor, live_session_id=room.id, customer_id=fan.id)
    poll = (await client.post(f"/api/v1/live/{room.id}/polls", json=body())).json()
    refused = await anon_client.post(
        f"/api/v1/public/polls/{poll['id']}/vote",
        json={"options": [0]},
        headers=viewer(settings, shop.id, room.id, fan.id, device="b"),
    )
    assert refused.status_code == 403 and refused.json()["code"] == "banned"
    assert (await client.get(f"/api/v1/polls/{poll['id']}")).json()["voters"] == 0


async def test_vote_on_an_unknown_poll_or_with_bad_body(anon_client, shop, room, settings) -> None:
    headers = viewer(settings, shop.id, room.id, None, device="u")
    missing = await anon_client.post(
        "/api/v1/public/polls/999999/vote", json={"options": [0]}, headers=headers
    )
    assert missing.status_code == 404 and missing.json()["code"] == "poll_not_found"
    empty = await anon_client.post(
        "/api/v1/public/polls/999999/vote", json={"options": []}, headers=headers
    )
    assert empty.status_code == 422 and empty.json()["field"] == "options"
    unsigned = await anon_client.post("/api/v1/public/polls/1/vote", json={"options": [0]})
    assert unsigned.status_code == 401


async def test_no_votes_once_the_live_has_ended(
    client, anon_client, session, shop, room, settings
) -> None:
    poll = (await client.post(f"/api/v1/live/{room.id}/polls", json=body())).json()
    room.status = "ended"
    await session.flush()
    refused = await anon_client.post(
        f"/api/v1/public/polls/{poll['id']}/vote",
        json={"options": [0]},
        headers=viewer(settings, shop.id, room.id, None, device="replay"),
    )
    assert refused.status_code == 409 and refused.json()["code"] == "live_session_ended"


async def test_a_poll_left_open_when_the_live_ends_is_closed_as_of_the_end(
    client, anon_client, session, shop, room, settings, sent
) -> None:
    from liveloop.core.database import utcnow
    from liveloop.live.polls import tasks

    poll = (await client.post(f"/api/v1/live/{room.id}/polls", json=body())).json()
    for device, option in (("a", 0), ("b", 1), ("c", 1)):
        voted = await anon_client.post(
            f"/api/v1/public/polls/{poll['id']}/vote",
            json={"options": [option]},
            headers=viewer(settings, shop.id, room.id, None, device=device),
        )
        assert voted.status_code == 201, voted.text
    other = await make_live_session(session, shop_id=shop.id, status="live")
    still_live = (await client.post(f"/api/v1/live/{other.id}/polls", json=body())).json()
    ended_at = utcnow()
    room.status, room.ended_at = "ended", ended_at
    await session.flush()

    assert await tasks.close_polls_after_live.run(session=session) == 1
    closed = await service.get_poll(session=session, shop_id=shop.id, poll_id=poll["id"])
    assert closed.status == "closed" and closed.closed_at == ended_at
    assert closed.results == {"counts": [1, 2, 0], "voters": 3}
    assert sent[-1] == (room.id, {"type": "poll", "card": service.poll_card(closed, [1, 2, 0], 3)})
    open_one = await service.get_poll(session=session, shop_id=shop.id, poll_id=still_live["id"])
    assert open_one.status == "open"  # its live is still on air
    assert await tasks.close_polls_after_live.run(session=session) == 0
