"""Opening and joining groups (the seat and the per-customer limit taken by conditional
UPDATEs), counting paid members from the order hooks, and the deadline: confirm, simulate, or
fail and refund. See `service.py` for the whole story."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
from liveloop.commerce.groupbuy.campaigns import (
    ACTIVE_MEMBER,
    SWEEP_BATCH,
    announce,
    check_campaign_open,
    get_campaign,
    get_group,
    get_group_by_code,
    get_settings,
    list_members,
    mask_name,
    new_group_code,
)
from liveloop.commerce.groupbuy.models import (
    GroupBuyCampaign,
    GroupBuyGroup,
    GroupBuyHolding,
    GroupBuyMember,
    GroupStatus,
    MemberStatus,
)
from liveloop.core.database import scoped, utcnow
from liveloop.core.errors import Conflict
from liveloop.shops.service import system_actor

log = structlog.get_logger(__name__)


async def _hold_units(
    session: AsyncSession, campaign: GroupBuyCampaign, customer_id: int, quantity: int
) -> None:
    """Take `quantity` of the customer's allowance in this campaign, or refuse with the
    numbers. One conditional UPDATE on the customer's holding row: two tabs racing cannot
    both pass the limit."""
    from liveloop.customers.service import insert_ignoring_duplicates

    await session.execute(
        insert_ignoring_duplicates(session, GroupBuyHolding.__table__).values(
            shop_id=campaign.shop_id, campaign_id=campaign.id, customer_id=customer_id, units=0
        )
    )
    taken = await session.execute(
        update(GroupBuyHolding)
        .where(
            GroupBuyHolding.campaign_id == campaign.id,
            GroupBuyHolding.customer_id == customer_id,
            GroupBuyHolding.units + quantity <= campaign.per_customer_limit,
        )
        .values(units=GroupBuyHolding.units + quantity)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount:  # type: ignore[attr-defined]
        return
    held = (
        await session.execute(
            select(GroupBuyHolding.units).where(
                GroupBuyHolding.campaign_id == campaign.id,
                GroupBuyHolding.customer_id == customer_id,
            )
        )
    ).scalar_one()
    raise Conflict(
        f"group buy {campaign.title} allows {campaign.per_customer_limit} per customer; you "
        f"already hold {held} and asked for {quantity}",
        code="group_limit_exceeded",
        field="quantity",
    )


async def _give_units_back(session: AsyncSession, member: GroupBuyMember) -> None:
    await session.execute(
        update(GroupBuyHolding)
        .where(
            GroupBuyHolding.campaign_id == member.campaign_id,
            GroupBuyHolding.customer_id == member.customer_id,
            GroupBuyHolding.units >= member.quantity,
        )
        .values(units=GroupBuyHolding.units - member.quantity)
        .execution_options(synchronize_session=False)
    )


@dataclass
class GroupPurchase:
    group: GroupBuyGroup
    member: GroupBuyMember
    order: Any


async def open_group(
    *,
    session: AsyncSession,
    shop_id: int,
    campaign_id: int,
    customer_id: int,
    address_id: int | None,
    quantity: int = 1,
    display_name: str = "",
    idempotency_key: str | None = None,
    source_code: str = "",
    share_code: str = "",
) -> GroupPurchase:
    """Open a group as its leader: the group, its first seat, and the leader's order."""
    now = utcnow()
    campaign = await get_campaign(session=session, shop_id=shop_id, campaign_id=campaign_id)
    check_campaign_open(campaign, now)
    await _hold_units(session, campaign, customer_id, quantity)
    group = GroupBuyGroup(
        shop_id=shop_id,
        campaign_id=campaign.id,
        code=new_group_code(),
        leader_customer_id=customer_id,
        group_size=campaign.group_size,
        seats_taken=1,
        expires_at=now + dt.timedelta(minutes=campaign.time_limit_minutes),
    )
    session.add(group)
    await session.flush()
    purchase = await _buy_seat(
        session,
        campaign,
        group,
        customer_id=customer_id,
        address_id=address_id,
        quantity=quantity,
        display_name=display_name,
        is_leader=True,
        idempotency_key=idempotency_key,
        source_code=source_code,
        share_code=share_code,
    )
    _schedule_close(session, group)
    announce(session, campaign, group, event="opened")
    return purchase


