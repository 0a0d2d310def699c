"""Demo: the issue's four automatic tag rules, then RFM, lifecycle and the rules computed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.customers import tags as tags_service
from liveloop.customers.rfm import tasks as rfm_tasks
from liveloop.customers.tagrules import service as tagrules_service
from liveloop.customers.tagrules.examples import EXAMPLES
from liveloop.customers.tagrules.schemas import TagRuleIn
from liveloop.shops.service import system_actor

# Rule name → (tag name, condition); the conditions are the console's examples.
DEMO_RULES: dict[str, tuple[str, dict[str, Any]]] = {
    "高活跃": ("高活跃", EXAMPLES["高活跃"]),  # ≥ 10 interactions of one kind in 30 days
    "直播常客": ("直播常客", EXAMPLES["直播常客"]),  # watched ≥ 3 sessions ≥ 10 min in 60 days
    "高客单": ("高客单", EXAMPLES["高客单"]),  # average paid order ≥ ¥300
    "沉睡": ("沉睡", EXAMPLES["沉睡"]),  # no activity for 90 days
}


async def seed_rules(
    session: AsyncSession, *, shop_id: int, now: dt.datetime | None = None
) -> rfm_tasks.ShopRecompute:
    """Create the demo's tag rules and run the full recompute (RFM, lifecycle, rules)."""
    actor = system_actor(shop_id, label="demo seed")
    tag_ids = await tags_service.ensure_tags(
        session=session, shop_id=shop_id, names=[tag for tag, _ in DEMO_RULES.values()]
    )
    for name, (tag, condition) in DEMO_RULES.items():
        await tagrules_service.create_rule(
            session=session,
            actor=actor,
            data=TagRuleIn(name=name, tag_id=tag_ids[tag], condition=condition, confirm_all=True),
        )
    return await rfm_tasks.recompute_shop(session=session, shop_id=shop_id, now=now)
