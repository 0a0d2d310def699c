"""The dashboard's rollups equal recomputation from the raw events: folded batch by batch as
they are ingested, in any order, and rebuilt from scratch."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from liveloop.analytics.expressions import epoch_of
from liveloop.analytics.realtime import rollups, service, tasks
from liveloop.analytics.realtime.models import LiveRollupSecond, LiveRollupState, LiveRollupViewer
from liveloop.analytics.service import report_window
from liveloop.analytics.viewing import Window, viewing_section
from liveloop.core.database import utcnow
from liveloop.core.jobs import queue
from liveloop.events import service as events_service
from liveloop.live import service as live_service
from liveloop.live.schemas import EntryLinkCreate
from liveloop.shops.service import system_actor
from tests import factories
from tests.factories.live import make_live_session
from tests.factories.shops import drop_shop

SOURCES = [{}, {"share_code": "s1"}, {"source_code": "bc-1-2"}, {"source_code": "rm-start"},
           {"source_code": "LINK"}, {"source_code": "unknown"}]  # fmt: skip


async def both(
    session: Any, live: Any, now: dt.datetime, read_from: str = "rollups"
) -> tuple[Any, Any]:
    folded = await service.build_snapshot(session=session, live_session=live, now=now)
    raw = await service.build_snapshot(
        session=session, live_session=live, now=now, from_events=True
    )
    assert (folded.pop("read_from"), raw.pop("read_from")) == (read_from, "events")
    return folded, raw


async def viewing_both(session: Any, live: Any, now: dt.datetime) -> tuple[Any, Any]:
    """The post-live report's viewing section read from the rollups, and from the events."""
    starts, ends = report_window(live, now)
    window = Window(epoch_of(starts), epoch_of(ends))
    figures = await rollups.viewing_figures(session, live, window.start, window.end)
    assert figures is not None
    ids = {"session": session, "shop_id": live.shop_id, "live_session_id": live.id}
    return (
        await viewing_section(**ids, window=window, figures=figures),
        await viewing_section(**ids, window=window),
    )


async def state_of(session: Any, live: Any) -> LiveRollupState:
    state = await session.get(LiveRollupState, live.id, populate_existing=True)
    assert state is not None
    return state


class Room:
    """A shop with two customers and two guests, an earlier session some of them watched, and
    a live session on air since T0 with an entry link and two products."""

    def __init__(self, session: Any, shop: Any) -> None:
        self.session, self.shop = session, shop

    async def setup(self) -> Room:
        session, shop_id = self.session, self.shop.id
        self.t0 = (utcnow() - dt.timedelta(days=1)).replace(microsecond=0)
        a = await factories.make_customer(session, shop_id=shop_id)
        b = await factories.make_customer(session, shop_id=shop_id)
        self.viewers: list[Any] = [a.id, b.id, "d:guest-1", "d:guest-2"]
        tea = await factories.make_product(session, shop_id=shop_id, name="龙井")
        cup = await factories.make_product(session, shop_id=shop_id, name="杯")
        self.products = [None, tea.id, cup.id]
        earlier = await make_live_session(session, shop_id=shop_id, status="ended")
        await self.ingest(
            [self.item("live_enter", a.id, -3600, earlier.id),
             self.item("live_enter", "d:guest-1", -7200, earlier.id),
             self.item("live_enter", b.id, 3600, earlier.id)]  # after T0: not "returning"
        )  # fmt: skip
        self.live = await make_live_session(
            session, shop_id=shop_id, status="live", product_ids=[tea.id, cup.id]
        )
        self.live.started_at = self.t0
        await session.flush()
        link = await live_service.create_entry_link(
            session=session, actor=system_actor(shop_id), live_session=self.live,
            data=EntryLinkCreate(channel="kol", label="达人"),
        )  # fmt: skip
        self.link_code = link.code
        return self

    def item(self, kind: str, who: Any, at: int, live_id: int | None = None, **props: Any) -> Any:
        item: dict[str, Any] = {
            "type": kind,
            "live_session_id": live_id or self.live.id,
            "occurred_at": (self.t0 + dt.timedelta(seconds=at)).isoformat(),
            "properties": props,
        }
        item["anonymous_id" if isinstance(who, str) else "customer_id"] = who
        return item

    async def ingest(self, items: list[Any]) -> None:
        result = await events_service.ingest_events(
            session=self.session, shop_id=self.shop.id, items=items, mark_customers_active=False
        )
        assert not result.errors, result.errors

    def drawn(self, spec: tuple[Any, ...]) -> Any:
        kind, who, at, watch, source, blocked, count, product = spec
        viewer = self.viewers[who]
        if kind == "live_enter":
            props = dict(SOURCES[source])
            if props.get("source_code") == "LINK":
                props["source_code"] = self.link_code
            return self.item(kind, viewer, at, **props)
        if kind == "live_leave":
            return self.item(kind, viewer, at, watch_seconds=watch)
        if kind == "live_comment":
            return self.item(kind, viewer, at, text="好", **({"blocked": True} if blocked else {}))
        if kind == "live_like":
            return self.item(kind, viewer, at, count=count)
        found = self.item(kind, viewer, at)
        found["product_id"] = self.products[product]
        return found