async def join_group(
    *,
    session: AsyncSession,
    shop_id: int,
    code: str,
    customer_id: int,
    address_id: int | None,
    quantity: int = 1,
    display_name: str = "",
    idempotency_key: str | None = None,
    source_code: str = "",
) -> GroupPurchase:
    """Take a seat in an open group; full, closed, expired, twice, over the limit: refused."""
    now = utcnow()
    group = await get_group_by_code(session=session, shop_id=shop_id, code=code)
    campaign = await get_campaign(session=session, shop_id=shop_id, campaign_id=group.campaign_id)
    mine = (
        await session.execute(
            scoped(GroupBuyMember, shop_id).where(
                GroupBuyMember.group_id == group.id,
                GroupBuyMember.customer_id == customer_id,
                GroupBuyMember.status.in_(ACTIVE_MEMBER),
            )
        )
    ).scalar_one_or_none()
    if mine is not None:
        raise Conflict(
            f"you are already in group {code}", code="group_already_joined", field="code"
        )
    _check_group_joinable(group, now)
    check_campaign_open(campaign, now)
    await _hold_units(session, campaign, customer_id, quantity)
    taken = await session.execute(
        update(GroupBuyGroup)
        .where(
            GroupBuyGroup.id == group.id,
            GroupBuyGroup.status == GroupStatus.OPEN.value,
            GroupBuyGroup.seats_taken < GroupBuyGroup.group_size,
            GroupBuyGroup.expires_at > now,
        )
        .values(seats_taken=GroupBuyGroup.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        await session.refresh(group)
        _check_group_joinable(group, now)
        raise Conflict(f"group {code} is full", code="group_full", field="code")
    await session.refresh(group)
    purchase = await _buy_seat(
        session,
        campaign,
        group,
        customer_id=customer_id,
        address_id=address_id,
        quantity=quantity,
        display_name=display_name,
        is_leader=False,
        idempotency_key=idempotency_key,
        source_code=source_code,
        share_code=group.code,
    )
    announce(session, campaign, group, event="joined")
    return purchase


def _check_group_joinable(group: GroupBuyGroup, now: dt.datetime) -> None:
    if group.status == GroupStatus.CONFIRMED.value:
        raise Conflict(
            f"group {group.code} is already complete; open a new group instead",
            code="group_full",
            field="code",
        )
    if group.status == GroupStatus.FAILED.value or group.expires_at <= now:
        raise Conflict(
            f"group {group.code} expired at {group.expires_at.isoformat()}; open a new group",
            code="group_expired",
            field="code",
        )
    if group.seats_taken >= group.group_size:
        raise Conflict(
            f"group {group.code} is full ({group.group_size} of {group.group_size} seats)",
            code="group_full",
            field="code",
        )


async def _buy_seat(
    session: AsyncSession,
    campaign: GroupBuyCampaign,
    group: GroupBuyGroup,
    *,
    customer_id: int,
    address_id: int | None,
    quantity: int,
    display_name: str,
    is_leader: bool,
    idempotency_key: str | None,
    source_code: str,
    share_code: str,
) -> GroupPurchase:
    from liveloop.commerce import orders as orders_service

    order = await orders_service.place_order(
        session=session,
        shop_id=campaign.shop_id,
        customer_id=customer_id,
        lines=[orders_service.LineRequest(sku_id=campaign.sku_id, quantity=quantity)],
        address_id=address_id,
        live_session_id=campaign.live_session_id,
        source_code=source_code,
        share_code=share_code,
        idempotency_key=idempotency_key,
        price_overrides={campaign.sku_id: campaign.group_price_fen},
        kind="group",
        attribution={
            "group_buy": {"campaign_id": campaign.id, "group_id": group.id, "code": group.code}
        },
    )
    member = GroupBuyMember(
        shop_id=campaign.shop_id,
        group_id=group.id,
        campaign_id=campaign.id,
        customer_id=customer_id,
        order_id=order.id,
        quantity=quantity,
        is_leader=is_leader,
        display_name=mask_name(display_name),
    )
    code = group.code  # read now: a rolled-back savepoint expires what it touched
    try:
        async with session.begin_nested():
            session.add(member)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            f"you are already in group {code}", code="group_already_joined", field="code"
        ) from None
    return GroupPurchase(group=group, member=member, order=order)


# ----------------------------------------------------------------------- order lifecycle hooks


async def _member_for(session: AsyncSession, order: Any) -> GroupBuyMember | None:
    if order.kind != "group":
        return None
    statement = scoped(GroupBuyMember, order.shop_id).where(GroupBuyMember.order_id == order.id)
    return (await session.execute(statement)).scalar_one_or_none()


@hooks.on("order_paid")
async def count_paid_member(*, session: AsyncSession, order: Any, **_: Any) -> None:
    member = await _member_for(session, order)
    if member is None:
        return
    now = utcnow()
    moved = await session.execute(
        update(GroupBuyMember)
        .where(GroupBuyMember.id == member.id, GroupBuyMember.status == MemberStatus.PENDING.value)
        .values(status=MemberStatus.PAID.value, paid_at=now)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        return  # counted already (a repeated notification), or cancelled with its group
    await session.refresh(member)
    group = await get_group(session=session, shop_id=order.shop_id, group_id=member.group_id)
    if group.status == GroupStatus.FAILED.value:
        # Paid after the group failed (a late notification): give the money back at once.
        await _refund_member(session, member, order, reason="group_failed")
        return
    await session.execute(
        update(GroupBuyGroup)
        .where(GroupBuyGroup.id == group.id)
        .values(paid_count=GroupBuyGroup.paid_count + 1)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(group)
    if group.status == GroupStatus.OPEN.value and group.paid_count >= group.group_size:
        await _confirm(session, group, simulated=False)
    elif group.status == GroupStatus.OPEN.value:
        await _announce_group(session, group, event="paid")  # the room card's progress


@hooks.on("order_released")
async def give_seat_back(*, session: AsyncSession, order: Any, **_: Any) -> None:
    """An unpaid seat whose order expired or was cancelled is free for someone else."""
    member = await _member_for(session, order)
    if member is None or member.status != MemberStatus.PENDING.value:
        return
    removed = await session.execute(
        delete(GroupBuyMember)
        .where(GroupBuyMember.id == member.id, GroupBuyMember.status == MemberStatus.PENDING.value)
        .execution_options(synchronize_session=False)
    )
    if not removed.rowcount:  # type: ignore[attr-defined]
        return
    await _give_units_back(session, member)
    session.expunge(member)
    freed = await session.execute(
        update(GroupBuyGroup)
        .where(
            GroupBuyGroup.id == member.group_id,
            GroupBuyGroup.status == GroupStatus.OPEN.value,
            GroupBuyGroup.seats_taken > 0,
        )
        .values(seats_taken=GroupBuyGroup.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )
    if freed.rowcount:  # type: ignore[attr-defined]
        group = await get_group(session=session, shop_id=order.shop_id, group_id=member.group_id)
        await session.refresh(group)
        await _announce_group(session, group, event="left")  # a seat to take again


async def _announce_group(session: AsyncSession, group: GroupBuyGroup, *, event: str) -> None:
    campaign = await get_campaign(
        session=session, shop_id=group.shop_id, campaign_id=group.campaign_id
    )
    announce(session, campaign, group, event=event)


async def group_of_order(
    *, session: AsyncSession, shop_id: int, order_id: int
) -> GroupBuyGroup | None:
    """The group an order belongs to (None for other orders): lets order pages show whether a
    group order may ship yet (only once its group is confirmed)."""
    statement = (
        scoped(GroupBuyGroup, shop_id)
        .join(GroupBuyMember, GroupBuyMember.group_id == GroupBuyGroup.id)
        .where(GroupBuyMember.order_id == order_id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


# --------------------------------------------------------------------------- deadline and close


async def _confirm(session: AsyncSession, group: GroupBuyGroup, *, simulated: bool) -> bool:
    now = utcnow()
    moved = await session.execute(
        update(GroupBuyGroup)
        .where(GroupBuyGroup.id == group.id, GroupBuyGroup.status == GroupStatus.OPEN.value)
        .values(status=GroupStatus.CONFIRMED.value, confirmed_at=now, simulated=simulated)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        return False
    await session.refresh(group)
    campaign = await get_campaign(
        session=session, shop_id=group.shop_id, campaign_id=group.campaign_id
    )
    announce(session, campaign, group, event="confirmed")
    log.info("group_confirmed", group_id=group.id, simulated=simulated)
    return True


async def close_group(
    *, session: AsyncSession, shop_id: int, group_id: int, now: dt.datetime | None = None
) -> str:
    """At or after the deadline: confirm (full, or simulated) or fail and refund. Returns the
    group's status; an early or repeated call changes nothing."""
    now = now or utcnow()
    group = await get_group(session=session, shop_id=shop_id, group_id=group_id)
    if group.status != GroupStatus.OPEN.value or group.expires_at > now:
        return group.status
    if group.paid_count >= group.group_size:
        await _confirm(session, group, simulated=False)
        return group.status
    settings = await get_settings(session=session, shop_id=shop_id)
    if settings.simulate_group and group.paid_count > 0:
        await _confirm(session, group, simulated=True)
        return group.status
    await _fail(session, group, now)
    return group.status


async def _fail(session: AsyncSession, group: GroupBuyGroup, now: dt.datetime) -> None:
    from liveloop.commerce import orders as orders_service

    moved = await session.execute(
        update(GroupBuyGroup)
        .where(GroupBuyGroup.id == group.id, GroupBuyGroup.status == GroupStatus.OPEN.value)
        .values(status=GroupStatus.FAILED.value, failed_at=now)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        return
    await session.refresh(group)
    actor = system_actor(group.shop_id, label="group buy")
    for member in await list_members(session=session, shop_id=group.shop_id, group_id=group.id):
        order = await orders_service.get_order(
            session=session, shop_id=group.shop_id, order_id=member.order_id
        )
        if member.status == MemberStatus.PAID.value:
            await _refund_member(session, member, order, reason="group_failed")
            await _give_units_back(session, member)
        elif member.status == MemberStatus.PENDING.value:
            # Marked first, so the release hook does not hand the seat back to a failed group.
            member.status = MemberStatus.CANCELLED.value
            await session.flush()
            await _give_units_back(session, member)
            if order.status == "pending_payment":
                await orders_service.cancel_order(
                    session=session,
                    shop_id=group.shop_id,
                    order_id=order.id,
                    reason=f"group {group.code} did not fill in time",
                    actor=actor,
                )
    campaign = await get_campaign(
        session=session, shop_id=group.shop_id, campaign_id=group.campaign_id
    )
    announce(session, campaign, group, event="failed")
    log.info("group_failed", group_id=group.id, paid=group.paid_count)


async def _refund_member(
    session: AsyncSession, member: GroupBuyMember, order: Any, *, reason: str
) -> None:
    from liveloop.commerce.payments import refunds as payments_refunds

    refundable = int(order.paid_fen) - int(order.refunded_fen)
    if refundable > 0:
        refund = await payments_refunds.create_refund(
            session=session,
            shop_id=member.shop_id,
            order_id=order.id,
            amount_fen=refundable,
            reason=reason,
            actor=system_actor(member.shop_id, label="group buy"),
            idempotency_key=f"group-refund-{member.id}",
        )
        member.refund_id = refund.id
    member.status = MemberStatus.REFUNDED.value
    await session.flush()


async def due_group_ids(
    *, session: AsyncSession, now: dt.datetime | None = None
) -> list[tuple[int, int]]:
    """(shop_id, group_id) of open groups past their deadline, oldest first."""
    now = now or utcnow()
    rows = await session.execute(
        select(GroupBuyGroup.shop_id, GroupBuyGroup.id)
        .where(GroupBuyGroup.status == GroupStatus.OPEN.value, GroupBuyGroup.expires_at <= now)
        .order_by(GroupBuyGroup.expires_at, GroupBuyGroup.id)
        .limit(SWEEP_BATCH)
    )
    return [(int(shop_id), int(group_id)) for shop_id, group_id in rows.all()]


def _schedule_close(session: AsyncSession, group: GroupBuyGroup) -> None:
    from liveloop.commerce.groupbuy import tasks
    from liveloop.core.jobs import enqueue_after_commit

    # A little slack: the job finds the group past its deadline despite small clock skew
    # between processes; the sweeper catches any job that was lost.
    enqueue_after_commit(
        session,
        tasks.close_group_at_deadline,
        eta=group.expires_at + dt.timedelta(seconds=5),
        shop_id=group.shop_id,
        group_id=group.id,
    )
