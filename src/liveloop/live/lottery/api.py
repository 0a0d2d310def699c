"""Console JSON routes of lotteries: start, close entries now, cancel, history, prizes.

The session's anchor or staff who manage live sessions may run them (as the other room
controls); reading the history needs the same."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from liveloop.core.deps import DbSession
from liveloop.live.lottery import service
from liveloop.live.lottery.models import Lottery
from liveloop.live.lottery.schemas import (
    EntryOut,
    LotteryDetailOut,
    LotteryIn,
    LotteryOut,
    ShippedIn,
)
from liveloop.live.service import check_may_run, get_live_session
from liveloop.shops.auth import CurrentActor, current_actor
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["lotteries"], dependencies=[Depends(current_actor)])


def lottery_out(lottery: Lottery) -> LotteryOut:
    return LotteryOut.model_validate(lottery)


async def _may_run(session: DbSession, actor: Actor, live_session_id: int) -> None:
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_may_run(actor, live_session)


@router.post("/live/{live_session_id}/lotteries", response_model=LotteryOut, status_code=201)
async def start_lottery(
    live_session_id: int, data: LotteryIn, session: DbSession, actor: CurrentActor
) -> LotteryOut:
    """Start taking entries now; drawn `duration_seconds` later (plus a few seconds)."""
    lottery = await service.start_lottery(
        session=session, actor=actor, live_session_id=live_session_id, data=data
    )
    return lottery_out(lottery)


@router.get("/live/{live_session_id}/lotteries", response_model=list[LotteryOut])
async def list_lotteries(
    live_session_id: int, session: DbSession, actor: CurrentActor
) -> list[LotteryOut]:
    await _may_run(session, actor, live_session_id)
    lotteries = await service.list_lotteries(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    return [lottery_out(lottery) for lottery in lotteries]


@router.get("/lotteries/{lottery_id}", response_model=LotteryDetailOut)
async def get_lottery(lottery_id: int, session: DbSession, actor: CurrentActor) -> Any:
    """The lottery with every entrant, the seed (once drawn), winners and prize status."""
    lottery = await service.get_lottery(
        session=session, shop_id=actor.shop_id, lottery_id=lottery_id
    )
    await _may_run(session, actor, lottery.live_session_id)
    entries = await service.list_entries(
        session=session, shop_id=actor.shop_id, lottery_id=lottery.id
    )
    detail = LotteryDetailOut.model_validate(lottery)
    described = await service.describe_entries(session, actor.shop_id, entries)
    detail.entries = [EntryOut(**entry) for entry in described]
    return detail


@router.post("/lotteries/{lottery_id}/close", response_model=LotteryOut)
async def close_entries(lottery_id: int, session: DbSession, actor: CurrentActor) -> LotteryOut:
    """开奖 now: entries stop at once; the draw follows a few seconds later."""
    lottery = await service.close_entries_now(session=session, actor=actor, lottery_id=lottery_id)
    return lottery_out(lottery)


@router.post("/lotteries/{lottery_id}/cancel", response_model=LotteryOut)
async def cancel_lottery(lottery_id: int, session: DbSession, actor: CurrentActor) -> LotteryOut:
    lottery = await service.cancel_lottery(session=session, actor=actor, lottery_id=lottery_id)
    return lottery_out(lottery)


@router.post("/lotteries/{lottery_id}/entries/{entry_id}/shipped")
async def mark_shipped(
    lottery_id: int, entry_id: int, data: ShippedIn, session: DbSession, actor: CurrentActor
) -> dict[str, Any]:
    lottery = await service.get_lottery(
        session=session, shop_id=actor.shop_id, lottery_id=lottery_id
    )
    await _may_run(session, actor, lottery.live_session_id)
    entry = await service.mark_shipped(
        session=session, actor=actor, lottery_id=lottery_id, entry_id=entry_id, note=data.note
    )
    return (await service.describe_entries(session, actor.shop_id, [entry]))[0]
