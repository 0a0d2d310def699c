"""Assist (助力): a customer starts an assist on a campaign and shares /assist/{code}; each
distinct helper moves them toward the reward (a price cut to a target price, or a coupon).

Abuse limits, each refused attempt recorded with its reason (the console's abuse list):
no self-help (same customer or the owner's own device), one help per customer and one per
device in a campaign (unique constraints, so they hold under races), the campaign's cap on helps
(a conditional UPDATE), and optionally new customers only — a helper whose customer record was
created before the assist started is not new. The reward is granted once: a conditional UPDATE
on reward_granted_at decides who grants it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
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
from liveloop.commerce.assist.rules import cut_for_helper, price_after
from liveloop.commerce.assist.schemas import AssistCampaignCreate
from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.shops.service import Actor, record_audit

log = structlog.get_logger(__name__)

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


# ------------------------------------------------------------------------------------- assists


async def start_assist(
    *,
    session: AsyncSession,
    shop_id: int,
    campaign_id: int,
    customer_id: int,
    device_id: str,
    display_name: str = "",
) -> Assist:
    """The customer's assist on this campaign (one each: a repeat returns the same one)."""
    now = utcnow()
    campaign = await get_campaign(session=session, shop_id=shop_id, campaign_id=campaign_id)
    existing = (
        await session.execute(
            scoped(Assist, shop_id).where(
                Assist.campaign_id == campaign.id, Assist.customer_id == customer_id
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    _check_campaign_open(campaign, now)
    start_price = None
    if campaign.reward_kind == RewardKind.PRICE_CUT.value:
        from liveloop.catalog import service as catalog_service

        assert campaign.sku_id is not None
        sku = await catalog_service.get_sku(
            session=session, shop_id=shop_id, sku_id=campaign.sku_id
        )
        start_price = sku.price_fen
    assist = Assist(
        shop_id=shop_id,
        campaign_id=campaign.id,
        code=new_assist_code(),
        customer_id=customer_id,
        device_id=device_id[:64],
        display_name=mask_name(display_name),
        helpers_needed=campaign.helpers_needed,
        start_price_fen=start_price,
        target_price_fen=campaign.target_price_fen,
        expires_at=now + dt.timedelta(minutes=campaign.time_limit_minutes),
    )
    try:
        async with session.begin_nested():
            session.add(assist)
            await session.flush()
    except IntegrityError:  # the same customer started it twice at once: return the first
        return (
            await session.execute(
                scoped(Assist, shop_id).where(
                    Assist.campaign_id == campaign.id, Assist.customer_id == customer_id
                )
            )
        ).scalar_one()
    return assist


def _check_campaign_open(campaign: AssistCampaign, now: dt.datetime) -> None:
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


@dataclass
class HelpOutcome:
    accepted: bool
    reason: str  # "helped" or a RefusalReason
    message: str
    cut_fen: int
    assist: Assist


class _Refused(Exception):
    def __init__(self, reason: RefusalReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


async def help_assist(
    *,
    session: AsyncSession,
    shop_id: int,
    code: str,
    helper_customer_id: int | None,
    device_id: str,
    display_name: str = "",
) -> HelpOutcome:
    """Count one help, or record why it was refused. Never raises for a refusal: the refusal
    row must be committed (it is what the console's abuse list shows)."""
    if not device_id:
        raise InvalidInput("a help needs the helper's device id", code="device_required")
    assist = await get_assist_by_code(session=session, shop_id=shop_id, code=code)
    campaign = await get_campaign(session=session, shop_id=shop_id, campaign_id=assist.campaign_id)
    # Read before the savepoint: rolling it back expires what it touched, and an expired
    # attribute would be loaded lazily (not allowed under asyncio).
    campaign_id, assist_id = campaign.id, assist.id
    try:
        async with session.begin_nested():
            cut = await _count_help(
                session, campaign, assist, helper_customer_id, device_id[:64], display_name
            )
    except _Refused as refused:
        session.add(
            AssistRefusal(
                shop_id=shop_id,
                campaign_id=campaign_id,
                assist_id=assist_id,
                helper_customer_id=helper_customer_id,
                device_id=device_id[:64],
                reason=refused.reason.value,
            )
        )
        await session.flush()
        await session.refresh(assist)
        return HelpOutcome(
            accepted=False,
            reason=refused.reason.value,
            message=REFUSAL_MESSAGES[refused.reason],
            cut_fen=0,
            assist=assist,
        )
    await session.refresh(assist)
    if assist.helpers_count >= assist.helpers_needed:
        await _complete(session, campaign, assist)
    return HelpOutcome(
        accepted=True, reason="helped", message="thank you for helping", cut_fen=cut, assist=assist
    )


async def _count_help(
    session: AsyncSession,
    campaign: AssistCampaign,
    assist: Assist,
    helper_customer_id: int | None,
    device_id: str,
    display_name: str,
) -> int:
    now = utcnow()
    if assist.status != AssistStatus.OPEN.value or assist.expires_at <= now:
        raise _Refused(RefusalReason.ASSIST_CLOSED)
    if helper_customer_id is None:
        raise _Refused(RefusalReason.NO_CUSTOMER)
    if helper_customer_id == assist.customer_id or device_id == assist.device_id:
        raise _Refused(RefusalReason.SELF_HELP)
    earlier = (
        await session.execute(
            scoped(
                AssistHelp, assist.shop_id, AssistHelp.helper_customer_id, AssistHelp.device_id
            ).where(
                AssistHelp.campaign_id == campaign.id,
                or_(
                    AssistHelp.helper_customer_id == helper_customer_id,
                    AssistHelp.device_id == device_id,
                ),
            )
        )
    ).all()
    if any(row.helper_customer_id == helper_customer_id for row in earlier):
        raise _Refused(RefusalReason.ALREADY_HELPED)
    if earlier:
        raise _Refused(RefusalReason.DEVICE_USED)
    if campaign.new_customers_only and not await _is_new_customer(
        session, assist, helper_customer_id
    ):
        raise _Refused(RefusalReason.NOT_NEW_CUSTOMER)
    budget = await session.execute(
        update(AssistCampaign)
        .where(
            AssistCampaign.id == campaign.id,
            or_(
                AssistCampaign.max_helps.is_(None),
                AssistCampaign.helps_used < AssistCampaign.max_helps,
            ),
        )
        .values(helps_used=AssistCampaign.helps_used + 1)
        .execution_options(synchronize_session=False)
    )
    if not budget.rowcount:  # type: ignore[attr-defined]
        raise _Refused(RefusalReason.HELPER_CAP)
    counted = await session.execute(
        update(Assist)
        .where(
            Assist.id == assist.id,
            Assist.status == AssistStatus.OPEN.value,
            Assist.helpers_count < Assist.helpers_needed,
            Assist.expires_at > now,
        )
        .values(helpers_count=Assist.helpers_count + 1)
        .returning(Assist.helpers_count)
    )
    position = counted.scalar_one_or_none()
    if position is None:
        raise _Refused(RefusalReason.ASSIST_CLOSED)
    cut = 0
    if assist.start_price_fen is not None and assist.target_price_fen is not None:
        cut = cut_for_helper(
            start_fen=assist.start_price_fen,
            target_fen=assist.target_price_fen,
            helpers_needed=assist.helpers_needed,
            position=int(position),
        )
    try:
        async with session.begin_nested():
            session.add(
                AssistHelp(
                    shop_id=assist.shop_id,
                    campaign_id=campaign.id,
                    assist_id=assist.id,
                    helper_customer_id=helper_customer_id,
                    device_id=device_id,
                    display_name=mask_name(display_name),
                    cut_fen=cut,
                )
            )
            await session.flush()
    except IntegrityError:
        # Another request by the same helper or device won the race.
        raise _Refused(RefusalReason.ALREADY_HELPED) from None
    return cut


async def _is_new_customer(session: AsyncSession, assist: Assist, customer_id: int) -> bool:
    from liveloop.customers import service as customers_service

    customer = await customers_service.get_customer(
        session=session, shop_id=assist.shop_id, customer_id=customer_id
    )
    return customer.created_at >= assist.created_at


async def _complete(session: AsyncSession, campaign: AssistCampaign, assist: Assist) -> None:
    now = utcnow()
    await session.execute(
        update(Assist)
        .where(Assist.id == assist.id, Assist.status == AssistStatus.OPEN.value)
        .values(status=AssistStatus.COMPLETED.value, completed_at=now)
        .execution_options(synchronize_session=False)
    )
    await grant_reward(session=session, shop_id=assist.shop_id, assist_id=assist.id)
    await session.refresh(assist)


async def grant_reward(*, session: AsyncSession, shop_id: int, assist_id: int) -> bool:
    """Grant a completed assist's reward; True only for the one call that granted it."""
    assist = await get_scoped(session, Assist, shop_id=shop_id, record_id=assist_id, label="assist")
    await session.refresh(assist)  # conditional UPDATEs do not touch loaded rows
    if assist.status != AssistStatus.COMPLETED.value:
        return False
    claimed = await session.execute(
        update(Assist)
        .where(Assist.id == assist.id, Assist.reward_granted_at.is_(None))
        .values(reward_granted_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return False
    campaign = await get_campaign(session=session, shop_id=shop_id, campaign_id=assist.campaign_id)
    if campaign.reward_kind == RewardKind.COUPON.value and campaign.coupon_id is not None:
        from liveloop.commerce.coupons import service as coupons_service

        granted = await coupons_service.grant_coupon(
            session=session,
            shop_id=shop_id,
            coupon_id=campaign.coupon_id,
            customer_id=assist.customer_id,
            reason=f"assist {assist.code}",
        )
        await session.execute(
            update(Assist)
            .where(Assist.id == assist.id)
            .values(customer_coupon_id=granted.id)
            .execution_options(synchronize_session=False)
        )
    await session.refresh(assist)
    log.info("assist_rewarded", assist_id=assist.id, kind=campaign.reward_kind)
    return True


async def redeem_price_cut(
    *,
    session: AsyncSession,
    shop_id: int,
    code: str,
    customer_id: int,
    address_id: int | None,
    idempotency_key: str | None = None,
) -> Any:
    """Place the owner's order at the target price: once per completed price-cut assist."""
    from liveloop.commerce import orders as orders_service

    assist = await get_assist_by_code(session=session, shop_id=shop_id, code=code)
    campaign = await get_campaign(session=session, shop_id=shop_id, campaign_id=assist.campaign_id)
    if assist.customer_id != customer_id:
        raise NotFound(f"assist {code} was not found", code="assist_not_found", field="code")
    if campaign.reward_kind != RewardKind.PRICE_CUT.value or campaign.sku_id is None:
        raise Conflict("this assist rewards a coupon, not a price", code="assist_not_price_cut")
    if assist.status != AssistStatus.COMPLETED.value:
        raise Conflict(
            f"assist {code} has {assist.helpers_count} of {assist.helpers_needed} helpers; the "
            "price unlocks when all have helped",
            code="assist_not_completed",
            field="code",
        )
    if assist.order_id is not None:
        raise Conflict(
            f"the assist price was already used by order {assist.order_id}",
            code="assist_already_redeemed",
            field="code",
        )
    assert assist.target_price_fen is not None
    order = await orders_service.place_order(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        lines=[orders_service.LineRequest(sku_id=campaign.sku_id, quantity=1)],
        address_id=address_id,
        idempotency_key=idempotency_key,
        price_overrides={campaign.sku_id: assist.target_price_fen},
        attribution={"assist": {"campaign_id": campaign.id, "code": assist.code}},
    )
    claimed = await session.execute(
        update(Assist)
        .where(Assist.id == assist.id, Assist.order_id.is_(None))
        .values(order_id=order.id)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise Conflict("the assist price was already used", code="assist_already_redeemed")
    await session.refresh(assist)
    return order


@hooks.on("order_released")
async def free_assist_price(*, session: AsyncSession, order: Any, **_: Any) -> None:
    """An assist-price order that expired unpaid leaves the price usable again."""
    code = ((order.attribution or {}).get("assist") or {}).get("code")
    if not code:
        return
    await session.execute(
        update(Assist)
        .where(Assist.shop_id == order.shop_id, Assist.code == code, Assist.order_id == order.id)
        .values(order_id=None)
        .execution_options(synchronize_session=False)
    )


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
