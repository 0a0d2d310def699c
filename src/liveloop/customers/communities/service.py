"""Communities (社群): define groups, join and leave (history kept), health figures, group tiers.

A stay is one `community_members` row: joining adds a row, leaving sets its `left_at`, a
rejoin adds a new row, so the join history is never rewritten. Joins lock the community row
(`SELECT ... FOR UPDATE`) before counting, so two concurrent joins never push a group past its
capacity, and a current member joining again gets their existing stay back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Page, get_scoped, paginate, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers import service as customers_service
from liveloop.customers.communities.models import (
    Community,
    CommunityMember,
    CommunityPromotion,
    CommunityPromotionRule,
)
from liveloop.customers.communities.schemas import CommunityIn, CommunityUpdate, PromotionRuleIn
from liveloop.customers.models import Customer

MEMBER_SOURCES = (
    "manual", "import", "channel_code", "join_link", "live_welfare", "fission", "promotion",
)  # fmt: skip
# Events a channel reports for a message posted in a group: properties {"community_id": id}.
MESSAGE_EVENT = "community_message"


# ------------------------------------------------------------------------------ define


async def get_community(*, session: AsyncSession, shop_id: int, community_id: int) -> Community:
    return await get_scoped(
        session, Community, shop_id=shop_id, record_id=community_id, label="community"
    )


async def get_community_by_external_id(
    *, session: AsyncSession, shop_id: int, external_id: str
) -> Community:
    found = (
        await session.execute(
            scoped(Community, shop_id)
            .where(Community.external_id == external_id)
            .order_by(Community.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(
            f"no community has external id {external_id!r}",
            code="community_not_found",
            field="external_id",
        )
    return found


async def list_communities(
    *, session: AsyncSession, shop_id: int, include_archived: bool = False
) -> list[Community]:
    statement = scoped(Community, shop_id).order_by(Community.tier_level, Community.id)
    if not include_archived:
        statement = statement.where(Community.archived_at.is_(None))
    return list((await session.execute(statement)).scalars())


async def _check_owner(session: AsyncSession, shop_id: int, staff_id: int | None) -> None:
    if staff_id is None:
        return
    from liveloop.shops.models import Staff

    await get_scoped(session, Staff, shop_id=shop_id, record_id=staff_id, label="staff")


async def create_community(*, session: AsyncSession, shop_id: int, data: CommunityIn) -> Community:
    await _check_owner(session, shop_id, data.owner_staff_id)
    community = Community(shop_id=shop_id, **data.model_dump())
    session.add(community)
    await session.flush()
    return community


async def update_community(
    *, session: AsyncSession, shop_id: int, community_id: int, data: CommunityUpdate
) -> Community:
    community = await get_community(session=session, shop_id=shop_id, community_id=community_id)
    changes = data.model_dump(exclude_unset=True)
    if "owner_staff_id" in changes:
        await _check_owner(session, shop_id, changes["owner_staff_id"])
    if "capacity" in changes:
        members = (await member_counts(session=session, shop_id=shop_id, ids=[community.id])).get(
            community.id, 0
        )
        if changes["capacity"] < members:
            raise InvalidInput(
                f"{community.name} has {members} members now; capacity cannot go below that",
                code="below_members",
                field="capacity",
            )
    for name, value in changes.items():
        if name in ("name", "kind", "channel", "capacity", "tier_level") and value is None:
            continue
        setattr(community, name, value)
    await session.flush()
    return community


async def archive_community(
    *, session: AsyncSession, shop_id: int, community_id: int, archived: bool = True
) -> Community:
    """Archived groups leave the lists and take no joins; their history stays."""
    community = await get_community(session=session, shop_id=shop_id, community_id=community_id)
    community.archived_at = utcnow() if archived else None
    await session.flush()
    return community


# ----------------------------------------------------------------------------- members


async def _lock_community(session: AsyncSession, shop_id: int, community_id: int) -> Community:
    community = (
        await session.execute(
            scoped(Community, shop_id)
            .where(Community.id == community_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if community is None:
        raise NotFound(
            f"community {community_id} was not found", code="community_not_found", field="id"
        )
    return community


async def current_stay(
    *, session: AsyncSession, shop_id: int, community_id: int, customer_id: int
) -> CommunityMember | None:
    return (
        await session.execute(
            scoped(CommunityMember, shop_id)
            .where(
                CommunityMember.community_id == community_id,
                CommunityMember.customer_id == customer_id,
                CommunityMember.left_at.is_(None),
            )
            .order_by(CommunityMember.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def join_community(
    *,
    session: AsyncSession,
    shop_id: int,
    community_id: int,
    customer_id: int,
    source: str,
    live_session_id: int | None = None,
    trigger: str | None = None,
    joined_at: dt.datetime | None = None,
    enforce_capacity: bool = True,
) -> CommunityMember:
    """Add a customer to a community; a current member gets their existing stay back.

    Refused: an archived community (409 community_archived), a full one (409 community_full),
    an unknown source (422). A channel reporting a join that already happened (a WeCom group
    event) passes `enforce_capacity=False`: the record follows the real group."""
    if source not in MEMBER_SOURCES:
        raise InvalidInput(
            f"unknown join source {source!r}; use one of {', '.join(MEMBER_SOURCES)}",
            code="invalid_source",
            field="source",
        )
    await customers_service.get_active_customer(
        session=session, shop_id=shop_id, customer_id=customer_id
    )
    community = await _lock_community(session, shop_id, community_id)
    existing = await current_stay(
        session=session, shop_id=shop_id, community_id=community_id, customer_id=customer_id
    )
    if existing is not None:
        return existing
    if community.archived_at is not None:
        raise Conflict(
            f"community {community.name} is archived; restore it before adding members",
            code="community_archived",
            field="community_id",
        )
    members = (await member_counts(session=session, shop_id=shop_id, ids=[community_id])).get(
        community_id, 0
    )
    if enforce_capacity and members >= community.capacity:
        raise Conflict(
            f"community {community.name} is full ({members} of {community.capacity} members); "
            "raise its capacity or open another group",
            code="community_full",
            field="community_id",
        )
    stay = CommunityMember(
        shop_id=shop_id,
        community_id=community_id,
        customer_id=customer_id,
        joined_at=joined_at or utcnow(),
        source=source,
        live_session_id=live_session_id,
        trigger=trigger,
    )
    session.add(stay)
    await session.flush()
    return stay


async def leave_community(
    *,
    session: AsyncSession,
    shop_id: int,
    community_id: int,
    customer_id: int,
    left_at: dt.datetime | None = None,
) -> CommunityMember | None:
    """End the customer's current stay; None when they were not a member."""
    await get_community(session=session, shop_id=shop_id, community_id=community_id)
    stay = await current_stay(
        session=session, shop_id=shop_id, community_id=community_id, customer_id=customer_id
    )
    if stay is None:
        return None
    # Conditional: a concurrent leave of the same stay changes nothing more.
    await session.execute(
        update(CommunityMember)
        .where(CommunityMember.id == stay.id, CommunityMember.left_at.is_(None))
        .values(left_at=left_at or utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(stay)
    return stay


async def remove_member(
    *, session: AsyncSession, shop_id: int, community_id: int, member_id: int
) -> CommunityMember:
    """The console's "remove": ends this stay (its row stays as history)."""
    stay = await get_scoped(
        session, CommunityMember, shop_id=shop_id, record_id=member_id, label="member"
    )
    if stay.community_id != community_id:
        raise NotFound(f"member {member_id} was not found", code="member_not_found", field="id")
    if stay.left_at is None:
        stay.left_at = utcnow()
        await session.flush()
    return stay


async def list_members(
    *,
    session: AsyncSession,
    shop_id: int,
    community_id: int,
    current_only: bool = True,
    page: int = 1,
    per_page: int = 50,
) -> Page[CommunityMember]:
    await get_community(session=session, shop_id=shop_id, community_id=community_id)
    statement = (
        scoped(CommunityMember, shop_id)
        .where(CommunityMember.community_id == community_id)
        .order_by(CommunityMember.joined_at.desc(), CommunityMember.id.desc())
    )
    if current_only:
        statement = statement.where(CommunityMember.left_at.is_(None))
    return await paginate(session, statement, page=page, per_page=per_page)


async def customer_names(
    *, session: AsyncSession, shop_id: int, customer_ids: Iterable[int]
) -> dict[int, str | None]:
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    rows = await session.execute(
        scoped(Customer, shop_id, Customer.id, Customer.display_name).where(Customer.id.in_(ids))
    )
    return {row[0]: row[1] for row in rows}


async def customer_communities(
    *, session: AsyncSession, shop_id: int, customer_id: int
) -> list[tuple[CommunityMember, Community]]:
    """Every stay of the customer (current first, then by join time), with its community."""
    rows = await session.execute(
        select(CommunityMember, Community)
        .join(Community, Community.id == CommunityMember.community_id)
        .where(CommunityMember.shop_id == shop_id, CommunityMember.customer_id == customer_id)
        .order_by(CommunityMember.left_at.is_not(None), CommunityMember.joined_at.desc())
    )
    return [(row[0], row[1]) for row in rows]


async def member_counts(
    *, session: AsyncSession, shop_id: int, ids: Sequence[int] | None = None
) -> dict[int, int]:
    statement = (
        scoped(CommunityMember, shop_id, CommunityMember.community_id, func.count())
        .where(CommunityMember.left_at.is_(None))
        .group_by(CommunityMember.community_id)
    )
    if ids is not None:
        statement = statement.where(CommunityMember.community_id.in_(ids))
    return {row[0]: row[1] for row in await session.execute(statement)}


# ------------------------------------------------------------------------------ health


@dataclass
class Health:
    members: int = 0
    joins_7d: int = 0
    joins_30d: int = 0
    leaves_7d: int = 0
    leaves_30d: int = 0
    active_7d: int = 0
    messages_7d: int = 0
    orders: int = 0
    gmv_fen: int = 0


async def community_health(
    *,
    session: AsyncSession,
    shop_id: int,
    community_ids: Sequence[int] | None = None,
    now: dt.datetime | None = None,
) -> dict[int, Health]:
    """Health figures of the shop's communities: five grouped queries, whatever their size.

    - members: current members; joins/leaves: stays that began/ended in the last 7/30 days;
    - active_7d: current members with any event in the last 7 days;
    - messages_7d: `community_message` events naming the community in the last 7 days;
    - orders / gmv_fen: paid orders of members while they were in the group (paid after the
      stay began and before it ended), GMV net of refunds.
    """
    from liveloop.commerce.models import Order
    from liveloop.events.models import Event

    now = now or utcnow()
    week, month = now - dt.timedelta(days=7), now - dt.timedelta(days=30)
    member = CommunityMember
    wanted = (
        list(community_ids)
        if community_ids is not None
        else [c.id for c in await list_communities(session=session, shop_id=shop_id)]
    )
    figures = {community_id: Health() for community_id in wanted}
    if not wanted:
        return figures

    def counted(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    stays = await session.execute(
        scoped(
            member,
            shop_id,
            member.community_id,
            counted(member.left_at.is_(None)),
            counted(member.joined_at >= week),
            counted(member.joined_at >= month),
            counted(member.left_at >= week),
            counted(member.left_at >= month),
        )
        .where(member.community_id.in_(wanted))
        .group_by(member.community_id)
    )
    for row in stays:
        health = figures[row[0]]
        (health.members, health.joins_7d, health.joins_30d, health.leaves_7d,
         health.leaves_30d) = (int(v) for v in row[1:])  # fmt: skip

    active_customer = (
        select(Event.id)
        .where(
            Event.shop_id == shop_id,
            Event.customer_id == member.customer_id,
            Event.occurred_at >= week,
        )
        .exists()
    )
    active = await session.execute(
        scoped(member, shop_id, member.community_id, func.count(func.distinct(member.customer_id)))
        .where(member.community_id.in_(wanted), member.left_at.is_(None), active_customer)
        .group_by(member.community_id)
    )
    for community_id, count in active:
        figures[community_id].active_7d = int(count)

    # Read as text and matched here: an integrator's malformed community_id (not a number)
    # must not break the figures with a cast error.
    named = Event.properties["community_id"].as_string()
    messages = await session.execute(
        select(named, func.count())
        .where(Event.shop_id == shop_id, Event.type == MESSAGE_EVENT, Event.occurred_at >= week)
        .group_by(named)
    )
    by_text = {str(community_id): community_id for community_id in wanted}
    for named_value, count in messages:
        community_id = by_text.get(str(named_value))
        if community_id is not None:
            figures[community_id].messages_7d += int(count)

    orders = await session.execute(
        select(
            member.community_id,
            func.count(func.distinct(Order.id)),
            func.coalesce(func.sum(Order.paid_fen - Order.refunded_fen), 0),
        )
        .join(
            Order,
            and_(
                Order.shop_id == member.shop_id,
                Order.customer_id == member.customer_id,
                Order.paid_at.is_not(None),
                Order.paid_at >= member.joined_at,
                or_(member.left_at.is_(None), Order.paid_at < member.left_at),
            ),
        )
        .where(member.shop_id == shop_id, member.community_id.in_(wanted))
        .group_by(member.community_id)
    )
    for community_id, count, gmv in orders:
        figures[community_id].orders, figures[community_id].gmv_fen = int(count), int(gmv)
    return figures


# ------------------------------------------------------------------------ group tiers


async def list_promotion_rules(
    *, session: AsyncSession, shop_id: int
) -> list[CommunityPromotionRule]:
    statement = scoped(CommunityPromotionRule, shop_id).order_by(CommunityPromotionRule.id)
    return list((await session.execute(statement)).scalars())


async def create_promotion_rule(
    *, session: AsyncSession, shop_id: int, data: PromotionRuleIn
) -> CommunityPromotionRule:
    lower = await get_community(
        session=session, shop_id=shop_id, community_id=data.from_community_id
    )
    higher = await get_community(
        session=session, shop_id=shop_id, community_id=data.to_community_id
    )
    if higher.tier_level <= lower.tier_level:
        raise InvalidInput(
            f"{higher.name} (tier {higher.tier_level}) must have a higher tier level than "
            f"{lower.name} (tier {lower.tier_level}) to promote into it",
            code="not_a_higher_tier",
            field="to_community_id",
        )
    rule = CommunityPromotionRule(shop_id=shop_id, **data.model_dump())
    session.add(rule)
    await session.flush()
    return rule


async def delete_promotion_rule(*, session: AsyncSession, shop_id: int, rule_id: int) -> None:
    rule = await get_scoped(
        session, CommunityPromotionRule, shop_id=shop_id, record_id=rule_id, label="rule"
    )
    await session.delete(rule)
    await session.flush()


async def eligible_for_promotion(
    *, session: AsyncSession, rule: CommunityPromotionRule, now: dt.datetime
) -> list[int]:
    """Current members of the lower group with enough paid orders in the window, not yet
    promoted by this rule: one query."""
    from liveloop.commerce.models import Order

    since = now - dt.timedelta(days=rule.window_days)
    paid = (
        select(func.count(Order.id))
        .where(
            Order.shop_id == rule.shop_id,
            Order.customer_id == CommunityMember.customer_id,
            Order.paid_at.is_not(None),
            Order.paid_at >= since,
            Order.paid_fen > Order.refunded_fen,
        )
        .scalar_subquery()
    )
    promoted = (
        select(CommunityPromotion.id)
        .where(
            CommunityPromotion.rule_id == rule.id,
            CommunityPromotion.customer_id == CommunityMember.customer_id,
        )
        .exists()
    )
    rows = await session.execute(
        scoped(CommunityMember, rule.shop_id, CommunityMember.customer_id)
        .where(
            CommunityMember.community_id == rule.from_community_id,
            CommunityMember.left_at.is_(None),
            paid >= rule.min_paid_orders,
            ~promoted,
        )
        .distinct()
        .order_by(CommunityMember.customer_id)
    )
    return [row[0] for row in rows]


async def run_promotion_rule(
    *, session: AsyncSession, shop_id: int, rule_id: int, now: dt.datetime | None = None
) -> int:
    """Promote every eligible member once; returns how many were promoted this run.

    Idempotent: a promotion is recorded per (rule, customer), so a rerun finds nobody new.
    When the higher group is full, the rest wait for the next run."""
    rule = await get_scoped(
        session, CommunityPromotionRule, shop_id=shop_id, record_id=rule_id, label="rule"
    )
    if not rule.is_active:
        return 0
    now = now or utcnow()
    promoted = 0
    for customer_id in await eligible_for_promotion(session=session, rule=rule, now=now):
        try:
            async with session.begin_nested():
                stay = await join_community(
                    session=session,
                    shop_id=shop_id,
                    community_id=rule.to_community_id,
                    customer_id=customer_id,
                    source="promotion",
                    trigger=f"rule:{rule.id}",
                    joined_at=now,
                )
                session.add(
                    CommunityPromotion(
                        shop_id=shop_id,
                        rule_id=rule.id,
                        customer_id=customer_id,
                        member_id=stay.id,
                        promoted_at=now,
                    )
                )
                await session.flush()
                if rule.leave_from:
                    await leave_community(
                        session=session,
                        shop_id=shop_id,
                        community_id=rule.from_community_id,
                        customer_id=customer_id,
                        left_at=now,
                    )
        except Conflict as error:
            if error.code == "community_full":
                break
            continue
        except IntegrityError:
            continue  # another run promoted this customer meanwhile
        promoted += 1
    return promoted


async def active_rule_ids(*, session: AsyncSession) -> list[tuple[int, int]]:
    """(shop_id, rule_id) of every active rule of every shop, for the nightly job."""
    rows = await session.execute(
        select(CommunityPromotionRule.shop_id, CommunityPromotionRule.id)
        .where(CommunityPromotionRule.is_active.is_(True))
        .order_by(CommunityPromotionRule.id)
    )
    return [(row[0], row[1]) for row in rows]