event_specs = st.tuples(
    st.sampled_from(["live_enter", "live_enter", "live_leave", "live_leave", "live_comment",
                     "live_like", "live_product_click", "add_to_cart"]),
    st.integers(0, 3),  # viewer
    st.integers(-150, 800),  # seconds after T0
    st.integers(-5, 500),  # watch_seconds of a leave (negative: a broken client)
    st.integers(0, len(SOURCES) - 1),
    st.booleans(),  # comment blocked
    st.integers(0, 9),  # like count
    st.integers(0, 2),  # product
)  # fmt: skip


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(event_specs, min_size=1, max_size=40),
    cuts=st.lists(st.integers(1, 39), max_size=4),
    read_at=st.lists(st.integers(1, 900), min_size=1, max_size=3),
)
async def test_folded_rollups_equal_recomputation(session, shop, specs, cuts, read_at) -> None:  # type: ignore[no-untyped-def]
    room = await Room(session, shop).setup()
    live = room.live
    await both(session, live, room.t0 + dt.timedelta(seconds=1))  # the rollups are built here
    built_at = (await state_of(session, live)).rebuilt_at
    items = [room.drawn(spec) for spec in specs]
    bounds = sorted({0, len(items), *(c for c in cuts if c < len(items))})
    for start, end in itertools.pairwise(bounds):
        await room.ingest(items[start:end])  # folded as they come, in no particular order
        for at in read_at:
            folded, raw = await both(session, live, room.t0 + dt.timedelta(seconds=at))
            assert folded == raw
            from_rollups, from_events = await viewing_both(
                session, live, room.t0 + dt.timedelta(seconds=at)
            )
            assert from_rollups == from_events
    assert (await state_of(session, live)).rebuilt_at == built_at  # folds, never a rebuild
    live.ended_at = room.t0 + dt.timedelta(seconds=read_at[0])
    live.status = "ended"
    folded, raw = await both(session, live, room.t0 + dt.timedelta(seconds=2000))
    assert folded == raw
    from_rollups, from_events = await viewing_both(
        session, live, room.t0 + dt.timedelta(seconds=2000)
    )
    assert from_rollups == from_events
    chunk, rollups.REBUILD_CHUNK = rollups.REBUILD_CHUNK, 3  # pages carry the rebuild's memo
    try:
        await rollups.rebuild(session, shop_id=shop.id, live_session_id=live.id)
    finally:
        rollups.REBUILD_CHUNK = chunk
    assert await both(session, live, room.t0 + dt.timedelta(seconds=2000)) == (raw, raw)


async def test_a_hand_worked_room_folds_to_its_figures(session, shop) -> None:  # type: ignore[no-untyped-def]
    room = await Room(session, shop).setup()
    a, b, g1, g2 = room.viewers
    await both(session, room.live, room.t0)
    await room.ingest(
        [
            room.item("live_enter", a, 0),
            room.item("live_enter", a, 30),  # a second tab: merged with the first
            room.item("live_leave", a, 100, watch_seconds=70),
            room.item("live_enter", g1, -60, source_code=room.link_code),
            room.item("live_leave", g1, 60, watch_seconds=120),  # cut to [0, 60]
            room.item("live_comment", b, 10, text="上链接"),
            room.item("live_comment", b, 20, text="广告", blocked=True),
            room.item("live_like", g2, 50, count=4),
        ]
    )
    # a: two entries, one leave: the closed visit [30, 100] and the open one from the latest
    # entry (30) merge into one stay from 30 on. g1's [-60, 60] is cut to [0, 60]. b only
    # commented and g2 only liked before entering at 90: not in the room until then.
    await room.ingest([room.item("live_enter", g2, 90, share_code="s9")])
    folded, raw = await both(session, room.live, room.t0 + dt.timedelta(seconds=120))
    assert folded == raw
    figures = folded["figures"]
    assert (figures["viewers"], figures["returning_viewers"]) == (3, 2)  # a, g1 earlier; g2 new
    assert (figures["online"], figures["peak_online"]) == (2, 2)  # a and g2 at 120 s
    assert figures["watch_seconds_avg"] == (90 + 60 + 30) / 3
    assert (figures["comments"], figures["likes"]) == (1, 4)
    assert folded["series"]["online"] == [1, 1]  # at 0 s: g1; at 60 s: a (g1 left at 60)
    channels = {
        row["source"]: (row["visits"], row["viewers"]) for row in folded["sources"]["channels"]
    }
    assert channels == {"direct": (2, 1), "kol": (1, 1), "share": (1, 1)}
    seconds = await session.scalar(
        select(func.count()).where(LiveRollupSecond.live_session_id == room.live.id)
    )
    assert seconds == 4  # +a at 30, +g1 at -60, -g1 at 60, +g2 at 90


