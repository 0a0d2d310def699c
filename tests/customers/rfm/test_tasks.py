"""The nightly recompute and the incremental paths (paid order hook, activity sweep)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
from liveloop.customers import service as customers_service
from liveloop.customers.rfm import service as rfm
from liveloop.customers.rfm import tasks
from liveloop.customers.tagrules import service as tagrules
from liveloop.customers.tagrules.schemas import TagRuleIn
from liveloop.shops.service import Actor
from tests import factories
from tests.customers.rfm.conftest import pay

DAY = dt.timedelta(days=1)
CHURNED = {"kind": "lifecycle", "stages": ["churned"]}


async def test_recompute_shop_runs_rfm_then_lifecycle_then_rules(
    session: AsyncSession, shop: Any, actor: Actor, skus: dict[str, int], now: dt.datetime
) -> None:
    buyer = await factories.make_customer(session, shop_id=shop.id, name="buyer")
    gone = await factories.make_customer(session, shop_id=shop.id, name="gone")
    await customers_service.mark_customers_first_seen(
        session=session, shop_id=shop.id, first_seen={gone.id: now - 200 * DAY}
    )
    await pay(session, shop_id=shop.id, customer_id=buyer.id, sku_id=skus["small"], paid_at=now)
    tag = await factories.make_tag(session, shop_id=shop.id, name="沉睡")
    await tagrules.create_rule(
        session=session, actor=actor, data=TagRuleIn(name="沉睡", tag_id=tag.id, condition=CHURNED)
    )
    result = await tasks.recompute_shop(session=session, shop_id=shop.id, now=now)
    assert result.rfm.buyers == 1
    assert result.lifecycle.stages["churned"] == 1
    assert [(r.members, r.added) for r in result.rules] == [(1, 1)]
    changes = await tagrules.list_tag_changes(session=session, shop_id=shop.id, customer_id=gone.id)
    assert [c.action for c in changes] == ["added"]


async def test_a_paid_order_re_evaluates_the_buyer(
    session: AsyncSession, shop: Any, skus: dict[str, int], now: dt.datetime
) -> None:
    assert tasks.reevaluate_buyer in hooks.handlers("order_paid")
    buyer = await factories.make_customer(session, shop_id=shop.id, name="buyer")
    await customers_service.mark_customers_first_seen(
        session=session, shop_id=shop.id, first_seen={buyer.id: now - 200 * DAY}
    )
    await rfm.recompute_lifecycle(session=session, shop_id=shop.id, now=now - DAY)
    before = await rfm.get_customer_lifecycle(
        session=session, shop_id=shop.id, customer_id=buyer.id
    )
    assert before is not None and before.stage == "churned"
    await pay(session, shop_id=shop.id, customer_id=buyer.id, sku_id=skus["small"], paid_at=now)
    # What the hook enqueues once the payment commits:
    await tasks.reevaluate_customers.run(session=session, shop_id=shop.id, customer_ids=[buyer.id])
    after = await rfm.get_customer_lifecycle(session=session, shop_id=shop.id, customer_id=buyer.id)
    assert after is not None and after.stage == "recalled"


async def test_the_sweep_picks_up_customers_active_since_the_last_one(
    session: AsyncSession, shop: Any, now: dt.datetime
) -> None:
    seen = await factories.make_customer(session, shop_id=shop.id, name="seen")
    asleep = await factories.make_customer(session, shop_id=shop.id, name="asleep")
    await customers_service.mark_customers_first_seen(
        session=session,
        shop_id=shop.id,
        first_seen={seen.id: now - 200 * DAY, asleep.id: now - 200 * DAY},
    )
    await rfm.recompute_lifecycle(session=session, shop_id=shop.id, now=now - 10 * DAY)
    await tasks.sweep_recently_active(session=session, now=now - 5 * DAY)  # sets the mark
    await factories.make_events(session, shop_id=shop.id, customer_id=seen.id, n=2, start=now - DAY)
    assert await tasks.sweep_recently_active(session=session, now=now) >= 1
    stage = await rfm.get_customer_lifecycle(session=session, shop_id=shop.id, customer_id=seen.id)
    other = await rfm.get_customer_lifecycle(
        session=session, shop_id=shop.id, customer_id=asleep.id
    )
    assert stage is not None and stage.stage == "recalled"
    assert other is not None and other.stage == "churned"
    # Nothing new since: the next sweep re-evaluates no one of this shop.
    settings = await rfm.get_settings(session=session, shop_id=shop.id)
    assert settings.swept_at == now
