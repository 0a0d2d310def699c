"""Group buy campaigns and the shop's setting; reading groups and members, the share view and
the room message. Opening, joining and closing groups is `groups.py`; `service.py` is the
domain's one entry point."""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.groupbuy.models import (
    CampaignStatus,
    GroupBuyCampaign,
    GroupBuyGroup,
    GroupBuyMember,
    GroupBuySettings,
    MemberStatus,
)
from liveloop.commerce.groupbuy.schemas import CampaignCreate, CampaignUpdate, GroupSettingsIn
from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.live.outbox import send_after_commit
from liveloop.shops.service import Actor, record_audit

CODE_ALPHABET = string.ascii_letters + string.digits
SWEEP_BATCH = 200
ACTIVE_MEMBER = (MemberStatus.PENDING.value, MemberStatus.PAID.value)


def new_group_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))


def mask_name(name: str) -> str:
    """'张伟' -> '张**': enough for friends to recognise, never a full name or phone."""
    name = (name or "").strip()
    return f"{name[0]}**" if name else "**"


def format_fen(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


# ------------------------------------------------------------------------------------ settings


async def get_settings(*, session: AsyncSession, shop_id: int) -> GroupBuySettings:
    found = (await session.execute(scoped(GroupBuySettings, shop_id))).scalar_one_or_none()
    return found or GroupBuySettings(shop_id=shop_id, simulate_group=False)


async def update_settings(
    *, session: AsyncSession, actor: Actor, data: GroupSettingsIn
) -> GroupBuySettings:
    found = (await session.execute(scoped(GroupBuySettings, actor.shop_id))).scalar_one_or_none()
    if found is None:
        found = GroupBuySettings(shop_id=actor.shop_id)
        session.add(found)
    found.simulate_group = data.simulate_group
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="group_buy.settings",
        target_type="shop",
        target_id=actor.shop_id,
        details=data.model_dump(),
    )
    return found


# ----------------------------------------------------------------------------------- campaigns


async def create_campaign(
    *, session: AsyncSession, actor: Actor, data: CampaignCreate
) -> GroupBuyCampaign:
    from liveloop.catalog import service as catalog_service

    sku = await catalog_service.get_sku(session=session, shop_id=actor.shop_id, sku_id=data.sku_id)
    if data.group_price_fen >= sku.price_fen:
        raise InvalidInput(
            f"the group price {format_fen(data.group_price_fen)} must be below the SKU's price "
            f"{format_fen(sku.price_fen)}",
            code="group_price_not_lower",
            field="group_price_fen",
        )
    if data.live_session_id is not None:
        from liveloop.live.models import LiveSession

        await get_scoped(
            session,
            LiveSession,
            shop_id=actor.shop_id,
            record_id=data.live_session_id,
            label="live_session",
        )
    campaign = GroupBuyCampaign(
        shop_id=actor.shop_id, product_id=sku.product_id, **data.model_dump()
    )
    session.add(campaign)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="group_buy.create",
        target_type="group_buy_campaign",
        target_id=campaign.id,
        details={"title": data.title, "group_price_fen": data.group_price_fen},
    )
    return campaign


async def get_campaign(
    *, session: AsyncSession, shop_id: int, campaign_id: int
) -> GroupBuyCampaign:
    return await get_scoped(
        session,
        GroupBuyCampaign,
        shop_id=shop_id,
        record_id=campaign_id,
        label="group_buy_campaign",
    )


async def update_campaign(
    *, session: AsyncSession, actor: Actor, campaign_id: int, data: CampaignUpdate
) -> GroupBuyCampaign:
    campaign = await get_campaign(session=session, shop_id=actor.shop_id, campaign_id=campaign_id)
    changes = data.model_dump(exclude_unset=True)
    if (
        "ends_at" in changes
        and changes["ends_at"] is not None
        and changes["ends_at"].tzinfo is None
    ):
        raise InvalidInput("ends_at needs a time zone", field="ends_at")
    for name, value in changes.items():
        if value is not None or name == "ends_at":
            setattr(campaign, name, value)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="group_buy.update",
        target_type="group_buy_campaign",
        target_id=campaign.id,
        details={k: str(v) for k, v in changes.items()},
    )
    return campaign


async def end_campaign(
    *, session: AsyncSession, actor: Actor, campaign_id: int
) -> GroupBuyCampaign:
    """No new groups; groups already open run to their deadline."""
    campaign = await get_campaign(session=session, shop_id=actor.shop_id, campaign_id=campaign_id)
    campaign.status = CampaignStatus.ENDED.value
    await session.flush()
    from liveloop.commerce.groupbuy.room import announce_withdrawn

    announce_withdrawn(session, campaign)
    await record_audit(
        session=session,
        actor=actor,
        action="group_buy.end",
        target_type="group_buy_campaign",
        target_id=campaign.id,
    )
    return campaign


def campaigns_query(*, shop_id: int, status: str | None = None) -> Any:
    statement = scoped(GroupBuyCampaign, shop_id).order_by(GroupBuyCampaign.id.desc())
    if status:
        statement = statement.where(GroupBuyCampaign.status == status)
    return statement


