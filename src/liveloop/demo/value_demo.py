"""The demo's costs, so the value page (/console/analytics/value) has ROI, ROAS and CAC to show:
an anchor fee and an ad spend for every session that went on air, and the acquisition spend of
the paid channels (抖音 ads, 公众号 promotion) over the last 30 days. Entered through the same
service the console's cost form uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.cohorts import value
from liveloop.live.models import LiveSession

ANCHOR_FEE_FEN = 80_000  # ¥800 a session
ADS_PER_SESSION_FEN = 30_000  # ¥300 of traffic bought for each session
CHANNEL_SPEND_FEN = {"抖音": 240_000, "公众号": 60_000}  # last 30 days, for CAC


async def seed_costs(
    session: AsyncSession, *, shop_id: int, rooms: Mapping[str, Any], now: dt.datetime
) -> int:
    """Cost lines for the live and ended sessions and the paid channels; returns how many."""
    zone = ZoneInfo("Asia/Shanghai")
    session_ids = [rooms["live"], *rooms["ended"]]
    sessions = (
        await session.scalars(
            select(LiveSession).where(
                LiveSession.shop_id == shop_id, LiveSession.id.in_(session_ids)
            )
        )
    ).all()
    lines: list[value.CostIn] = []
    for live in sessions:
        day = (live.started_at or live.planned_start).astimezone(zone).date()
        lines.append(
            value.CostIn(kind="anchor_fee", amount_fen=ANCHOR_FEE_FEN, spent_on=day,
                         live_session_id=live.id, note="主播坑位费")
        )  # fmt: skip
        lines.append(
            value.CostIn(kind="ads", amount_fen=ADS_PER_SESSION_FEN, spent_on=day,
                         live_session_id=live.id, note="直播间投流")
        )  # fmt: skip
    today = now.astimezone(zone).date()
    for channel, amount in CHANNEL_SPEND_FEN.items():
        lines.append(
            value.CostIn(kind="ads", amount_fen=amount, spent_on=today - dt.timedelta(days=10),
                         channel=channel, note="获客投放（演示）")
        )  # fmt: skip
    for line in lines:
        await value.do_create_cost(session=session, shop_id=shop_id, data=line)
    return len(lines)
