"""Group buy in the live room: the campaign card the anchor pushes (`group_buy_push`, with the
open groups a viewer may join) and taking it down (`promotion_withdraw`). The room keeps the
card current with the per-group `group_buy` messages (campaigns.announce) and puts it in the
snapshot of viewers who join later (live/promotions.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.groupbuy.campaigns import (
    check_campaign_open,
    format_fen,
    get_campaign,
    open_campaigns,
)
from liveloop.commerce.groupbuy.models import GroupBuyCampaign, GroupBuyGroup, GroupStatus
from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict
from liveloop.live.outbox import send_after_commit
from liveloop.shops.service import Actor, record_audit

MAX_ROOM_GROUPS = 5  # as live.promotions.MAX_OPEN_GROUPS: what a phone card lists


async def joinable_groups(
    *, session: AsyncSession, campaign: GroupBuyCampaign, limit: int = MAX_ROOM_GROUPS
) -> list[GroupBuyGroup]:
    """Open groups with a free seat, the nearest to complete first."""
    statement = (
        scoped(GroupBuyGroup, campaign.shop_id)
        .where(
            GroupBuyGroup.campaign_id == campaign.id,
            GroupBuyGroup.status == GroupStatus.OPEN.value,
            GroupBuyGroup.expires_at > utcnow(),
            GroupBuyGroup.seats_taken < GroupBuyGroup.group_size,
        )
        .order_by(
            (GroupBuyGroup.group_size - GroupBuyGroup.seats_taken),
            GroupBuyGroup.expires_at,
            GroupBuyGroup.id,
        )
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def room_card(*, session: AsyncSession, campaign: GroupBuyCampaign) -> dict[str, Any]:
    """The card a room shows for a campaign (docs/live-protocol.md, `group_buy_push`)."""
    from liveloop.catalog import service as catalog_service

    product = await catalog_service.get_product(
        session=session, shop_id=campaign.shop_id, product_id=campaign.product_id
    )
    sku = next((s for s in product.skus if s.id == campaign.sku_id), None)
    groups = await joinable_groups(session=session, campaign=campaign)
    return {
        "id": campaign.id,
        "title": campaign.title,
        "product_id": product.id,
        "product_name": product.name,
        "image_url": product.images[0].url if product.images else None,
        "sku_id": campaign.sku_id,
        "sku_name": sku.spec_label if sku else "",
        "group_price_fen": campaign.group_price_fen,
        "single_price_fen": sku.price_fen if sku else None,
        "group_size": campaign.group_size,
        "time_limit_minutes": campaign.time_limit_minutes,
        "per_customer_limit": campaign.per_customer_limit,
        "ends_at": campaign.ends_at.isoformat() if campaign.ends_at else None,
        "groups": [
            {
                "code": g.code,
                "group_size": g.group_size,
                "seats_taken": g.seats_taken,
                "paid": g.paid_count,
                "status": g.status,
                "expires_at": g.expires_at.isoformat(),
            }
            for g in groups
        ],
    }


async def current_room_card(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, Any] | None:
    """The card of the session's newest open campaign (what a room opening now shows)."""
    found = await open_campaigns(session=session, shop_id=shop_id, live_session_id=live_session_id)
    if not found:
        return None
    return await room_card(session=session, campaign=found[0])


async def push_campaign_to_live(
    *, session: AsyncSession, actor: Actor, campaign_id: int, live_session_id: int
) -> GroupBuyCampaign:
    """Show the campaign's card in the room. A campaign of no session is tied to this one (its
    groups' news then reach the room); one of another session is refused."""
    from liveloop.live.models import LiveSession

    campaign = await get_campaign(session=session, shop_id=actor.shop_id, campaign_id=campaign_id)
    live_session = await get_scoped(
        session, LiveSession, shop_id=actor.shop_id, record_id=live_session_id, label="live_session"
    )
    if campaign.live_session_id not in (None, live_session.id):
        raise Conflict(
            f"group buy {campaign.title} belongs to live session {campaign.live_session_id}; "
            "create a group buy for this session instead",
            code="campaign_other_session",
            field="live_session_id",
        )
    if live_session.status in ("ended", "cancelled"):
        raise Conflict(
            f"live session {live_session.id} has {live_session.status}; there is no room to show "
            "the group buy in",
            code="live_session_closed",
            field="live_session_id",
        )
    check_campaign_open(campaign, utcnow())
    campaign.live_session_id = live_session.id
    await session.flush()
    card = await room_card(session=session, campaign=campaign)
    await record_audit(
        session=session,
        actor=actor,
        action="group_buy.push",
        target_type="group_buy_campaign",
        target_id=campaign.id,
        details={"live_session_id": live_session.id, "price": format_fen(campaign.group_price_fen)},
    )
    send_after_commit(
        session,
        live_session_id=live_session.id,
        message={"type": "group_buy_push", "group_buy": card},
    )
    return campaign


async def withdraw_campaign_from_live(
    *, session: AsyncSession, actor: Actor, campaign_id: int, live_session_id: int
) -> GroupBuyCampaign:
    """The anchor takes the card down: the campaign ends (no new groups; open groups run to
    their deadline), so no process shows it again when it opens the room."""
    from liveloop.commerce.groupbuy.campaigns import end_campaign

    campaign = await get_campaign(session=session, shop_id=actor.shop_id, campaign_id=campaign_id)
    if campaign.live_session_id != live_session_id:
        raise Conflict(
            f"group buy {campaign.title} is not shown in live session {live_session_id}",
            code="campaign_other_session",
            field="live_session_id",
        )
    return await end_campaign(session=session, actor=actor, campaign_id=campaign.id)


def announce_withdrawn(session: AsyncSession, campaign: GroupBuyCampaign) -> None:
    """The card leaves the room (the campaign ended: no new groups)."""
    if campaign.live_session_id is None:
        return
    send_after_commit(
        session,
        live_session_id=campaign.live_session_id,
        message={"type": "promotion_withdraw", "kind": "group_buy", "id": campaign.id},
    )
