"""Tag rules: members get the tag, leavers lose it, every change is recorded, manual tags stay."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.customers import tags as tags_service
from liveloop.customers.models import CustomerTag
from liveloop.customers.tagrules import service
from liveloop.customers.tagrules.schemas import TagRuleIn, TagRuleUpdate
from liveloop.shops.service import Actor
from tests import factories

COMMENTED_TWICE = {
    "kind": "event",
    "type": "comment",
    "count": {"op": "at_least", "value": 2},
    "window": {"last_days": 30},
}


async def tagged(session: AsyncSession, shop_id: int, tag_id: int) -> dict[int, str]:
    rows = await session.execute(
        select(CustomerTag.customer_id, CustomerTag.source).where(
            CustomerTag.shop_id == shop_id, CustomerTag.tag_id == tag_id
        )
    )
    return {customer_id: source for customer_id, source in rows}


async def comment(session: AsyncSession, shop_id: int, customer: Any, n: int, **kw: Any) -> None:
    await factories.make_events(
        session, shop_id=shop_id, customer_id=customer.id, types=("comment",), n=n, **kw
    )


@pytest.fixture
async def tag(session: AsyncSession, shop: Any) -> Any:
    # A customer who never matches, so no rule below "tags everyone".
    await factories.make_customer(session, shop_id=shop.id, name="bystander")
    return await factories.make_tag(session, shop_id=shop.id, name="爱评论")


async def test_rule_tags_members_and_removes_leavers_with_history(
    session: AsyncSession, shop: Any, actor: Actor, tag: Any
) -> None:
    chatty = await factories.make_customer(session, shop_id=shop.id, name="chatty")
    quiet = await factories.make_customer(session, shop_id=shop.id, name="quiet")
    manual = await factories.make_customer(session, shop_id=shop.id, name="manual", tags=[tag])
    await comment(session, shop.id, chatty, 3)
    await comment(session, shop.id, quiet, 1)
    rule = await service.create_rule(
        session=session,
        actor=actor,
        data=TagRuleIn(name="爱评论", tag_id=tag.id, condition=COMMENTED_TWICE),
    )
    now = utcnow()
    run = await service.apply_rule(session=session, shop_id=shop.id, rule_id=rule.id, now=now)
    assert (run.members, run.added, run.removed) == (1, 1, 0)
    assert await tagged(session, shop.id, tag.id) == {chatty.id: "rule", manual.id: "manual"}
    assert rule.last_counts == {"members": 1, "added": 1, "removed": 0}
    assert rule.last_run_at == now

    again = await service.apply_rule(session=session, shop_id=shop.id, rule_id=rule.id, now=now)
    assert (again.added, again.removed) == (0, 0)  # idempotent

    # Thirty-one days on, the comments fall out of the window: the rule's tag comes off,
    # the manual one stays.
    later = now + dt.timedelta(days=31)
    gone = await service.apply_rule(session=session, shop_id=shop.id, rule_id=rule.id, now=later)
    assert (gone.members, gone.added, gone.removed) == (0, 0, 1)
    assert await tagged(session, shop.id, tag.id) == {manual.id: "manual"}

    history = await service.list_tag_changes(
        session=session, shop_id=shop.id, customer_id=chatty.id
    )
    assert [(c.action, c.rule_id, c.reason, c.at) for c in history] == [
        ("removed", rule.id, "rule 爱评论: no longer matches", later),
        ("added", rule.id, "rule 爱评论", now),
    ]
    assert (
        await service.list_tag_changes(session=session, shop_id=shop.id, customer_id=manual.id)
        == []
    )


async def test_a_manual_tag_is_never_taken_over_or_removed(
    session: AsyncSession, shop: Any, actor: Actor, tag: Any
) -> None:
    both = await factories.make_customer(session, shop_id=shop.id, name="both", tags=[tag])
    await comment(session, shop.id, both, 2)
    rule = await service.create_rule(
        session=session,
        actor=actor,
        data=TagRuleIn(name="r", tag_id=tag.id, condition=COMMENTED_TWICE),
    )
    run = await service.apply_rule(session=session, shop_id=shop.id, rule_id=rule.id)
    assert (run.members, run.added) == (1, 0)
    assert await tagged(session, shop.id, tag.id) == {both.id: "manual"}
    await service.apply_rule(
        session=session, shop_id=shop.id, rule_id=rule.id, now=utcnow() + dt.timedelta(days=40)
    )
    assert await tagged(session, shop.id, tag.id) == {both.id: "manual"}


async def test_incremental_run_touches_only_the_given_customers(
    session: AsyncSession, shop: Any, actor: Actor, tag: Any
) -> None:
    one = await factories.make_customer(session, shop_id=shop.id, name="one")
    two = await factories.make_customer(session, shop_id=shop.id, name="two")
    rule = await service.create_rule(
        session=session,
        actor=actor,
        data=TagRuleIn(name="r", tag_id=tag.id, condition=COMMENTED_TWICE),
    )
    await comment(session, shop.id, one, 2)
    await comment(session, shop.id, two, 2)
    runs = await service.evaluate_all_rules(session=session, shop_id=shop.id, customer_ids=[one.id])
    assert [(r.members, r.added) for r in runs] == [(1, 1)]
    assert await tagged(session, shop.id, tag.id) == {one.id: "rule"}
    assert rule.last_run_at is None  # an incremental run is not the full run
    await service.evaluate_all_rules(session=session, shop_id=shop.id)
    assert await tagged(session, shop.id, tag.id) == {one.id: "rule", two.id: "rule"}


async def test_disabled_rules_do_not_run_and_deleting_takes_the_tags_off(
    session: AsyncSession, shop: Any, actor: Actor, tag: Any
) -> None:
    one = await factories.make_customer(session, shop_id=shop.id, name="one")
    await comment(session, shop.id, one, 2)
    rule = await service.create_rule(
        session=session,
        actor=actor,
        data=TagRuleIn(name="r", tag_id=tag.id, condition=COMMENTED_TWICE, enabled=False),
    )
    assert await service.evaluate_all_rules(session=session, shop_id=shop.id) == []
    await service.update_rule(
        session=session, actor=actor, rule_id=rule.id, data=TagRuleUpdate(enabled=True)
    )
    await service.evaluate_all_rules(session=session, shop_id=shop.id)
    assert await tagged(session, shop.id, tag.id) == {one.id: "rule"}
    assert await service.delete_rule(session=session, actor=actor, rule_id=rule.id) == 1
    assert await tagged(session, shop.id, tag.id) == {}
    history = await service.list_tag_changes(session=session, shop_id=shop.id, customer_id=one.id)
    assert [(c.action, c.reason) for c in history] == [
        ("removed", "rule r deleted"),
        ("added", "rule r"),
    ]


async def test_bad_rules_are_refused(
    session: AsyncSession, shop: Any, other_shop: Any, actor: Actor, tag: Any
) -> None:
    with pytest.raises(InvalidInput) as bad:
        await service.create_rule(
            session=session,
            actor=actor,
            data=TagRuleIn(name="r", tag_id=tag.id, condition={"kind": "event", "type": "X y"}),
        )
    assert bad.value.field is not None and bad.value.field.startswith("condition")
    with pytest.raises(Conflict) as everyone:
        await service.create_rule(
            session=session,
            actor=actor,
            data=TagRuleIn(name="r", tag_id=tag.id, condition={"all": []}),
        )
    assert everyone.value.code == "rule_matches_everyone"
    rule = await service.create_rule(
        session=session,
        actor=actor,
        data=TagRuleIn(name="r", tag_id=tag.id, condition={"all": []}, confirm_all=True),
    )
    with pytest.raises(Conflict) as twice:
        await service.create_rule(
            session=session,
            actor=actor,
            data=TagRuleIn(name="r2", tag_id=tag.id, condition=COMMENTED_TWICE),
        )
    assert twice.value.code == "tag_has_rule"
    foreign = await factories.make_tag(session, shop_id=other_shop.id, name="别家")
    with pytest.raises(Exception) as not_ours:
        await service.create_rule(
            session=session,
            actor=actor,
            data=TagRuleIn(name="r3", tag_id=foreign.id, condition=COMMENTED_TWICE),
        )
    assert getattr(not_ours.value, "code", "") == "tag_not_found"
    with pytest.raises(Exception) as hidden:
        await service.get_rule(session=session, shop_id=other_shop.id, rule_id=rule.id)
    assert getattr(hidden.value, "code", "") == "tag_rule_not_found"


async def test_preview_counts_members_and_flags_everyone(
    session: AsyncSession, shop: Any, tag: Any
) -> None:
    one = await factories.make_customer(session, shop_id=shop.id, name="one")
    await factories.make_customer(session, shop_id=shop.id, name="two")
    await comment(session, shop.id, one, 2)
    preview = await service.preview_condition(
        session=session, shop_id=shop.id, condition=COMMENTED_TWICE
    )
    assert (preview.matching, preview.customers, preview.sample_ids) == (1, 3, [one.id])
    assert not preview.matches_everyone
    everyone = await service.preview_condition(
        session=session, shop_id=shop.id, condition={"all": []}
    )
    assert everyone.matches_everyone


async def test_tag_deleted_by_hand_comes_back_while_the_customer_still_matches(
    session: AsyncSession, shop: Any, actor: Actor, tag: Any
) -> None:
    one = await factories.make_customer(session, shop_id=shop.id, name="one")
    await comment(session, shop.id, one, 2)
    rule = await service.create_rule(
        session=session,
        actor=actor,
        data=TagRuleIn(name="r", tag_id=tag.id, condition=COMMENTED_TWICE),
    )
    await service.apply_rule(session=session, shop_id=shop.id, rule_id=rule.id)
    await tags_service.untag_customer(
        session=session, actor=actor, customer_id=one.id, tag_id=tag.id
    )
    run = await service.apply_rule(session=session, shop_id=shop.id, rule_id=rule.id)
    assert run.added == 1


async def test_a_condition_on_tags_follows_the_other_tag(
    session: AsyncSession, shop: Any, actor: Actor, tag: Any
) -> None:
    # The condition reads customer_tags too: its sub-select must not mix with the rule's rows.
    vip = await factories.make_tag(session, shop_id=shop.id, name="VIP")
    one = await factories.make_customer(session, shop_id=shop.id, name="one", tags=[vip])
    two = await factories.make_customer(session, shop_id=shop.id, name="two", tags=[vip])
    condition = {"kind": "tags", "op": "has_any", "tag_ids": [vip.id]}
    rule = await service.create_rule(
        session=session, actor=actor, data=TagRuleIn(name="r", tag_id=tag.id, condition=condition)
    )
    run = await service.apply_rule(session=session, shop_id=shop.id, rule_id=rule.id)
    assert (run.members, run.added, run.removed) == (2, 2, 0)
    await tags_service.untag_customer(
        session=session, actor=actor, customer_id=one.id, tag_id=vip.id
    )
    run = await service.apply_rule(session=session, shop_id=shop.id, rule_id=rule.id)
    assert (run.members, run.added, run.removed) == (1, 0, 1)
    assert await tagged(session, shop.id, tag.id) == {two.id: "rule"}
    assert await tagged(session, shop.id, vip.id) == {two.id: "manual"}