async def test_going_on_air_and_erasing_events_rebuild_the_rollups(session, shop) -> None:  # type: ignore[no-untyped-def]
    room = await Room(session, shop).setup()
    a, b, *_ = room.viewers
    await room.ingest([room.item("live_enter", a, 10), room.item("live_enter", b, 20)])
    state = await state_of(session, room.live)
    assert state.needs_rebuild  # first seen by a fold: built on the first read
    folded, raw = await both(session, room.live, room.t0 + dt.timedelta(seconds=60))
    assert folded == raw and folded["figures"]["viewers"] == 2
    assert not (await state_of(session, room.live)).needs_rebuild

    # The session's start moves: a's earlier visit (3,600 s before T0) falls after it.
    room.live.started_at = room.t0 - dt.timedelta(hours=2)
    await session.flush()
    await room.ingest([room.item("live_comment", b, 30, text="hi")])
    assert (await state_of(session, room.live)).needs_rebuild
    folded, raw = await both(session, room.live, room.t0 + dt.timedelta(seconds=60))
    assert folded == raw
    assert folded["figures"]["returning_viewers"] == 0

    await events_service.delete_customer_events(session=session, shop_id=shop.id, customer_ids=[a])
    assert (await state_of(session, room.live)).needs_rebuild
    folded, raw = await both(session, room.live, room.t0 + dt.timedelta(seconds=60))
    assert folded == raw and folded["figures"]["viewers"] == 1
    viewers = await session.scalar(
        select(func.count()).where(LiveRollupViewer.live_session_id == room.live.id)
    )
    assert viewers == 1


async def room_with_a_keyed_like(session: Any, shop: Any) -> tuple[Room, dict[str, Any]]:
    """A built room and a like with a client event id, ingested once."""
    room = await Room(session, shop).setup()
    await both(session, room.live, room.t0)
    like = room.item("live_like", room.viewers[0], 5, count=3)
    like["client_event_id"] = "like-1"
    await room.ingest([like])
    return room, like


async def test_a_duplicate_client_event_id_is_folded_once(session, shop) -> None:  # type: ignore[no-untyped-def]
    room, like = await room_with_a_keyed_like(session, shop)
    await room.ingest([dict(like), room.item("live_like", room.viewers[0], 6, count=1)])
    folded, raw = await both(session, room.live, room.t0 + dt.timedelta(seconds=60))
    assert folded == raw and folded["figures"]["likes"] == 4


async def test_events_of_another_shops_session_fold_nowhere(session, shop, other_shop) -> None:  # type: ignore[no-untyped-def]
    room = await Room(session, shop).setup()
    await both(session, room.live, room.t0)
    result = await events_service.ingest_events(
        session=session, shop_id=other_shop.id,
        items=[{"type": "live_like", "anonymous_id": "d:x", "live_session_id": room.live.id,
                "properties": {"count": 5}}],
    )  # fmt: skip
    assert result.accepted == 1
    folded, raw = await both(session, room.live, room.t0 + dt.timedelta(seconds=60))
    assert folded == raw and folded["figures"]["likes"] == 0
    states = await session.scalar(
        select(func.count()).where(LiveRollupState.shop_id == other_shop.id)
    )
    assert states == 0


async def test_a_rebuild_that_waited_on_another_does_not_run_again(session, shop) -> None:  # type: ignore[no-untyped-def]
    room = await Room(session, shop).setup()
    await room.ingest([room.item("live_enter", room.viewers[0], 10)])
    await both(session, room.live, room.t0 + dt.timedelta(seconds=60))  # built here
    built_at = (await state_of(session, room.live)).rebuilt_at
    await rollups.rebuild(session, shop_id=shop.id, live_session_id=room.live.id, force=False)
    assert (await state_of(session, room.live)).rebuilt_at == built_at
    await rollups.mark_shop_for_rebuild(session, shop_id=shop.id)
    await rollups.rebuild(session, shop_id=shop.id, live_session_id=room.live.id, force=False)
    state = await state_of(session, room.live)
    assert state.rebuilt_at != built_at and not state.needs_rebuild and state.viewers == 1


