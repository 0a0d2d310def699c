"""Follow for welfare (关注送福利) in the demo: an offer running in the live room ("加入VIP会员群
领 ¥10 券") into the demo's VIP group, and simulated viewers who take it up, as people would:
every viewer who sees the pop-up is counted as shown; some tap it (verifying a phone first), get
their personal join link, and most of those follow it a little later and join the group.

Wire it: in seed.py after seed_communities,
`await welfare_demo.seed_welfare(session, actor=actor, live_session_id=rooms["live"])`; and next
to the other interaction steps, `(*interaction.steps(), *welfare_demo.steps())`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.customers.communities import service as communities_service
from liveloop.demo.audience import ViewerContext, ViewerStep
from liveloop.demo.interaction import _interested, api, ready_as_customer
from liveloop.live.welfare import service as welfare_service
from liveloop.live.welfare.schemas import OfferIn
from liveloop.shops.service import Actor

log = structlog.get_logger(__name__)

WELFARE_INTEREST = 0.3  # share of viewers who tap the pop-up (the rest just see it)
TAP_RATE = 1 / 12  # per second, once interested
JOIN_RATE = 1 / 8  # per second after the tap: scan, open the group, confirm
FOLLOW_THROUGH = 0.8  # share of tappers who really join
POPUP_TEXT = "加入VIP会员群领 ¥10 券"


@dataclass
class WelfareSeed:
    offer_id: int
    coupon_id: int
    community_id: int


async def seed_welfare(
    session: AsyncSession, *, actor: Actor, live_session_id: int
) -> WelfareSeed | None:
    """A running offer in the live session into the shop's VIP group (None without one)."""
    communities = await communities_service.list_communities(session=session, shop_id=actor.shop_id)
    vip = next((c for c in communities if c.kind == "vip"), None)
    if vip is None:
        return None
    coupon = await coupons_service.create_coupon(
        session=session,
        shop_id=actor.shop_id,
        data=CouponCreate(
            title="VIP入群礼 ¥10 券",
            description="加入VIP会员群专享，满 99 可用",
            kind="amount_off",
            amount_off_fen=1000,
            threshold_fen=9900,
            valid_days=14,
            total_quantity=1000,
            status="active",
        ),
    )
    offer = await welfare_service.start_offer(
        session=session,
        actor=actor,
        live_session_id=live_session_id,
        data=OfferIn(
            community_id=vip.id,
            popup_text=POPUP_TEXT,
            title="VIP群入群福利",
            reward_kind="coupon",
            reward_coupon_id=coupon.id,
        ),
    )
    return WelfareSeed(offer_id=offer.id, coupon_id=coupon.id, community_id=vip.id)


def join_for_welfare(
    interest: float = WELFARE_INTEREST,
    tap_rate: float = TAP_RATE,
    join_rate: float = JOIN_RATE,
    follow_through: float = FOLLOW_THROUGH,
) -> ViewerStep:
    """See the pop-up (counted once), maybe tap it for a join link, then follow the link."""

    async def step(ctx: ViewerContext) -> None:
        card = ctx.room.cards.get("welfare")
        if not card or card.get("state") != "running" or ctx.room.status != "live":
            return
        if ctx.http is None or not ctx.token:
            return
        key = f"welfare:{card.get('id')}"
        if not ctx.memory.get(f"{key}:seen"):
            ctx.memory[f"{key}:seen"] = True
            await _post(ctx, f"/welfare-offers/{card['id']}/seen")
            return
        token = ctx.memory.get(f"{key}:token")
        if token:
            if ctx.chance(join_rate):
                ctx.memory[f"{key}:token"] = None
                ctx.memory[key] = "joined"
                await _post(ctx, "/welfare-links/join", {"token": token})
            return
        if ctx.memory.get(key) or not _interested(ctx, key, interest):
            return
        if not ctx.chance(tap_rate) or not await ready_as_customer(ctx, key):
            return
        ctx.memory[key] = "tapped"
        answer = await _post(ctx, f"/welfare-offers/{card['id']}/tap")
        link = (answer or {}).get("link") or {}
        if link.get("token") and ctx.rng.random() < follow_through:
            ctx.memory[f"{key}:token"] = link["token"]

    return step


async def _post(ctx: ViewerContext, path: str, body: object = None) -> dict[str, Any] | None:
    try:
        answer = await api(ctx, "POST", path, body)
    except httpx.HTTPError as error:
        log.debug("demo_welfare_failed", path=path, error=repr(error))
        return None
    log.debug("demo_welfare", path=path, status=answer.status_code)
    if answer.status_code != 200:
        return None
    data: dict[str, Any] = answer.json()
    return data


def steps() -> tuple[ViewerStep, ...]:
    return (join_for_welfare(),)
