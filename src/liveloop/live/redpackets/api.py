"""Console JSON routes of red packets (LIVE_MANAGE): the budget, starting a packet in a live
session, the session's packets, one packet with its grabs, stopping early."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header

from liveloop.core.deps import DbSession
from liveloop.live.redpackets import service
from liveloop.live.redpackets.models import RedPacket
from liveloop.live.redpackets.schemas import (
    BudgetEntryOut,
    BudgetOut,
    BudgetTopUpIn,
    GrabOut,
    RedPacketCreate,
    RedPacketDetailOut,
    RedPacketListOut,
    RedPacketOut,
)
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["red packets"], dependencies=[Depends(current_actor)])

LiveManager = Annotated[Actor, requires(P.LIVE_MANAGE)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]


def packet_out(packet: RedPacket, counts: dict[int, tuple[int, int]]) -> RedPacketOut:
    from liveloop.core.database import utcnow
    from liveloop.live.redpackets.room import state_at

    out = RedPacketOut.model_validate(packet)
    out.state = state_at(packet, utcnow())
    out.grabbed_count, out.grabbed_fen = counts.get(packet.id, (0, 0))
    return out


async def _budget(session: DbSession, shop_id: int) -> BudgetOut:
    entries = await service.list_budget_entries(session=session, shop_id=shop_id)
    return BudgetOut(
        balance_fen=await service.get_budget_balance(session=session, shop_id=shop_id),
        entries=[BudgetEntryOut.model_validate(e) for e in entries],
    )


@router.get("/red-packet-budget", response_model=BudgetOut)
async def get_budget(session: DbSession, actor: LiveManager) -> BudgetOut:
    """The shop's red-packet budget and its latest 50 movements."""
    return await _budget(session, actor.shop_id)


@router.post("/red-packet-budget/top-ups", response_model=BudgetOut, status_code=201)
async def top_up(
    data: BudgetTopUpIn,
    session: DbSession,
    actor: LiveManager,
    idempotency_key: IdempotencyKey = None,
) -> BudgetOut:
    """Add money to the budget (a repeated Idempotency-Key adds nothing more)."""
    await service.top_up_budget(
        session=session,
        actor=actor,
        amount_fen=data.amount_fen,
        note=data.note,
        idempotency_key=idempotency_key,
    )
    return await _budget(session, actor.shop_id)


@router.post(
    "/live/{live_session_id}/red-packets",
    response_model=RedPacketOut,
    status_code=201,
)
async def start_red_packet(
    live_session_id: int,
    data: RedPacketCreate,
    session: DbSession,
    actor: LiveManager,
    idempotency_key: IdempotencyKey = None,
) -> RedPacketOut:
    """Cut the shares, debit the budget and show the packet in the room. 409
    red_packet_budget_insufficient / red_packet_running; 422 with the field for bad input."""
    packet = await service.start_red_packet(
        session=session,
        actor=actor,
        live_session_id=live_session_id,
        data=data,
        idempotency_key=idempotency_key,
    )
    counts = await service.packet_counts(
        session=session, shop_id=actor.shop_id, red_packet_ids=[packet.id]
    )
    return packet_out(packet, counts)


@router.get("/live/{live_session_id}/red-packets", response_model=RedPacketListOut)
async def list_red_packets(
    live_session_id: int, session: DbSession, actor: LiveManager
) -> RedPacketListOut:
    """The session's packets, newest first, with what was grabbed (a due one is closed)."""
    from liveloop.live.service import get_live_session

    await get_live_session(session=session, shop_id=actor.shop_id, live_session_id=live_session_id)
    packets = await service.list_red_packets(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    for packet in packets:
        await service.close_if_due(session, packet)
    counts = await service.packet_counts(
        session=session, shop_id=actor.shop_id, red_packet_ids=[p.id for p in packets]
    )
    return RedPacketListOut(items=[packet_out(p, counts) for p in packets])


@router.get("/red-packets/{red_packet_id}", response_model=RedPacketDetailOut)
async def get_red_packet(
    red_packet_id: int, session: DbSession, actor: LiveManager
) -> RedPacketDetailOut:
    """One packet with its grabs (names masked)."""
    return await _detail(session, actor.shop_id, red_packet_id)


@router.post("/red-packets/{red_packet_id}/stop", response_model=RedPacketDetailOut)
async def stop_red_packet(
    red_packet_id: int, session: DbSession, actor: LiveManager
) -> RedPacketDetailOut:
    """Stop early: nobody grabs any more, the remainder goes back to the budget."""
    await service.stop_red_packet(session=session, actor=actor, red_packet_id=red_packet_id)
    return await _detail(session, actor.shop_id, red_packet_id)


async def _detail(session: DbSession, shop_id: int, red_packet_id: int) -> RedPacketDetailOut:
    from liveloop.commerce.groupbuy.service import mask_name
    from liveloop.customers import service as customers_service

    packet = await service.get_red_packet(
        session=session, shop_id=shop_id, red_packet_id=red_packet_id
    )
    await service.close_if_due(session, packet)
    counts = await service.packet_counts(
        session=session, shop_id=shop_id, red_packet_ids=[packet.id]
    )
    grabs = await service.list_grabs(session=session, shop_id=shop_id, red_packet_id=packet.id)
    customers = await customers_service.get_customers(
        session=session,
        shop_id=shop_id,
        customer_ids=[g.customer_id for g in grabs if g.customer_id],
    )
    names = {c.id: c.display_name or "" for c in customers}
    out = RedPacketDetailOut(**packet_out(packet, counts).model_dump())
    out.grabs = [
        GrabOut(
            customer_id=int(g.customer_id or 0),
            customer_name=mask_name(names.get(int(g.customer_id or 0), "")),
            amount_fen=g.amount_fen,
            grabbed_at=g.grabbed_at or packet.starts_at,
        )
        for g in grabs
    ]
    return out
