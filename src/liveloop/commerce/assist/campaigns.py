"""Assist campaigns, reading assists and helps, the abuse-list queries, expiry and the share
view. Starting and helping is `helps.py`; `service.py` is the domain's one entry point."""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.assist.models import (
    Assist,
    AssistCampaign,
    AssistCampaignStatus,
    AssistHelp,
    AssistRefusal,
    AssistStatus,
    RefusalReason,
    RewardKind,
)
from liveloop.commerce.assist.rules import price_after
from liveloop.commerce.assist.schemas import AssistCampaignCreate
from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.shops.service import Actor, record_audit

CODE_ALPHABET = string.ascii_letters + string.digits
EXPIRE_BATCH = 500

REFUSAL_MESSAGES = {
    RefusalReason.SELF_HELP: "you cannot help your own assist",
    RefusalReason.ALREADY_HELPED: "you already helped someone in this campaign (one help each)",
    RefusalReason.DEVICE_USED: "this device already helped in this campaign",
    RefusalReason.NOT_NEW_CUSTOMER: "this campaign takes help from new customers only",
    RefusalReason.HELPER_CAP: "this campaign has used all of its helps",
    RefusalReason.ASSIST_CLOSED: "this assist is complete or has expired",
    RefusalReason.NO_CUSTOMER: "sign in with your phone number to help",
}


def new_assist_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))


def mask_name(name: str) -> str:
    name = (name or "").strip()
    return f"{name[0]}**" if name else "**"


# ----------------------------------------------------------------------------------- campaigns


async def create_campaign(
    *, session: AsyncSession, actor: Actor, data: AssistCampaignCreate
) -> AssistCampaign:
    values = data.model_dump()
    product_id = None
    if data.reward_kind == RewardKind.PRICE_CUT.value:
        from liveloop.catalog import service as catalog_service

        assert data.sku_id is not None and data.target_price_fen is not None
        sku = await catalog_service.get_sku(
            session=session, shop_id=actor.shop_id, sku_id=data.sku_id
        )
        if data.target_price_fen >= sku.price_fen:
            raise InvalidInput(
                f"the target price ¥{data.target_price_fen / 100:.2f} must be below the SKU's "
                f"price ¥{sku.price_fen / 100:.2f}",
                code="target_price_not_lower",
                field="target_price_fen",
            )
        product_id = sku.product_id
        values["coupon_id"] = None
    else:
        from liveloop.commerce.coupons import service as coupons_service

        assert data.coupon_id is not None
        await coupons_service.get_coupon(
            session=session, shop_id=actor.shop_id, coupon_id=data.coupon_id
        )
        values.update(sku_id=None, target_price_fen=None)
    campaign = AssistCampaign(shop_id=actor.shop_id, product_id=product_id, **values)
    session.add(campaign)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="assist.create",
        target_type="assist_campaign",
        target_id=campaign.id,
        details={"title": data.title, "reward_kind": data.reward_kind},
    )
    return campaign


async def get_campaign(*, session: AsyncSession, shop_id: int, campaign_id: int) -> AssistCampaign:
    return await get_scoped(
        session, AssistCampaign, shop_id=shop_id, record_id=campaign_id, label="assist_campaign"
    )


async def end_campaign(*, session: AsyncSession, actor: Actor, campaign_id: int) -> AssistCampaign:
    campaign = await get_campaign(session=session, shop_id=actor.shop_id, campaign_id=campaign_id)
    campaign.status = AssistCampaignStatus.ENDED.value
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="assist.end",
        target_type="assist_campaign",
        target_id=campaign.id,
    )
    return campaign


def campaigns_query(*, shop_id: int) -> Any:
    return scoped(AssistCampaign, shop_id).order_by(AssistCampaign.id.desc())


def assists_query(*, shop_id: int, campaign_id: int, status: str | None = None) -> Any:
    statement = (
        scoped(Assist, shop_id).where(Assist.campaign_id == campaign_id).order_by(Assist.id.desc())
    )
    if status:
        statement = statement.where(Assist.status == status)
    return statement


def refusals_query(*, shop_id: int, campaign_id: int, reason: str | None = None) -> Any:
    statement = (
        scoped(AssistRefusal, shop_id)
        .where(AssistRefusal.campaign_id == campaign_id)
        .order_by(AssistRefusal.id.desc())
    )
    if reason:
        statement = statement.where(AssistRefusal.reason == reason)
    return statement


def check_campaign_open(campaign: AssistCampaign, now: dt.datetime) -> None:
    ended = campaign.status != AssistCampaignStatus.ACTIVE.value or (
        campaign.ends_at is not None and now >= campaign.ends_at
    )
    if ended:
        raise Conflict(
            f"assist {campaign.title} has ended", code="campaign_ended", field="campaign_id"
        )
    if campaign.starts_at and now < campaign.starts_at:
        raise Conflict(
            f"assist {campaign.title} starts at {campaign.starts_at.isoformat()}",
            code="campaign_not_started",
            field="campaign_id",
        )


async def get_assist_by_code(*, session: AsyncSession, shop_id: int, code: str) -> Assist:
    assist = (
        await session.execute(scoped(Assist, shop_id).where(Assist.code == code))
    ).scalar_one_or_none()
    if assist is None:
        raise NotFound(f"assist {code} was not found", code="assist_not_found", field="code")
    return assist


async def find_assist_shop(*, session: AsyncSession, code: str) -> int | None:
    return (
        await session.execute(select(Assist.shop_id).where(Assist.code == code))
    ).scalar_one_or_none()


async def list_helps(
    *, session: AsyncSession, shop_id: int, assist_id: int
) -> Sequence[AssistHelp]:
    statement = scoped(AssistHelp, shop_id).where(AssistHelp.assist_id == assist_id)
    return (await session.execute(statement.order_by(AssistHelp.id))).scalars().all()


async def expire_due_assists(*, session: AsyncSession, now: dt.datetime | None = None) -> int:
    now = now or utcnow()
    result = await session.execute(
        update(Assist)
        .where(Assist.status == AssistStatus.OPEN.value, Assist.expires_at <= now)
        .values(status=AssistStatus.EXPIRED.value)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def assist_view(*, session: AsyncSession, assist: Assist) -> dict[str, Any]:
    campaign = await get_campaign(
        session=session, shop_id=assist.shop_id, campaign_id=assist.campaign_id
    )
    helps = await list_helps(session=session, shop_id=assist.shop_id, assist_id=assist.id)
    status = assist.status
    if status == AssistStatus.OPEN.value and assist.expires_at <= utcnow():
        status = AssistStatus.EXPIRED.value
    current = None
    if assist.start_price_fen is not None and assist.target_price_fen is not None:
        current = price_after(
            start_fen=assist.start_price_fen,
            target_fen=assist.target_price_fen,
            helpers_needed=assist.helpers_needed,
            helpers=assist.helpers_count,
        )
    return {
        "code": assist.code,
        "campaign_id": campaign.id,
        "title": campaign.title,
        "reward_kind": campaign.reward_kind,
        "owner_name": assist.display_name,
        "helpers_needed": assist.helpers_needed,
        "helpers_count": assist.helpers_count,
        "start_price_fen": assist.start_price_fen,
        "target_price_fen": assist.target_price_fen,
        "current_price_fen": current,
        "status": status,
        "expires_at": assist.expires_at,
        "completed_at": assist.completed_at,
        "rewarded": assist.reward_granted_at is not None,
        "order_id": assist.order_id,
        "helpers": [
            {"name": h.display_name, "cut_fen": h.cut_fen, "at": h.created_at} for h in helps
        ],
    }
