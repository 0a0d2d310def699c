"""Tag rules: a tag that follows a segment filter, applied set-based with a history of changes.

A rule's tag rows (customer_tags.source = "rule") are exactly the customers its condition
selects: members without the tag get it, rule-tagged customers who left lose it, and each
change is written to tag_changes first (customer, tag, rule, action, when, why). A tag the
customer got another way (manual, import) is never removed or re-labelled by a rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    Select,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict
from liveloop.customers import tags as tags_service
from liveloop.customers.models import STATUS_ACTIVE, Customer, CustomerTag
from liveloop.customers.rfm.sql import at, dialect_of
from liveloop.customers.segments import service as segments_service
from liveloop.customers.segments.compiler import compile_filter
from liveloop.customers.segments.filters import SegmentFilter, parse_filter
from liveloop.customers.segments.models import Segment
from liveloop.customers.tagrules.models import ACTION_ADDED, ACTION_REMOVED, TagChange, TagRule
from liveloop.customers.tagrules.schemas import TagRuleIn, TagRuleUpdate
from liveloop.shops.service import Actor, record_audit

RULE_SOURCE = "rule"
SAMPLE_SIZE = 20


@dataclass
class RuleRun:
    rule_id: int
    members: int  # matching customers (full runs) or matching among the given customers
    added: int
    removed: int


@dataclass
class Preview:
    matching: int
    customers: int
    sample_ids: list[int]

    @property
    def matches_everyone(self) -> bool:
        return self.customers > 0 and self.matching == self.customers


def parse_condition(data: Any) -> SegmentFilter:
    """The condition as a segment filter, or InvalidInput (422) naming the bad node."""
    return parse_filter(data, root="condition")


async def _segment_loader(session: AsyncSession, shop_id: int) -> Any:
    """Saved segments of the shop by id, for conditions that nest a segment (few rows)."""
    segments = {s.id: s for s in (await session.execute(scoped(Segment, shop_id))).scalars()}
    return segments.get


async def members_query(
    *,
    session: AsyncSession,
    shop_id: int,
    condition: SegmentFilter,
    now: dt.datetime,
    timezone: str = "Asia/Shanghai",
) -> Select[Any]:
    """SELECT customers.id of the shop's active customers matching the condition."""
    return compile_filter(
        condition,
        shop_id=shop_id,
        now=now,
        segment_loader=await _segment_loader(session, shop_id),
        timezone=timezone,
    )


async def preview_condition(
    *, session: AsyncSession, shop_id: int, condition: Any, now: dt.datetime | None = None
) -> Preview:
    """How many customers a condition selects, of how many, and a few of their ids."""
    parsed = parse_condition(condition)
    members = await members_query(
        session=session, shop_id=shop_id, condition=parsed, now=now or utcnow()
    )
    matching = (
        await session.execute(select(func.count()).select_from(members.subquery()))
    ).scalar_one()
    customers = (
        await session.execute(
            scoped(Customer, shop_id, func.count()).where(Customer.status == STATUS_ACTIVE)
        )
    ).scalar_one()
    sample = (
        (await session.execute(members.order_by(Customer.id.desc()).limit(SAMPLE_SIZE)))
        .scalars()
        .all()
    )
    return Preview(matching=matching, customers=customers, sample_ids=list(sample))


# --- rules --------------------------------------------------------------------------------------


async def list_rules(*, session: AsyncSession, shop_id: int) -> list[TagRule]:
    statement = scoped(TagRule, shop_id).order_by(TagRule.name, TagRule.id)
    return list((await session.execute(statement)).scalars())


async def get_rule(*, session: AsyncSession, shop_id: int, rule_id: int) -> TagRule:
    return await get_scoped(session, TagRule, shop_id=shop_id, record_id=rule_id, label="tag_rule")


async def _check_free(
    session: AsyncSession, shop_id: int, *, name: str | None, tag_id: int | None, rule_id: int = 0
) -> None:
    if name is not None:
        taken = scoped(TagRule, shop_id, TagRule.id).where(
            TagRule.name == name, TagRule.id != rule_id
        )
        if (await session.execute(taken)).first():
            raise Conflict(
                f"a tag rule named {name} already exists", code="tag_rule_exists", field="name"
            )
    if tag_id is not None:
        taken = scoped(TagRule, shop_id, TagRule.name).where(
            TagRule.tag_id == tag_id, TagRule.id != rule_id
        )
        other = (await session.execute(taken)).scalar_one_or_none()
        if other is not None:
            raise Conflict(
                f"tag {tag_id} is already applied by rule {other}; a tag follows one rule",
                code="tag_has_rule",
                field="tag_id",
            )


async def _check_not_everyone(
    session: AsyncSession, shop_id: int, condition: dict[str, Any], confirmed: bool
) -> None:
    preview = await preview_condition(session=session, shop_id=shop_id, condition=condition)
    if preview.matches_everyone and not confirmed:
        raise Conflict(
            f"this condition matches every customer ({preview.customers}); confirm to save "
            "a rule that tags everyone",
            code="rule_matches_everyone",
            field="condition",
        )