async def test_a_big_sessions_rollups_are_rebuilt_by_a_job_meanwhile_read_from_events(
    session, shop, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(rollups, "INLINE_REBUILD_EVENTS", 2)
    room = await Room(session, shop).setup()
    a, b, g1, _ = room.viewers
    await room.ingest([room.item("live_enter", a, 10), room.item("live_enter", b, 20),
                       room.item("live_like", g1, 30, count=2)])  # fmt: skip
    later = room.t0 + dt.timedelta(seconds=60)
    folded, raw = await both(session, room.live, later, read_from="rebuilding")
    assert folded == raw and folded["figures"]["viewers"] == 2
    state = await state_of(session, room.live)
    assert state.needs_rebuild and state.rebuild_queued_at is not None
    queued_at = state.rebuild_queued_at
    await both(session, room.live, later, read_from="rebuilding")  # queued once, not per read
    assert not await rollups.claim_rebuild(session, room.live)
    assert (await state_of(session, room.live)).rebuild_queued_at == queued_at

    run = tasks.rebuild_rollups.run
    assert await run(session=session, shop_id=shop.id, live_session_id=room.live.id) is True
    assert await run(session=session, shop_id=shop.id, live_session_id=room.live.id) is False
    folded, raw = await both(session, room.live, later)
    assert folded == raw and folded["figures"]["likes"] == 2

    await rollups.mark_shop_for_rebuild(session, shop_id=shop.id)  # the last one is done
    assert await rollups.claim_rebuild(session, room.live)
    state = await state_of(session, room.live)
    state.rebuild_queued_at = utcnow() - rollups.REQUEUE_AFTER - dt.timedelta(seconds=1)
    await session.flush()  # a queued job that never ran is queued again
    assert await rollups.claim_rebuild(session, room.live)


async def test_the_rebuild_job_is_queued_after_the_reads_commit(database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Committed for real (the job is queued once the claim is committed): cleaned up after."""
    monkeypatch.setattr(rollups, "INLINE_REBUILD_EVENTS", 0)
    jobs: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(queue, "enqueue", lambda name, kwargs, **_: jobs.append((name, kwargs)))
    async with database.unit_of_work() as session:
        shop = await factories.make_shop(session, name="重建测试店")
        live = await make_live_session(session, shop_id=shop.id, status="live")
        await events_service.ingest_events(
            session=session, shop_id=shop.id, mark_customers_active=False,
            items=[{"type": "live_enter", "anonymous_id": "d:x", "live_session_id": live.id}],
        )  # fmt: skip
    try:
        queued = []  # jobs queued (before, after) each read's commit: once, after the first
        for _ in range(2):
            async with database.unit_of_work() as session:
                body = await service.realtime_snapshot(
                    session=session, shop_id=shop.id, live_session_id=live.id
                )
                assert body["read_from"] == "rebuilding"
                before = len(jobs)
            queued.append((before, len(jobs)))
        assert queued == [(0, 1), (1, 1)]
        assert jobs == [
            (tasks.rebuild_rollups.name, {"shop_id": shop.id, "live_session_id": live.id})
        ]
        async with database.unit_of_work() as session:
            await tasks.rebuild_rollups.run(session=session, **jobs[0][1])
        async with database.unit_of_work() as session:
            body = await service.realtime_snapshot(
                session=session, shop_id=shop.id, live_session_id=live.id
            )
        assert body["read_from"] == "rollups" and body["figures"]["viewers"] == 1
    finally:
        async with database.unit_of_work() as session:
            await drop_shop(session, shop.id)


async def test_a_concurrent_duplicate_marks_the_session_for_rebuild_not_folded_twice(
    session, shop, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Two batches with one new client id at once: both look before either has stored it,
    so the second's insert skips a row it took for new (simulated: its look finds nothing)."""
    room, like = await room_with_a_keyed_like(session, shop)
    assert not (await state_of(session, room.live)).needs_rebuild

    async def nothing_stored_yet(*_: Any) -> set[str]:
        return set()

    monkeypatch.setattr(events_service, "_stored_client_ids", nothing_stored_yet)
    await room.ingest([dict(like), room.item("live_like", room.viewers[0], 6, count=1)])
    assert (await state_of(session, room.live)).needs_rebuild
    folded, raw = await both(session, room.live, room.t0 + dt.timedelta(seconds=60))
    assert folded == raw and folded["figures"]["likes"] == 4


async def test_the_report_of_a_big_session_reads_the_events_and_queues_the_rebuild(
    session, shop, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(rollups, "INLINE_REBUILD_EVENTS", 1)
    room = await Room(session, shop).setup()
    a, b, *_ = room.viewers
    await room.ingest([room.item("live_enter", a, 10), room.item("live_enter", b, 20)])
    assert await rollups.viewing_figures(session, room.live, 0, 60) is None
    assert (await state_of(session, room.live)).rebuild_queued_at is not None
    assert not await rollups.claim_rebuild(session, room.live)  # queued once
