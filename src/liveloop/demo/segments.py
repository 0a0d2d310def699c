"""Saved segments of the demo shop (人群), built through the segments service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog.models import Category
from liveloop.customers.models import Tag
from liveloop.customers.points.models import MemberTier
from liveloop.customers.segments import service as segments_service
from liveloop.customers.segments.models import Segment
from liveloop.customers.segments.schemas import SegmentIn
from liveloop.shops.service import Actor, system_actor


async def _id_by_name(session: AsyncSession, model: Any, shop_id: int, name: str) -> int | None:
    row = await session.execute(
        select(model.id).where(model.shop_id == shop_id, model.name == name).limit(1)
    )
    return row.scalar()


async def seed_segments(
    session: AsyncSession, *, shop_id: int, actor: Actor | None = None
) -> list[Segment]:
    """The demo's segments, among them the issue's example: 金卡 members in 上海 who watched a
    live session in the last 30 days but did not buy. Tiers come from the points domain; where
    no 金卡 tier exists (yet), the condition asks for a tier of level 2 or above."""
    actor = actor or system_actor(shop_id, label="demo seed")
    gold = await _id_by_name(session, MemberTier, shop_id, "金卡")
    tier = {"kind": "tier", "tier_ids": [gold]} if gold else {"kind": "tier", "min_level": 2}
    tea = await _id_by_name(session, Category, shop_id, "茶叶")
    vip = await _id_by_name(session, Tag, shop_id, "高价值")
    tea_views: dict[str, Any] = {
        "kind": "event",
        "type": "product_view",
        "count": {"op": "at_least", "value": 3},
        "window": {"last_days": 14},
    }
    if tea:
        tea_views["category_id"] = tea
    wanted: list[tuple[str, str, dict[str, Any], str]] = [
        (
            "上海金卡 · 近30天看直播未下单",
            "金卡会员，城市上海，最近 30 天看过直播但没有在直播间下单：下一场开播前定向邀约。",
            {
                "all": [
                    tier,
                    {"kind": "profile", "field": "city", "op": "eq", "value": "上海"},
                    {"kind": "live", "action": "watched", "window": {"last_days": 30}},
                    {"not": {"kind": "live", "action": "bought", "window": {"last_days": 30}}},
                ]
            },
            "dynamic",
        ),
        (
            "茶叶兴趣 · 14天浏览≥3次",
            "最近 14 天浏览茶叶类商品至少 3 次。",
            {"all": [tea_views]},
            "dynamic",
        ),
        (
            "高消费 · 累计≥¥1000",
            "已付款订单累计消费（扣除退款）不低于 1000 元。",
            {"all": [{"kind": "purchase", "spend_fen": {"op": "gte", "value": 100_000}}]},
            "dynamic",
        ),
        (
            "沉睡召回 · 90天未活跃",
            "90 天以上没有任何活跃，且买过东西。",
            {
                "all": [
                    {
                        "kind": "profile",
                        "field": "last_active_at",
                        "op": "before_days_ago",
                        "value": 90,
                    },
                    {"kind": "purchase", "count": {"op": "at_least", "value": 1}},
                ]
            },
            "dynamic",
        ),
    ]
    if vip:
        wanted.append(
            (
                "高价值客户 · 快照",
                "打了「高价值」标签的客户，固化为名单（静态）。",
                {"all": [{"kind": "tags", "op": "has_any", "tag_ids": [vip]}]},
                "static",
            )
        )
    made = []
    for name, description, data, kind in wanted:
        made.append(
            await segments_service.create_segment(
                session=session,
                actor=actor,
                data=SegmentIn(name=name, description=description, filter=data, kind=kind),  # type: ignore[arg-type]
            )
        )
    return made