async def create_rule(*, session: AsyncSession, actor: Actor, data: TagRuleIn) -> TagRule:
    """A new rule (not applied yet: run it, or wait for the nightly run)."""
    condition = parse_condition(data.condition).to_json()
    tag = await tags_service.get_tag(session=session, shop_id=actor.shop_id, tag_id=data.tag_id)
    await _check_free(session, actor.shop_id, name=data.name, tag_id=tag.id)
    await _check_not_everyone(session, actor.shop_id, condition, data.confirm_all)
    rule = TagRule(
        shop_id=actor.shop_id,
        tag_id=tag.id,
        name=data.name,
        condition=condition,
        enabled=data.enabled,
        last_counts={},
        created_by=actor.label,
    )
    session.add(rule)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="tag_rule.create",
        target_type="tag_rule",
        target_id=rule.id,
        details={"name": rule.name, "tag_id": tag.id, "condition": condition},
    )
    return rule


async def update_rule(
    *, session: AsyncSession, actor: Actor, rule_id: int, data: TagRuleUpdate
) -> TagRule:
    rule = await get_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)
    await _check_free(session, actor.shop_id, name=data.name, tag_id=None, rule_id=rule.id)
    if data.condition is not None:
        condition = parse_condition(data.condition).to_json()
        await _check_not_everyone(session, actor.shop_id, condition, data.confirm_all)
        rule.condition = condition
    if data.name is not None:
        rule.name = data.name
    if data.enabled is not None:
        rule.enabled = data.enabled
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="tag_rule.update",
        target_type="tag_rule",
        target_id=rule.id,
        details=data.model_dump(exclude_unset=True, exclude={"confirm_all"}),
    )
    return rule


async def delete_rule(*, session: AsyncSession, actor: Actor, rule_id: int) -> int:
    """Delete the rule and the tags it applied (recorded); returns how many tags came off."""
    rule = await get_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)
    removed = await _remove_all(session, rule, now=utcnow(), reason=f"rule {rule.name} deleted")
    await session.delete(rule)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="tag_rule.delete",
        target_type="tag_rule",
        target_id=rule_id,
        details={"name": rule.name, "tag_id": rule.tag_id, "removed": removed},
    )
    return removed


# --- applying -----------------------------------------------------------------------------------

CHANGE_COLUMNS = ["shop_id", "customer_id", "tag_id", "rule_id", "action", "at", "reason"]
# The rule's own tag rows are read through an alias: a condition's sub-selects on customer_tags
# (a "tags" condition) must never be correlated with them.
RuleTag = aliased(CustomerTag, name="rule_tag")


def _change_rows(
    rule: TagRule, customer_id: Any, ids: Select[Any], action: str, now: dt.datetime, reason: str
) -> Any:
    return ids.with_only_columns(
        literal(rule.shop_id),
        customer_id,
        literal(rule.tag_id),
        literal(rule.id),
        literal(action),
        at(now),
        literal(reason[:200]),
    )


