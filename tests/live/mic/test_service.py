"""Mic requests: ask, accept into a seat, reject, withdraw, end; the room's card; the record."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from liveloop.events.models import Event
from liveloop.live import moderation
from liveloop.live import service as live_service
from liveloop.live.mic import service
from liveloop.live.mic.models import MicRequest
from liveloop.live.mic.schemas import MicSettingsIn
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.factories.live import make_live_session
from tests.live.mic.conftest import ask, open_mic


@pytest.fixture
async def room(session, shop):  # type: ignore[no-untyped-def]
    return await make_live_session(session, shop_id=shop.id, status="live")


@pytest.fixture
async def fans(session, shop):  # type: ignore[no-untyped-def]
    return [
        await factories.make_customer(session, shop_id=shop.id, name=name)
        for name in ("王小丫", "李雷", "韩梅梅")
    ]


async def events_of(session, shop_id: int, kind: str) -> list[Event]:  # type: ignore[no-untyped-def]
    rows = await session.execute(
        select(Event).where(Event.shop_id == shop_id, Event.type == kind).order_by(Event.id)
    )
    return list(rows.scalars())


async def test_a_viewer_asks_the_anchor_accepts_then_ends(
    session, shop, actor, room, fans, sent
) -> None:  # type: ignore[no-untyped-def]
    await open_mic(session, actor, room.id, guests=2)
    assert sent[-1] == {
        "type": "mic",
        "card": {"id": sent[-1]["card"]["id"], "live_session_id": room.id, "state": "open", "max_guests": 2, "waiting": 0,
                 "guests": []},
    }  # fmt: skip
    request = await ask(session, shop.id, room.id, fans[0].id, note="想问尺码")
    assert request.status == "requested" and request.note == "想问尺码"
    assert sent[-2]["card"]["waiting"] == 1
    assert sent[-1]["type"] == "mic_request" and sent[-1]["to"] == "staff"
    assert sent[-1]["request"]["name"] == "王小丫"  # staff see the name

    accepted = await service.accept_request(session=session, actor=actor, request_id=request.id)
    assert (accepted.status, accepted.seat, accepted.decided_by) == ("accepted", 1, actor.staff_id)
    card = sent[-2]["card"]
    assert card["waiting"] == 0
    assert [(g["seat"], g["name"]) for g in card["guests"]] == [(1, "王**")]  # masked in the room
    assert (
        await service.current_room_card(session=session, shop_id=shop.id, live_session_id=room.id)
        == card
    )

    ended = await service.end_request(
        session=session, actor=actor, request_id=request.id, reason="谢谢"
    )
    assert (ended.status, ended.seat, ended.ended_by) == ("ended", None, "anchor")
    assert ended.on_mic_seconds is not None and ended.wait_seconds is not None
    assert sent[-2]["card"]["guests"] == []

    kinds = [e.properties for e in await events_of(session, shop.id, "mic_ended")]
    assert kinds == [{"request_id": request.id, "wait_seconds": ended.wait_seconds,
                      "on_mic_seconds": ended.on_mic_seconds, "ended_by": "anchor"}]  # fmt: skip
    for kind in ("mic_request", "mic_accepted"):
        assert len(await events_of(session, shop.id, kind)) == 1
    audit = (
        await session.execute(
            select(AuditEntry.action).where(AuditEntry.shop_id == shop.id).order_by(AuditEntry.id)
        )
    ).scalars()
    assert [a for a in audit if a.startswith("live.mic")] == [
        "live.mic_open", "live.mic_accept", "live.mic_end"
    ]  # fmt: skip


async def test_one_open_request_per_viewer_and_queue_positions(
    session, shop, actor, room, fans
) -> None:  # type: ignore[no-untyped-def]
    await open_mic(session, actor, room.id)
    first = await ask(session, shop.id, room.id, fans[0].id)
    again, created = await service.request_mic(
        session=session, shop_id=shop.id, live_session_id=room.id,
        token_live_session_id=room.id, customer_id=fans[0].id,
    )  # fmt: skip
    assert again.id == first.id and created is False
    await ask(session, shop.id, room.id, fans[1].id)
    await ask(session, shop.id, room.id, fans[2].id)
    positions = [
        (await service.my_request(
            session=session, shop_id=shop.id, live_session_id=room.id, customer_id=fan.id
        ))[1]
        for fan in fans
    ]  # fmt: skip
    assert positions == [1, 2, 3]
    await service.withdraw(session=session, shop_id=shop.id, request_id=first.id,
                           customer_id=fans[0].id)  # fmt: skip
    _, position = await service.my_request(
        session=session, shop_id=shop.id, live_session_id=room.id, customer_id=fans[2].id
    )
    assert position == 2
    # Withdrawn, the viewer may ask again: a new request.
    fresh = await ask(session, shop.id, room.id, fans[0].id)
    assert fresh.id != first.id and fresh.status == "requested"


async def test_accept_after_cancel_and_double_accept_are_refused(
    session, shop, actor, room, fans
) -> None:  # type: ignore[no-untyped-def]
    await open_mic(session, actor, room.id, guests=3)
    cancelled = await ask(session, shop.id, room.id, fans[0].id)
    await service.withdraw(
        session=session, shop_id=shop.id, request_id=cancelled.id, customer_id=fans[0].id
    )
    with pytest.raises(Conflict) as refused:
        await service.accept_request(session=session, actor=actor, request_id=cancelled.id)
    assert refused.value.code == "mic_request_cancelled"
    assert "cancelled by the viewer" in refused.value.message

    once = await ask(session, shop.id, room.id, fans[1].id)
    await service.accept_request(session=session, actor=actor, request_id=once.id)
    with pytest.raises(Conflict) as twice:
        await service.accept_request(session=session, actor=actor, request_id=once.id)
    assert twice.value.code == "mic_request_accepted"
    with pytest.raises(Conflict) as reject_guest:
        await service.reject_request(session=session, actor=actor, request_id=once.id)
    assert reject_guest.value.code == "mic_request_accepted"
    with pytest.raises(Conflict) as end_waiting:
        other = await ask(session, shop.id, room.id, fans[2].id)
        await service.end_request(session=session, actor=actor, request_id=other.id)
    assert end_waiting.value.code == "mic_request_requested"


async def test_the_seats_limit_the_guests(session, shop, actor, room, fans) -> None:  # type: ignore[no-untyped-def]
    await open_mic(session, actor, room.id, guests=2)
    requests = [await ask(session, shop.id, room.id, fan.id) for fan in fans]
    for request in requests[:2]:
        await service.accept_request(session=session, actor=actor, request_id=request.id)
    with pytest.raises(Conflict) as full:
        await service.accept_request(session=session, actor=actor, request_id=requests[2].id)
    assert full.value.code == "mic_full" and "2 mic seats" in full.value.message
    # A guest leaves: the seat is free again, and the next guest takes it.
    await service.withdraw(
        session=session, shop_id=shop.id, request_id=requests[0].id, customer_id=fans[0].id
    )
    third = await service.accept_request(session=session, actor=actor, request_id=requests[2].id)
    assert third.seat == 1
    assert requests[0].ended_by == "viewer" and requests[0].on_mic_seconds is not None


async def test_lowering_the_limit_keeps_guests_but_takes_no_more(
    session, shop, actor, room, fans
) -> None:  # type: ignore[no-untyped-def]
    await open_mic(session, actor, room.id, guests=2)
    requests = [await ask(session, shop.id, room.id, fan.id) for fan in fans]
    for request in requests[:2]:
        await service.accept_request(session=session, actor=actor, request_id=request.id)
    await open_mic(session, actor, room.id, guests=1)
    view = await service.console_view(session=session, actor=actor, live_session_id=room.id)
    assert [g["seat"] for g in view["guests"]] == [1, 2]
    with pytest.raises(Conflict, match="1 mic seats"):
        await service.accept_request(session=session, actor=actor, request_id=requests[2].id)


async def test_reject_then_a_pause_before_asking_again(
    session, shop, actor, room, fans, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    await open_mic(session, actor, room.id)
    request = await ask(session, shop.id, room.id, fans[0].id)
    rejected = await service.reject_request(
        session=session, actor=actor, request_id=request.id, reason="下次吧"
    )
    assert (rejected.status, rejected.reason, rejected.ended_by) == ("rejected", "下次吧", "anchor")
    with pytest.raises(Conflict) as pause:
        await ask(session, shop.id, room.id, fans[0].id)
    assert pause.value.code == "mic_cooldown"
    later = rejected.decided_at + dt.timedelta(seconds=service.REJECT_COOLDOWN_S + 1)
    monkeypatch.setattr(service, "utcnow", lambda: later)
    assert (await ask(session, shop.id, room.id, fans[0].id)).status == "requested"


async def test_a_viewer_may_ask_only_so_often(
    session, shop, actor, room, fans, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(service, "MAX_REQUESTS_PER_SESSION", 3)
    await open_mic(session, actor, room.id)
    for _ in range(3):
        request = await ask(session, shop.id, room.id, fans[0].id)
        await service.withdraw(
            session=session, shop_id=shop.id, request_id=request.id, customer_id=fans[0].id
        )
    with pytest.raises(Conflict) as limit:
        await ask(session, shop.id, room.id, fans[0].id)
    assert limit.value.code == "mic_request_limit"


@pytest.mark.parametrize("kind", ["ban", "mute"])
async def test_banned_and_muted_viewers_cannot_ask_or_be_taken(
    session, shop, actor, room, fans, kind
) -> None:  # type: ignore[no-untyped-def]
    await open_mic(session, actor, room.id)
    waiting = await ask(session, shop.id, room.id, fans[1].id)
    restrict = moderation.ban if kind == "ban" else moderation.mute
    await restrict(session=session, actor=actor, live_session_id=room.id, customer_id=fans[0].id)
    with pytest.raises(PermissionDenied) as refused:
        await ask(session, shop.id, room.id, fans[0].id)
    assert refused.value.code == {"ban": "mic_viewer_banned", "mute": "mic_viewer_muted"}[kind]
    # Restricted after asking: the anchor cannot take them on either (a ban drops the request).
    await restrict(session=session, actor=actor, live_session_id=None, customer_id=fans[1].id)
    with pytest.raises(Conflict) as taken:
        await service.accept_request(session=session, actor=actor, request_id=waiting.id)
    assert taken.value.code == ("mic_request_expired" if kind == "ban" else "mic_viewer_muted")


async def test_asking_needs_a_customer_an_open_mic_and_the_right_room(
    session, shop, actor, room, fans
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict) as closed:
        await ask(session, shop.id, room.id, fans[0].id)
    assert closed.value.code == "mic_closed"
    await open_mic(session, actor, room.id)
    with pytest.raises(Unauthenticated):
        await service.request_mic(session=session, shop_id=shop.id, live_session_id=room.id,
                                  token_live_session_id=room.id, customer_id=None)  # fmt: skip
    with pytest.raises(InvalidInput) as wrong_room:
        await service.request_mic(session=session, shop_id=shop.id, live_session_id=room.id,
                                  token_live_session_id=room.id + 1, customer_id=fans[0].id)  # fmt: skip
    assert wrong_room.value.code == "token_wrong_room"
    request = await ask(session, shop.id, room.id, fans[0].id)
    with pytest.raises(NotFound):  # another viewer's request
        await service.withdraw(
            session=session, shop_id=shop.id, request_id=request.id, customer_id=fans[1].id
        )


async def test_opening_needs_a_live_room(session, shop, actor) -> None:  # type: ignore[no-untyped-def]
    scheduled = await make_live_session(session, shop_id=shop.id)
    with pytest.raises(Conflict) as refused:
        await open_mic(session, actor, scheduled.id)
    assert refused.value.code == "live_session_not_live"


async def test_closing_the_mic_expires_the_queue_and_ends_the_guests(
    session, shop, actor, room, fans, sent
) -> None:  # type: ignore[no-untyped-def]
    await open_mic(session, actor, room.id)
    guest = await ask(session, shop.id, room.id, fans[0].id)
    await service.accept_request(session=session, actor=actor, request_id=guest.id)
    waiting = await ask(session, shop.id, room.id, fans[1].id)
    await service.configure_mic(
        session=session, actor=actor, live_session_id=room.id,
        data=MicSettingsIn(is_open=False, max_guests=1),
    )  # fmt: skip
    await session.refresh(guest)
    await session.refresh(waiting)
    assert (guest.status, guest.ended_by, guest.seat) == ("ended", "system", None)
    assert waiting.status == "expired"
    assert sent[-1] == {"type": "mic", "card": None}  # the card comes down
    assert (
        await service.current_room_card(session=session, shop_id=shop.id, live_session_id=room.id)
        is None
    )
    with pytest.raises(Conflict) as late:
        await service.accept_request(session=session, actor=actor, request_id=waiting.id)
    assert late.value.code == "mic_request_expired"


async def test_the_sweep_closes_the_mic_of_an_ended_live(session, shop, actor, room, fans) -> None:  # type: ignore[no-untyped-def]
    await open_mic(session, actor, room.id)
    guest = await ask(session, shop.id, room.id, fans[0].id)
    await service.accept_request(session=session, actor=actor, request_id=guest.id)
    await live_service.end_live_session(session=session, actor=actor, live_session_id=room.id)
    assert (shop.id, room.id) in await service.rooms_to_close(session=session)
    assert (
        await service.close_after_live(session=session, shop_id=shop.id, live_session_id=room.id)
        == 1
    )
    await session.refresh(guest)
    assert guest.status == "ended" and guest.ended_at == room.ended_at
    assert (shop.id, room.id) not in await service.rooms_to_close(session=session)
    assert (
        await service.close_after_live(session=session, shop_id=shop.id, live_session_id=room.id)
        == 0
    )


async def test_another_shop_sees_nothing(session, shop, other_shop, actor, room, fans) -> None:  # type: ignore[no-untyped-def]
    from liveloop.shops.service import system_actor

    await open_mic(session, actor, room.id)
    request = await ask(session, shop.id, room.id, fans[0].id)
    stranger = system_actor(other_shop.id)
    with pytest.raises(NotFound):
        await service.accept_request(session=session, actor=stranger, request_id=request.id)
    with pytest.raises(NotFound):
        await service.console_view(session=session, actor=stranger, live_session_id=room.id)
    assert (await session.get(MicRequest, request.id)).status == "requested"


async def test_a_ban_takes_the_guest_off_the_mic_and_drops_the_waiting(
    session, shop, actor, room, fans
) -> None:  # type: ignore[no-untyped-def]
    from liveloop.live import moderation

    await open_mic(session, actor, room.id)
    guest = await ask(session, shop.id, room.id, fans[0].id)
    await service.accept_request(session=session, actor=actor, request_id=guest.id)
    waiting = await ask(session, shop.id, room.id, fans[1].id)
    other = await ask(session, shop.id, room.id, fans[2].id)

    await moderation.ban(
        session=session, actor=actor, live_session_id=room.id, customer_id=fans[0].id
    )
    await session.refresh(guest)
    assert guest.status == "ended" and guest.ended_by == "system" and guest.seat is None
    assert guest.reason == "banned from the room"
    await moderation.ban(session=session, actor=actor, live_session_id=None, customer_id=fans[1].id)
    await session.refresh(waiting)
    await session.refresh(other)
    assert waiting.status == "expired"
    assert other.status == "requested"  # not banned: still waiting
    card = await service.current_room_card(
        session=session, shop_id=shop.id, live_session_id=room.id
    )
    assert card is not None and card["guests"] == [] and card["waiting"] == 1
