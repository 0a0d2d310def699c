"""Starting an assist, counting helps (refusals recorded with their reason), granting the
reward once and redeeming a price cut. See `service.py` for the rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
from liveloop.commerce.assist.campaigns import (
    REFUSAL_MESSAGES,
    check_campaign_open,
    get_assist_by_code,
    get_campaign,
    mask_name,
    new_assist_code,
)
from liveloop.commerce.assist.models import (
    Assist,
    AssistCampaign,
    AssistHelp,
    AssistRefusal,
    AssistStatus,
    RefusalReason,
    RewardKind,
)
from liveloop.commerce.assist.rules import cut_for_helper
from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound

log = structlog.get_logger(__name__)


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
    check_campaign_open(campaign, now)
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