def groups_query(*, shop_id: int, campaign_id: int | None = None, status: str | None = None) -> Any:
    statement = scoped(GroupBuyGroup, shop_id).order_by(GroupBuyGroup.id.desc())
    if campaign_id is not None:
        statement = statement.where(GroupBuyGroup.campaign_id == campaign_id)
    if status:
        statement = statement.where(GroupBuyGroup.status == status)
    return statement


async def open_campaigns(
    *, session: AsyncSession, shop_id: int, live_session_id: int | None = None
) -> Sequence[GroupBuyCampaign]:
    """Active campaigns inside their window now (of one live session when given)."""
    now = utcnow()
    statement = (
        scoped(GroupBuyCampaign, shop_id)
        .where(
            GroupBuyCampaign.status == CampaignStatus.ACTIVE.value,
            (GroupBuyCampaign.starts_at.is_(None)) | (GroupBuyCampaign.starts_at <= now),
            (GroupBuyCampaign.ends_at.is_(None)) | (GroupBuyCampaign.ends_at > now),
        )
        .order_by(GroupBuyCampaign.id.desc())
        .limit(50)
    )
    if live_session_id is not None:
        statement = statement.where(GroupBuyCampaign.live_session_id == live_session_id)
    return (await session.execute(statement)).scalars().all()


def check_campaign_open(campaign: GroupBuyCampaign, now: dt.datetime) -> None:
    if campaign.status != CampaignStatus.ACTIVE.value:
        raise Conflict(
            f"group buy {campaign.title} has ended", code="campaign_ended", field="campaign_id"
        )
    if campaign.starts_at and now < campaign.starts_at:
        raise Conflict(
            f"group buy {campaign.title} starts at {campaign.starts_at.isoformat()}",
            code="campaign_not_started",
            field="campaign_id",
        )
    if campaign.ends_at and now >= campaign.ends_at:
        raise Conflict(
            f"group buy {campaign.title} ended at {campaign.ends_at.isoformat()}",
            code="campaign_ended",
            field="campaign_id",
        )


# -------------------------------------------------------------------------------------- groups


async def get_group(*, session: AsyncSession, shop_id: int, group_id: int) -> GroupBuyGroup:
    return await get_scoped(
        session, GroupBuyGroup, shop_id=shop_id, record_id=group_id, label="group_buy_group"
    )


async def get_group_by_code(*, session: AsyncSession, shop_id: int, code: str) -> GroupBuyGroup:
    statement = scoped(GroupBuyGroup, shop_id).where(GroupBuyGroup.code == code)
    group = (await session.execute(statement)).scalar_one_or_none()
    if group is None:
        raise NotFound(
            f"group {code} was not found", code="group_buy_group_not_found", field="code"
        )
    return group


async def find_group_shop(*, session: AsyncSession, code: str) -> int | None:
    """The shop a share code belongs to (the public /group/{code} page has no shop yet)."""
    return (
        await session.execute(select(GroupBuyGroup.shop_id).where(GroupBuyGroup.code == code))
    ).scalar_one_or_none()


async def list_members(
    *, session: AsyncSession, shop_id: int, group_id: int, active_only: bool = False
) -> Sequence[GroupBuyMember]:
    statement = scoped(GroupBuyMember, shop_id).where(GroupBuyMember.group_id == group_id)
    if active_only:
        statement = statement.where(GroupBuyMember.status.in_(ACTIVE_MEMBER))
    return (await session.execute(statement.order_by(GroupBuyMember.id))).scalars().all()


# ------------------------------------------------------------------------------- views, room


async def group_view(*, session: AsyncSession, group: GroupBuyGroup) -> dict[str, Any]:
    campaign = await get_campaign(
        session=session, shop_id=group.shop_id, campaign_id=group.campaign_id
    )
    members = await list_members(session=session, shop_id=group.shop_id, group_id=group.id)
    return {
        **{
            name: getattr(group, name)
            for name in (
                "id",
                "code",
                "campaign_id",
                "group_size",
                "seats_taken",
                "paid_count",
                "status",
                "simulated",
                "expires_at",
                "confirmed_at",
                "failed_at",
            )
        },
        "title": campaign.title,
        "product_id": campaign.product_id,
        "sku_id": campaign.sku_id,
        "group_price_fen": campaign.group_price_fen,
        "seats_left": max(group.group_size - group.seats_taken, 0),
        "members": [
            {
                "name": m.display_name or "**",
                "is_leader": m.is_leader,
                "status": m.status,
                "quantity": m.quantity,
                "paid_at": m.paid_at,
            }
            for m in members
        ],
    }


def announce(
    session: AsyncSession, campaign: GroupBuyCampaign, group: GroupBuyGroup, *, event: str
) -> None:
    if campaign.live_session_id is None:
        return
    send_after_commit(
        session,
        live_session_id=campaign.live_session_id,
        message={
            "type": "group_buy",
            "event": event,
            "group": {
                "code": group.code,
                "campaign_id": campaign.id,
                "title": campaign.title,
                "product_id": campaign.product_id,
                "group_price_fen": campaign.group_price_fen,
                "group_size": group.group_size,
                "seats_taken": group.seats_taken,
                "paid": group.paid_count,
                "status": group.status,
                "expires_at": group.expires_at.isoformat(),
            },
        },
    )
