"""The room's write-behind buffer: events, live_viewers upserts and session figures, written on
the test database (SQLite, or PostgreSQL when configured) inside the test's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.events.models import Event
from liveloop.live import audience
from liveloop.live.buffer import EventBuffer
from liveloop.live.models import LiveSession, LiveViewer
from liveloop.live.viewers import ViewerClaims
from tests.factories.customers import make_customer
from tests.factories.live import make_live_session


class BoundDatabase:
    """The buffer's `unit_of_work`, inside the test's (rolled-back) transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.fail = False

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        if self.fail:
            raise ConnectionError("database unavailable")
        nested = await self.session.begin_nested()
        try:
            yield self.session
            await nested.commit()
        except BaseException:
            await nested.rollback()
            raise


async def _events(session: AsyncSession, shop_id: int) -> list[Event]:
    rows = await session.execute(select(Event).where(Event.shop_id == shop_id).order_by(Event.id))
    return list(rows.scalars())


async def test_flush_writes_events_viewers_and_figures(session: AsyncSession, shop: Any) -> None:
    room = await make_live_session(session, shop_id=shop.id, status="live")
    customer = await make_customer(session, shop_id=shop.id, name="王芳")
    sharer = await make_customer(session, shop_id=shop.id, name="李娜")
    share = await audience.create_share(
        session=session,
        live_session=room,
        claims=ViewerClaims(
            shop_id=shop.id,
            live_session_id=room.id,
            customer_id=sharer.id,
            device_id="sharer",
            name="李娜",
        ),
    )
    buyer = ViewerClaims(
        shop_id=shop.id,
        live_session_id=room.id,
        customer_id=customer.id,
        device_id="phone-1",
        name="王芳",
        source_code="grp01",
        share_code=share,
    )
    guest = ViewerClaims(
        shop_id=shop.id, live_session_id=room.id, customer_id=None, device_id="guest-9", name="观众"
    )
    database = BoundDatabase(session)
    buffer = EventBuffer(database)  # type: ignore[arg-type]
    for claims in (buyer, guest):
        buffer.add_event(claims, room.id, "live_enter", {"source_code": claims.source_code})
        buffer.viewer_entered(claims, room.id)
    buffer.add_event(buyer, room.id, "live_comment", {"text": "好看", "comment_id": "c-1"})
    buffer.viewer_seen(buyer, room.id, comments=1)
    buffer.add_event(guest, room.id, "live_like", {"count": 12})
    buffer.viewer_seen(guest, room.id, likes=12)
    buffer.add_event(guest, room.id, "live_product_click", {"product_id": 7}, product_id=7)
    buffer.viewer_left(guest, room.id, 95)
    buffer.session_figures(shop.id, room.id, peak=2, total=2, like_total=12)
    await buffer.flush()

    events = await _events(session, shop.id)
    assert [e.type for e in events] == [
        "live_enter",
        "live_enter",
        "live_comment",
        "live_like",
        "live_product_click",
    ]
    assert events[0].customer_id == customer.id and events[1].anonymous_id == "d:guest-9"
    assert events[4].product_id == 7 and all(e.live_session_id == room.id for e in events)
    rows = {
        v.viewer_key: v
        for v in (
            await session.execute(select(LiveViewer).where(LiveViewer.live_session_id == room.id))
        ).scalars()
    }
    assert rows[f"c:{customer.id}"].source_code == "grp01"
    assert rows[f"c:{customer.id}"].referrer_customer_id == sharer.id
    assert rows[f"c:{customer.id}"].comments == 1
    assert (rows["d:guest-9"].likes, rows["d:guest-9"].watch_seconds) == (12, 95)

    # A second visit adds to the same row; figures only go up.
    buffer.viewer_entered(guest, room.id)
    buffer.viewer_left(guest, room.id, 5)
    buffer.session_figures(shop.id, room.id, peak=1, total=2, like_total=20)
    await buffer.flush()
    await session.refresh(rows["d:guest-9"])
    assert (rows["d:guest-9"].entries, rows["d:guest-9"].watch_seconds) == (2, 100)
    await session.refresh(room)
    assert (room.peak_viewers, room.total_viewers, room.like_total) == (2, 2, 20)


async def test_a_failed_flush_keeps_everything_for_the_next(
    session: AsyncSession, shop: Any
) -> None:
    room = await make_live_session(session, shop_id=shop.id, status="live")
    guest = ViewerClaims(
        shop_id=shop.id, live_session_id=room.id, customer_id=None, device_id="g", name="观众"
    )
    database = BoundDatabase(session)
    buffer = EventBuffer(database)  # type: ignore[arg-type]
    buffer.add_event(guest, room.id, "live_enter", {})
    buffer.viewer_entered(guest, room.id)
    database.fail = True
    try:
        await buffer.flush()
    except ConnectionError:
        pass
    else:
        raise AssertionError("the flush should have failed")
    assert buffer.pending == 1
    buffer.add_event(guest, room.id, "live_leave", {"watch_seconds": 3})
    buffer.viewer_left(guest, room.id, 3)
    database.fail = False
    await buffer.flush()
    assert [e.type for e in await _events(session, shop.id)] == ["live_enter", "live_leave"]
    count = await session.scalar(
        select(func.count()).select_from(LiveViewer).where(LiveViewer.live_session_id == room.id)
    )
    assert count == 1
    viewer = (
        await session.execute(select(LiveViewer).where(LiveViewer.live_session_id == room.id))
    ).scalar_one()
    assert (viewer.entries, viewer.watch_seconds) == (1, 3)
    assert isinstance(await session.get(LiveSession, room.id), LiveSession)
