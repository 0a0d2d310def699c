"""Live sessions: create, edit, line-up, transitions, room controls and their room messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from liveloop.core.database import Database, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from liveloop.live import controls as live_controls
from liveloop.live import outbox
from liveloop.live import service as live_service
from liveloop.live.models import LiveSession
from liveloop.live.schemas import LiveSessionCreate, LiveSessionUpdate
from liveloop.shops.service import actor_for_staff, list_audit
from tests import factories
from tests.factories.live import make_live_session


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, dict[str, Any]]]:
    """The room messages the services queue for after commit, in order."""
    messages: list[tuple[int, dict[str, Any]]] = []

    def record(session: Any, *, live_session_id: int, message: dict[str, Any]) -> None:
        messages.append((live_session_id, message))

    monkeypatch.setattr(live_service, "send_after_commit", record)
    monkeypatch.setattr(live_controls, "send_after_commit", record)
    return messages


async def test_create_gives_a_unique_code_and_keeps_the_lineup_order(session, shop, actor):
    products = [
        await factories.make_product(session, shop_id=shop.id, name=f"茶{i}") for i in range(3)
    ]
    ids = [products[2].id, products[0].id, products[2].id, products[1].id]
    created = await live_service.create_live_session(
        session=session,
        actor=actor,
        data=LiveSessionCreate(
            title="双十一预热", planned_start=utcnow() + dt.timedelta(hours=3), product_ids=ids
        ),
    )
    other = await make_live_session(session, shop_id=shop.id)
    assert len(created.code) == 10 and created.code != other.code
    assert created.status == "scheduled"
    lineup = await live_service.get_lineup(session=session, live_session=created)
    assert [p.id for p in lineup] == [products[2].id, products[0].id, products[1].id]
    found = await live_service.get_by_code(session=session, code=created.code)
    assert found.id == created.id


async def test_lineup_refuses_another_shops_product(session, shop, other_shop, actor):
    theirs = await factories.make_product(session, shop_id=other_shop.id)
    live = await make_live_session(session, shop_id=shop.id)
    with pytest.raises(InvalidInput) as error:
        await live_service.set_lineup(
            session=session, actor=actor, live_session_id=live.id, product_ids=[theirs.id]
        )
    assert error.value.field == "product_ids" and str(theirs.id) in error.value.message


async def test_naive_times_and_end_before_start_are_refused(session, shop, actor):
    with pytest.raises(ValueError, match="zone"):
        LiveSessionCreate(title="x", planned_start=dt.datetime(2026, 12, 1, 20, 0))
    with pytest.raises(ValueError, match="after planned_start"):
        LiveSessionCreate(
            title="x",
            planned_start=utcnow(),
            planned_end=utcnow() - dt.timedelta(hours=1),
        )
    live = await make_live_session(session, shop_id=shop.id)
    with pytest.raises(InvalidInput) as error:
        await live_service.update_live_session(
            session=session,
            actor=actor,
            live_session_id=live.id,
            data=LiveSessionUpdate(planned_end=live.planned_start - dt.timedelta(minutes=1)),
        )
    assert error.value.field == "planned_end"


async def test_transitions_follow_the_state_machine_and_are_audited(session, shop, actor, sent):
    live = await make_live_session(session, shop_id=shop.id)
    await live_service.start_live_session(session=session, actor=actor, live_session_id=live.id)
    assert live.status == "live" and live.started_at is not None
    with pytest.raises(Conflict) as error:
        await live_service.cancel_live_session(
            session=session, actor=actor, live_session_id=live.id
        )
    assert error.value.code == "invalid_transition"
    assert "live" in error.value.message and "ended" in error.value.message
    await live_service.end_live_session(session=session, actor=actor, live_session_id=live.id)
    assert live.status == "ended" and live.ended_at is not None
    with pytest.raises(Conflict, match="for good"):
        await live_service.start_live_session(session=session, actor=actor, live_session_id=live.id)
    assert [m for _, m in sent if m["type"] == "room_state"] == [
        {"type": "room_state", "status": "live", "comments_enabled": True},
        {"type": "room_state", "status": "ended", "comments_enabled": True},
    ]
    statement = await list_audit(session=session, shop_id=shop.id, target_type="live_session")
    actions = [entry.action for entry in (await session.execute(statement)).scalars()]
    assert "live.live" in actions and "live.ended" in actions


async def test_cancel_only_from_scheduled(session, shop, actor):
    live = await make_live_session(session, shop_id=shop.id, status="cancelled")
    assert live.status == "cancelled"
    with pytest.raises(Conflict):
        await live_service.start_live_session(session=session, actor=actor, live_session_id=live.id)


async def test_the_anchor_may_start_their_own_session_only(session, shop):
    analyst = await factories.make_staff(session, shop_id=shop.id, role="analyst")
    anchor_actor = actor_for_staff(analyst)  # an analyst set as anchor: no LIVE_MANAGE
    mine = await make_live_session(session, shop_id=shop.id, anchor_id=analyst.id)
    other = await make_live_session(session, shop_id=shop.id)
    await live_service.start_live_session(
        session=session, actor=anchor_actor, live_session_id=mine.id
    )
    assert mine.status == "live"
    with pytest.raises(PermissionDenied):
        await live_service.start_live_session(
            session=session, actor=anchor_actor, live_session_id=other.id
        )


async def test_another_shops_session_is_not_found(session, shop, other_shop, actor):
    theirs = await make_live_session(session, shop_id=other_shop.id)
    with pytest.raises(NotFound):
        await live_service.start_live_session(
            session=session, actor=actor, live_session_id=theirs.id
        )


async def test_room_controls_update_the_row_and_send_protocol_messages(session, shop, actor, sent):
    product = await factories.make_product(
        session,
        shop_id=shop.id,
        name="冻顶乌龙",
        skus=[
            {"price_fen": 9900, "stock": 5, "specs": {"规格": "100g"}},
            {"price_fen": 18800, "stock": 2, "specs": {"规格": "250g"}},
        ],
    )
    live = await make_live_session(session, shop_id=shop.id, status="live")
    sent.clear()
    await live_controls.set_announcement(
        session=session, actor=actor, live_session_id=live.id, text="  8点抽奖  "
    )
    await live_controls.set_pinned(
        session=session, actor=actor, live_session_id=live.id, text="包邮"
    )
    card = await live_controls.push_product(
        session=session, actor=actor, live_session_id=live.id, product_id=product.id
    )
    await live_controls.set_comments_enabled(
        session=session, actor=actor, live_session_id=live.id, enabled=False
    )
    types = [m["type"] for _, m in sent]
    assert types == ["announcement", "pinned", "product_push", "room_state"]
    assert sent[0][1] == {"type": "announcement", "text": "8点抽奖"}
    assert sent[1][1]["message"]["text"] == "包邮" and "@" not in sent[1][1]["message"]["by"]
    assert card["price_min_fen"] == 9900 and card["price_max_fen"] == 18800
    assert card["stock"] == 7
    assert [(s["name"], s["price_fen"], s["stock"]) for s in card["skus"]] == [
        ("100g", 9900, 5),
        ("250g", 18800, 2),
    ]
    # A product pushed outside the line-up joins it.
    assert [p.id for p in await live_service.get_lineup(session=session, live_session=live)] == [
        product.id
    ]
    state = await live_service.room_snapshot(session=session, live_session=live)
    assert state["announcement"] == "8点抽奖"
    assert state["pinned"]["text"] == "包邮"
    assert state["product"]["id"] == product.id
    assert state["comments_enabled"] is False
    assert [p["id"] for p in state["lineup"]] == [product.id]
    await live_controls.unpush_product(session=session, actor=actor, live_session_id=live.id)
    assert sent[-1][1] == {"type": "product_unpush", "product_id": product.id}
    state = await live_service.room_snapshot(session=session, live_session=live)
    assert state["product"] is None
    with pytest.raises(Conflict, match="no product pushed"):
        await live_controls.unpush_product(session=session, actor=actor, live_session_id=live.id)


async def test_an_off_shelf_product_cannot_be_pushed(session, shop, actor):
    product = await factories.make_product(session, shop_id=shop.id, status="off_shelf")
    live = await make_live_session(session, shop_id=shop.id, status="live")
    with pytest.raises(Conflict) as error:
        await live_controls.push_product(
            session=session, actor=actor, live_session_id=live.id, product_id=product.id
        )
    assert error.value.code == "product_off_shelf"


async def test_an_ended_room_refuses_changes(session, shop, actor):
    live = await make_live_session(session, shop_id=shop.id, status="ended")
    with pytest.raises(Conflict) as error:
        await live_controls.set_announcement(
            session=session, actor=actor, live_session_id=live.id, text="hi"
        )
    assert error.value.code == "live_session_ended"


async def test_list_filters_by_status_and_date(session, shop):
    now = utcnow()
    soon = await make_live_session(
        session, shop_id=shop.id, planned_start=now + dt.timedelta(days=1)
    )
    later = await make_live_session(
        session, shop_id=shop.id, planned_start=now + dt.timedelta(days=9)
    )
    live = await make_live_session(session, shop_id=shop.id, status="live")
    everything = await live_service.list_live_sessions(session=session, shop_id=shop.id)
    assert everything.items[0].id == live.id and everything.total == 3
    scheduled = await live_service.list_live_sessions(
        session=session, shop_id=shop.id, status="scheduled"
    )
    assert {s.id for s in scheduled.items} == {soon.id, later.id}
    window = await live_service.list_live_sessions(
        session=session,
        shop_id=shop.id,
        starts_from=now + dt.timedelta(days=5),
        starts_before=now + dt.timedelta(days=10),
    )
    assert [s.id for s in window.items] == [later.id]


async def test_room_messages_are_published_only_after_a_real_commit(tmp_path, settings):
    """The outbox path end to end on a database of its own: nothing before commit, nothing on
    rollback, the message once the transaction commits."""
    from liveloop.models import Base

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    published: list[tuple[int, dict[str, Any]]] = []

    async def publisher(room: int, message: dict[str, Any]) -> None:
        published.append((room, message))

    outbox.install_publisher(publisher)
    try:
        async with database.unit_of_work() as session:
            shop = await factories.make_shop(session)
            owner = await factories.make_staff(session, shop_id=shop.id)
            actor = actor_for_staff(owner)
            live = await make_live_session(session, shop_id=shop.id, status="live", actor=actor)
        with pytest.raises(RuntimeError):
            async with database.unit_of_work() as session:
                await live_controls.set_announcement(
                    session=session, actor=actor, live_session_id=live.id, text="不会出现"
                )
                raise RuntimeError("roll back")
        async with database.unit_of_work() as session:
            await live_controls.set_announcement(
                session=session, actor=actor, live_session_id=live.id, text="欢迎"
            )
            assert [m["type"] for _, m in published] == ["room_state"]
        for _ in range(20):  # the publish is a task on this loop
            if len(published) == 2:
                break
            import asyncio

            await asyncio.sleep(0.01)
        assert published[-1] == (live.id, {"type": "announcement", "text": "欢迎"})
        async with database.unit_of_work() as session:
            row = await session.get(LiveSession, live.id)
            assert row is not None and row.announcement == "欢迎"
    finally:
        outbox.install_publisher(None)
        await database.dispose()


async def test_demo_live_data(session, shop, owner, tmp_path):
    from liveloop.demo.live_data import CHANNEL_LABELS, seed_live

    anchor = await factories.make_staff(session, shop_id=shop.id, role="anchor")
    agent = await factories.make_staff(session, shop_id=shop.id, role="service_agent")
    for index in range(14):
        await factories.make_product(session, shop_id=shop.id, name=f"茶{index}")
    customers = [
        (await factories.make_customer(session, shop_id=shop.id, name=f"顾客{i}")).id
        for i in range(70)
    ]
    now = utcnow()
    ids = await seed_live(
        session=session,
        actor=actor_for_staff(owner),
        staff=[owner, agent, anchor],
        customer_ids=customers,
        now=now,
        media_dir=tmp_path,
    )
    live = await live_service.get_live_session(
        session=session, shop_id=shop.id, live_session_id=ids["live"]
    )
    assert live.status == "live" and live.anchor_id == anchor.id
    assert live.started_at == now - dt.timedelta(minutes=20)
    assert live.cover_path and (tmp_path / live.cover_path).read_bytes().startswith(b"\x89PNG")
    state = await live_service.room_snapshot(session=session, live_session=live)
    assert len(state["lineup"]) == 6 and state["product"]["id"] == state["lineup"][0]["id"]
    assert state["announcement"] and state["pinned"]
    tomorrow = await live_service.get_live_session(
        session=session, shop_id=shop.id, live_session_id=ids["tomorrow"]
    )
    local = tomorrow.planned_start.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert (local.hour, local.minute) == (20, 0) and tomorrow.status == "scheduled"
    assert await live_service.count_reservations(
        session=session, shop_id=shop.id, live_session_id=tomorrow.id
    ) == len(customers)
    links = await live_service.list_entry_links(
        session=session, shop_id=shop.id, live_session_id=tomorrow.id
    )
    assert {link.channel for link in links} == {c.value for c in CHANNEL_LABELS}
    for ended_id in ids["ended"]:
        ended = await live_service.get_live_session(
            session=session, shop_id=shop.id, live_session_id=ended_id
        )
        assert ended.status == "ended" and ended.ended_at < now - dt.timedelta(days=6)
    sharers = await live_service.sharer_ranking(
        session=session, shop_id=shop.id, live_session_id=ids["ended"][-1]
    )
    assert sharers and sharers[0]["viewers"] >= sharers[-1]["viewers"] > 0


async def test_reservations_are_the_reminder_audience(session, shop):
    live = await make_live_session(session, shop_id=shop.id)
    people = [(await factories.make_customer(session, shop_id=shop.id)).id for _ in range(3)]
    for customer_id in people:
        await live_service.reserve(session=session, live_session=live, customer_id=customer_id)
    await live_service.cancel_reservation(session=session, live_session=live, customer_id=people[1])
    audience = await live_service.reservation_customer_ids(
        session=session, shop_id=shop.id, live_session_id=live.id
    )
    assert audience == [people[0], people[2]]
    marked = await live_service.mark_reminded(
        session=session, shop_id=shop.id, live_session_id=live.id, customer_ids=[people[0]]
    )
    assert marked == 1
    assert await live_service.reservation_customer_ids(
        session=session, shop_id=shop.id, live_session_id=live.id, not_reminded_only=True
    ) == [people[2]]
    live_now = await make_live_session(session, shop_id=shop.id, status="live")
    with pytest.raises(Conflict, match="join it now"):
        await live_service.reserve(session=session, live_session=live_now, customer_id=people[0])
