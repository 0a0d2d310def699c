"""Demo communities and channel codes: three groups with members and join history, a group-tier
rule, and a channel code per customer-facing staff member, all made through the services."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.customers.channel_codes import service as codes_service
from liveloop.customers.channel_codes.schemas import ChannelCodeIn
from liveloop.customers.communities import service as communities_service
from liveloop.customers.communities.schemas import CommunityIn, PromotionRuleIn
from liveloop.events import service as events_service

# (name, kind, tier, capacity, share of customers who ever joined, share of them who left)
GROUPS = (
    ("新人福利群", "newcomer", 0, 500, 0.10, 0.25),
    ("VIP会员群", "vip", 1, 200, 0.03, 0.05),
    ("茶友兴趣群", "interest", 0, 500, 0.06, 0.15),
)
SOURCES = ("channel_code", "join_link", "live_welfare", "manual")
# Staff who talk to customers get a code each (anchors and analysts do not).
CODE_ROLES = ("owner", "operator", "service_agent")


@dataclass
class CommunitySeed:
    community_ids: list[int]
    code_ids: list[int]
    members: int
    messages: int
    events: int  # every event written (messages, arrivals, welcomes)


async def seed_communities(
    session: AsyncSession,
    *,
    shop_id: int,
    staff: Sequence[Any],
    customer_ids: Sequence[int],
    now: dt.datetime,
    seed: int = 7,
) -> CommunitySeed:
    rng = random.Random(seed)
    events_before = await _event_count(session, shop_id)
    owner = staff[0]
    communities = []
    members = 0
    current: dict[int, list[int]] = {}
    for name, kind, tier, capacity, share, leave_share in GROUPS:
        community = await communities_service.create_community(
            session=session,
            shop_id=shop_id,
            data=CommunityIn(
                name=name,
                kind=kind,  # type: ignore[arg-type]
                channel="wecom_group",
                external_id=f"wrDemo{kind.title()}",
                owner_staff_id=owner.id,
                capacity=capacity,
                tier_level=tier,
                join_url=f"https://work.weixin.qq.com/gm/demo-{kind}",
                description=f"{name}（演示）",
            ),
        )
        communities.append(community)
        count = min(capacity, max(3, int(len(customer_ids) * share)))
        chosen = rng.sample(list(customer_ids), min(count, len(customer_ids)))
        current[community.id] = []
        for customer_id in chosen:
            joined = now - dt.timedelta(days=rng.uniform(1, 90))
            await communities_service.join_community(
                session=session,
                shop_id=shop_id,
                community_id=community.id,
                customer_id=customer_id,
                source=rng.choice(SOURCES),
                trigger="demo",
                joined_at=joined,
            )
            members += 1
            if rng.random() < leave_share:
                await communities_service.leave_community(
                    session=session,
                    shop_id=shop_id,
                    community_id=community.id,
                    customer_id=customer_id,
                    left_at=joined + (now - joined) * rng.uniform(0.1, 0.9),
                )
            else:
                current[community.id].append(customer_id)
    newcomer, vip, _interest = communities
    await communities_service.create_promotion_rule(
        session=session,
        shop_id=shop_id,
        data=PromotionRuleIn(
            name="新人群下单升VIP群",
            from_community_id=newcomer.id,
            to_community_id=vip.id,
            min_paid_orders=2,
            window_days=30,
        ),
    )
    messages = await _messages(session, shop_id, current, now, rng)
    code_ids = await _codes(session, shop_id, staff, customer_ids, newcomer.id, now, rng)
    written = await _event_count(session, shop_id) - events_before
    return CommunitySeed([c.id for c in communities], code_ids, members, messages, written)


async def _event_count(session: AsyncSession, shop_id: int) -> int:
    from liveloop.events.models import Event

    count = await session.execute(select(func.count()).where(Event.shop_id == shop_id))
    return int(count.scalar_one())


async def _messages(
    session: AsyncSession,
    shop_id: int,
    current: dict[int, list[int]],
    now: dt.datetime,
    rng: random.Random,
) -> int:
    """Messages the WeCom group channel reported in the last two weeks."""
    items = [
        {
            "type": communities_service.MESSAGE_EVENT,
            "customer_id": customer_id,
            "occurred_at": (now - dt.timedelta(hours=rng.uniform(1, 14 * 24))).isoformat(),
            "properties": {"community_id": community_id},
        }
        for community_id, people in current.items()
        for customer_id in people
        for _ in range(rng.choice((0, 0, 1, 2, 4)))
    ]
    stored = 0
    for start in range(0, len(items), 1000):
        result = await events_service.ingest_events(
            session=session, shop_id=shop_id, items=items[start : start + 1000],
            mark_customers_active=False,
        )  # fmt: skip
        stored += result.accepted
    return stored


async def _codes(
    session: AsyncSession,
    shop_id: int,
    staff: Sequence[Any],
    customer_ids: Sequence[int],
    newcomer_id: int,
    now: dt.datetime,
    rng: random.Random,
) -> list[int]:
    ids = []
    talking = [person for person in staff if person.role in CODE_ROLES]
    for person in talking:
        code = await codes_service.create_code(
            session=session,
            shop_id=shop_id,
            data=ChannelCodeIn.model_validate(
                {
                    "name": f"{person.name}的活码",
                    "kind": "staff",
                    "routing": "single",
                    "staff": [
                        {
                            "staff_id": person.id,
                            "contact_url": f"https://work.weixin.qq.com/ca/demo{person.id}",
                            "daily_cap": 200,
                        }
                    ],
                    "welcome_message": f"你好，我是{person.name}，有任何茶叶问题都可以问我～",
                    "community_id": newcomer_id,
                }
            ),
        )
        ids.append(code.id)
    store = await codes_service.create_code(
        session=session,
        shop_id=shop_id,
        data=ChannelCodeIn.model_validate(
            {
                "name": "门店前台轮流活码",
                "kind": "store",
                "routing": "round_robin",
                "staff": [
                    {
                        "staff_id": person.id,
                        "contact_url": f"https://work.weixin.qq.com/ca/store{person.id}",
                    }
                    for person in talking
                ],
                "daily_limit": 300,
            }
        ),
    )
    ids.append(store.id)
    # A week of scans and some arrivals, so the statistics have something to show.
    for code_id in ids:
        code = await codes_service.get_code(session=session, shop_id=shop_id, code_id=code_id)
        for days_ago in range(7):
            for _ in range(rng.randint(1, 6)):
                await codes_service.route_scan(
                    session=session, code=code, now=now - dt.timedelta(days=days_ago)
                )
        for customer_id in rng.sample(list(customer_ids), min(4, len(customer_ids))):
            await codes_service.record_arrival(
                session=session,
                shop_id=shop_id,
                code_id=code_id,
                customer_id=customer_id,
                via="wecom",
                now=now - dt.timedelta(days=rng.uniform(0, 7)),
            )
    return ids
