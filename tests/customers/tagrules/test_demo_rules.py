"""The demo's tag rules: created, applied, and RFM/lifecycle computed alongside."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.customers import service as customers_service
from liveloop.customers.tagrules import service
from liveloop.demo.private_domain_rules import DEMO_RULES, seed_rules
from tests import factories
from tests.customers.rfm.conftest import pay


async def test_seed_rules_tags_the_matching_customers(session: AsyncSession, shop: Any) -> None:
    now = utcnow()
    product = await factories.make_product(session, shop_id=shop.id, price_fen=50_000, stock=10)
    big = await factories.make_customer(session, shop_id=shop.id, name="big")
    asleep = await factories.make_customer(session, shop_id=shop.id, name="asleep")
    await factories.make_customer(session, shop_id=shop.id, name="plain")
    await pay(session, shop_id=shop.id, customer_id=big.id, sku_id=product.skus[0].id, paid_at=now)
    await customers_service.mark_customers_active(
        session=session, shop_id=shop.id, activity={asleep.id: now - dt.timedelta(days=120)}
    )

    result = await seed_rules(session, shop_id=shop.id, now=now)

    rules = {rule.name: rule for rule in await service.list_rules(session=session, shop_id=shop.id)}
    assert set(rules) == set(DEMO_RULES)
    assert result.rfm.customers == 3 and result.rfm.buyers == 1
    assert sum(result.lifecycle.stages.values()) == 3
    members = {rules[name].name: rules[name].last_counts["members"] for name in rules}
    assert members["高客单"] == 1
    assert members["沉睡"] == 1
    big_changes = await service.list_tag_changes(
        session=session, shop_id=shop.id, customer_id=big.id
    )
    assert [c.reason for c in big_changes] == ["rule 高客单"]
    asleep_changes = await service.list_tag_changes(
        session=session, shop_id=shop.id, customer_id=asleep.id
    )
    assert [c.reason for c in asleep_changes] == ["rule 沉睡"]
