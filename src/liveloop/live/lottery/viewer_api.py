"""Viewer routes of lotteries: the card, 参与, my result, the prize address; and the public
draw record anyone may verify (docs/lottery-fairness.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from liveloop.commerce.viewer_api import CurrentBuyer
from liveloop.core.deps import DbSession
from liveloop.live.lottery import service
from liveloop.live.lottery.models import LotteryEntry
from liveloop.live.lottery.schemas import PrizeAddressIn

router = APIRouter(prefix="/api/v1/public", tags=["lotteries (viewer)"])


def _mine(entry: LotteryEntry | None, drawn: bool) -> dict[str, Any]:
    if entry is None:
        return {"joined": False, "entered": False, "won": False, "ticket": None}
    return {
        "joined": entry.joined_at is not None,
        "entered": entry.position is not None if drawn else None,
        "won": entry.rank is not None,
        "rank": entry.rank,
        "ticket": entry.ticket,
        "prize_status": entry.prize_status,
        "needs_address": entry.prize_status == "awaiting_address",
    }


@router.get("/lotteries/{lottery_id}")
async def lottery_card(lottery_id: int, session: DbSession, claims: CurrentBuyer) -> dict[str, Any]:
    """The room's card, and where this viewer stands (`me`)."""
    lottery = await service.get_lottery(
        session=session, shop_id=claims.shop_id, lottery_id=lottery_id
    )
    card = service.lottery_card(lottery, await service.winners_public(session, lottery))
    entry = None
    if claims.customer_id is not None:
        entry = await service.entry_of(
            session=session, shop_id=claims.shop_id, lottery_id=lottery.id,
            customer_id=claims.customer_id,
        )  # fmt: skip
    card["me"] = _mine(entry, lottery.status == "drawn")
    return card


@router.post("/lotteries/{lottery_id}/join")
async def join(lottery_id: int, session: DbSession, claims: CurrentBuyer) -> dict[str, Any]:
    """参与: 409 condition_not_met says what to do first; a comment lottery answers
    lottery_enter_by_comment (comment the keyword instead)."""
    entry = await service.join_lottery(
        session=session,
        shop_id=claims.shop_id,
        lottery_id=lottery_id,
        customer_id=claims.customer_id,
        live_session_id=claims.live_session_id,
    )
    return _mine(entry, False)


@router.post("/lotteries/{lottery_id}/address")
async def prize_address(
    lottery_id: int, data: PrizeAddressIn, session: DbSession, claims: CurrentBuyer
) -> dict[str, Any]:
    """A winner of a product (or custom) prize says where to send it."""
    entry = await service.submit_address(
        session=session,
        shop_id=claims.shop_id,
        lottery_id=lottery_id,
        customer_id=claims.customer_id,
        data=data,
    )
    return _mine(entry, True)


@router.get("/lotteries/{lottery_id}/draw")
async def published_draw(lottery_id: int, session: DbSession) -> dict[str, Any]:
    """The commitment, and after the draw the seed, the ordered tickets and the winners:
    everything `verify.py` needs. No names, no customer ids. No sign-in needed."""
    return await service.public_draw(session=session, lottery_id=lottery_id)