async def _record(
    session: AsyncSession,
    rule: TagRule,
    customer_id: Any,
    ids: Select[Any],
    action: str,
    now: dt.datetime,
    reason: str,
) -> int:
    """Write one tag_changes row per customer `ids` selects; returns how many."""
    result = await session.execute(
        insert(TagChange).from_select(
            CHANGE_COLUMNS, _change_rows(rule, customer_id, ids, action, now, reason)
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _rule_tag_rows(rule: TagRule) -> Any:
    return and_(
        CustomerTag.shop_id == rule.shop_id,
        CustomerTag.tag_id == rule.tag_id,
        CustomerTag.source == RULE_SOURCE,
    )


async def _remove_all(
    session: AsyncSession, rule: TagRule, *, now: dt.datetime, reason: str
) -> int:
    """Record and take off every tag the rule applied (the rule is being deleted)."""
    leaving = _rule_tags(rule)
    if not await _record(session, rule, RuleTag.customer_id, leaving, ACTION_REMOVED, now, reason):
        return 0
    result = await session.execute(
        delete(CustomerTag).where(_rule_tag_rows(rule)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _rule_tags(rule: TagRule) -> Select[Any]:
    return select(RuleTag.customer_id).where(
        RuleTag.shop_id == rule.shop_id,
        RuleTag.tag_id == rule.tag_id,
        RuleTag.source == RULE_SOURCE,
    )


# The members of the rule being applied, evaluated once per run: the condition may be costly
# (grouped event counts), and newcomers, leavers and the count are then cheap set operations on
# it. A temporary table is private to the connection; it is emptied before and after each use.
RULE_MEMBERS = Table(
    "tag_rule_members",
    MetaData(),
    Column("customer_id", BigInteger, primary_key=True),
    prefixes=["TEMPORARY"],
)


async def _fill_rule_members(session: AsyncSession, members: Select[Any]) -> int:
    await session.execute(
        text(
            "CREATE TEMPORARY TABLE IF NOT EXISTS tag_rule_members (customer_id BIGINT PRIMARY KEY)"
        )
    )
    await session.execute(delete(RULE_MEMBERS))
    await segments_service.tune_for_segment_statements(session)
    inserted = await session.execute(insert(RULE_MEMBERS).from_select(["customer_id"], members))
    if dialect_of(session) == "postgresql":
        await session.execute(text("ANALYZE tag_rule_members"))  # a temp table has no statistics
    return int(inserted.rowcount or 0)  # type: ignore[attr-defined]


async def apply_rule(
    *,
    session: AsyncSession,
    shop_id: int,
    rule_id: int,
    now: dt.datetime | None = None,
    customer_ids: list[int] | None = None,
    timezone: str = "Asia/Shanghai",
) -> RuleRun:
    """Make the rule's tag match its condition: for every customer, or only `customer_ids`.

    The condition is evaluated once, into a temporary table of members; newcomers (members
    without the tag) and leavers (rule tags whose customer is no longer a member) come from it.
    Both are recorded in tag_changes first; customer_tags is then changed from the rows just
    recorded. A rerun over the same data changes nothing.
    """
    now = now or utcnow()
    rule = await get_rule(session=session, shop_id=shop_id, rule_id=rule_id)
    members = await members_query(
        session=session,
        shop_id=shop_id,
        condition=parse_condition(rule.condition),
        now=now,
        timezone=timezone,
    )
    if customer_ids is not None:
        members = members.where(Customer.id.in_(customer_ids))
    count = await _fill_rule_members(session, members)
    member = RULE_MEMBERS.c.customer_id
    lacking = select(member).where(
        ~exists().where(
            RuleTag.shop_id == shop_id, RuleTag.tag_id == rule.tag_id, RuleTag.customer_id == member
        )
    )
    leaving = _rule_tags(rule).where(RuleTag.customer_id.not_in(select(member)))
    if customer_ids is not None:
        leaving = leaving.where(RuleTag.customer_id.in_(customer_ids))
    reason = f"rule {rule.name}"
    # Recorded first, then applied from the same sets (customer_tags has not changed between).
    added = await _record(session, rule, member, lacking, ACTION_ADDED, now, reason)
    removed = await _record(
        session, rule, RuleTag.customer_id, leaving, ACTION_REMOVED, now,
        f"{reason}: no longer matches",
    )  # fmt: skip
    if added:
        await session.execute(
            insert(CustomerTag).from_select(
                ["shop_id", "customer_id", "tag_id", "source", "tagged_at", "tagged_by"],
                lacking.with_only_columns(
                    literal(shop_id),
                    member,
                    literal(rule.tag_id),
                    literal(RULE_SOURCE),
                    at(now),
                    literal(f"rule:{rule.id}"),
                ),
            )
        )
    if removed:
        taken_off = delete(CustomerTag).where(
            _rule_tag_rows(rule), CustomerTag.customer_id.not_in(select(member))
        )
        if customer_ids is not None:
            taken_off = taken_off.where(CustomerTag.customer_id.in_(customer_ids))
        await session.execute(taken_off.execution_options(synchronize_session=False))
    await session.execute(delete(RULE_MEMBERS))
    run = RuleRun(
        rule_id=rule.id,
        members=count,
        added=added,
        removed=removed,
    )
    if customer_ids is None:
        rule.last_run_at = now
        rule.last_counts = {"members": run.members, "added": run.added, "removed": run.removed}
    await session.flush()
    return run


async def evaluate_all_rules(
    *,
    session: AsyncSession,
    shop_id: int,
    now: dt.datetime | None = None,
    customer_ids: list[int] | None = None,
    timezone: str = "Asia/Shanghai",
) -> list[RuleRun]:
    """Apply every enabled rule of the shop (to everyone, or to `customer_ids`)."""
    now = now or utcnow()
    enabled = scoped(TagRule, shop_id, TagRule.id).where(TagRule.enabled.is_(True))
    runs = []
    for rule_id in (await session.execute(enabled.order_by(TagRule.id))).scalars():
        runs.append(
            await apply_rule(
                session=session,
                shop_id=shop_id,
                rule_id=rule_id,
                now=now,
                customer_ids=customer_ids,
                timezone=timezone,
            )
        )
    return runs


async def list_tag_changes(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int | None = None,
    rule_id: int | None = None,
    limit: int = 50,
) -> list[TagChange]:
    """Newest first; of one customer (its timeline) or one rule."""
    statement = scoped(TagChange, shop_id).order_by(TagChange.at.desc(), TagChange.id.desc())
    if customer_id is not None:
        statement = statement.where(TagChange.customer_id == customer_id)
    if rule_id is not None:
        statement = statement.where(TagChange.rule_id == rule_id)
    return list((await session.execute(statement.limit(min(max(limit, 1), 500)))).scalars())


async def tag_names(*, session: AsyncSession, shop_id: int) -> dict[int, str]:
    return {t.id: t.name for t in await tags_service.list_tags(session=session, shop_id=shop_id)}
