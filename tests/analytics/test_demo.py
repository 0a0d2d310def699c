"""The demo seed gives its ended sessions room events and reports that agree with their
orders."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from liveloop.analytics.models import LiveReport
from liveloop.commerce.models import Order
from liveloop.demo.seed import seed_demo
from liveloop.live.models import LiveSession


async def test_ended_demo_sessions_have_full_reports(session, settings) -> None:  # type: ignore[no-untyped-def]
    report = await seed_demo(session=session, customers=80, days=30, seed=11, settings=settings)
    shop_id = report.shop_id
    ended = list(
        (
            await session.execute(
                select(LiveSession.id).where(
                    LiveSession.shop_id == shop_id, LiveSession.status == "ended"
                )
            )
        ).scalars()
    )
    assert len(ended) == 2
    # The seed itself gave every ended session its room events and report.
    for live_session_id in ended:
        stored = (
            await session.execute(
                select(LiveReport).where(LiveReport.live_session_id == live_session_id)
            )
        ).scalar_one()
        body = stored.body
        live = await session.get(LiveSession, live_session_id)
        assert live is not None and live.started_at and live.ended_at
        viewing, consumption = body["viewing"], body["consumption"]
        assert viewing["uv"] > 100
        assert 0 < viewing["peak_online"] <= viewing["uv"] == live.total_viewers
        assert live.peak_viewers == viewing["peak_online"]
        minutes = -(-int((live.ended_at - live.started_at).total_seconds()) // 60)
        assert len(viewing["retention"]) == minutes
        assert max(viewing["retention"]) <= viewing["peak_online"]
        assert body["interaction"]["comments"] > 0 and body["interaction"]["keywords"]
        paid = (
            await session.execute(
                select(func.coalesce(func.sum(Order.paid_fen), 0)).where(
                    Order.live_session_id == live_session_id, Order.paid_at.is_not(None)
                )
            )
        ).scalar_one()
        assert consumption["gmv_fen"] == paid > 0
        # every buyer of the session was in the room
        assert body["users"]["customers"] and all(
            row["viewers"] >= row["buyers"] for row in body["users"]["customers"]
        )


async def test_demo_costs_give_the_value_page_figures(session, settings) -> None:  # type: ignore[no-untyped-def]
    """Every session that went on air carries the demo's anchor fee and ad spend, and the paid
    channels have a CAC: the value page has real figures to show."""
    from liveloop.analytics.cohorts import value
    from liveloop.demo.value_demo import ADS_PER_SESSION_FEN, ANCHOR_FEE_FEN, CHANNEL_SPEND_FEN

    report = await seed_demo(session=session, customers=80, days=30, seed=11, settings=settings)
    aired = list(
        (
            await session.execute(
                select(LiveSession.id).where(
                    LiveSession.shop_id == report.shop_id, LiveSession.started_at.is_not(None)
                )
            )
        ).scalars()
    )
    assert aired
    for live_session_id in aired:
        figures = await value.live_session_value(
            session=session, shop_id=report.shop_id, live_session_id=live_session_id
        )
        entered = figures["costs_fen"]
        assert entered["anchor_fee"] == ANCHOR_FEE_FEN and entered["ads"] == ADS_PER_SESSION_FEN
        assert figures["cost_fen"] >= ANCHOR_FEE_FEN + ADS_PER_SESSION_FEN
        assert figures["roi"] is not None
    today = dt.datetime.now(dt.UTC).date()
    cac = await value.cac_by_channel(
        session=session, shop_id=report.shop_id, start=today - dt.timedelta(days=30), end=today
    )
    spent = {row["channel"]: row for row in cac["channels"] if row["channel"] in CHANNEL_SPEND_FEN}
    assert set(spent) == set(CHANNEL_SPEND_FEN)
    for channel, row in spent.items():
        assert row["cost_fen"] == CHANNEL_SPEND_FEN[channel]
