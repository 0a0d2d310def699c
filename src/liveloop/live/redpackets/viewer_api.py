"""Viewer JSON routes of red packets (viewer token): the room's current packet, grabbing a
share, and the viewer's red-packet balance. A guest is asked to sign in with a phone number
(401 customer_required): a share goes to a customer, one per customer however many devices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from liveloop.commerce.viewer_api import CurrentBuyer
from liveloop.core.deps import DbSession
from liveloop.core.errors import Unauthenticated
from liveloop.live.redpackets import grabs, payout, service
from liveloop.live.redpackets.models import RedPacket
from liveloop.live.redpackets.schemas import BalanceEntryOut, BalanceOut, GrabResultOut

router = APIRouter(prefix="/api/v1/public", tags=["red packets (viewer)"])


async def _card_for(session: DbSession, claims: Any, packet: RedPacket) -> dict[str, Any]:
    await service.close_if_due(session, packet)
    card = await service.room_card(session=session, packet=packet)
    card["mine"] = None
    if claims.customer_id is not None:
        share = await grabs.my_grab(
            session=session,
            shop_id=claims.shop_id,
            red_packet_id=packet.id,
            customer_id=claims.customer_id,
        )
        card["mine"] = {"amount_fen": share.amount_fen} if share else None
    return card


@router.get("/red-packets/current")
async def current_red_packet(session: DbSession, claims: CurrentBuyer) -> dict[str, Any]:
    """The room's newest packet while it is on show (`card` null when none), with `mine`:
    what this customer grabbed from it."""
    if claims.live_session_id is None:
        return {"card": None}
    packet = (
        await session.execute(
            select(RedPacket)
            .where(
                RedPacket.shop_id == claims.shop_id,
                RedPacket.live_session_id == claims.live_session_id,
            )
            .order_by(RedPacket.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if packet is None:
        return {"card": None}
    card = await _card_for(session, claims, packet)
    from liveloop.core.database import utcnow
    from liveloop.live.redpackets.room import show_until

    return {"card": card if show_until(packet) > utcnow() else None}


@router.get("/red-packets/balance", response_model=BalanceOut)
async def my_balance(session: DbSession, claims: CurrentBuyer) -> BalanceOut:
    """This customer's red-packet balance (红包余额) and its latest movements."""
    if claims.customer_id is None:
        raise Unauthenticated(
            "log in with your phone number to see your red-packet balance",
            code="customer_required",
        )
    entries = await payout.balance_entries(
        session=session, shop_id=claims.shop_id, customer_id=claims.customer_id
    )
    return BalanceOut(
        balance_fen=await payout.balance_of(
            session=session, shop_id=claims.shop_id, customer_id=claims.customer_id
        ),
        entries=[BalanceEntryOut.model_validate(e) for e in entries],
    )


@router.get("/red-packets/{red_packet_id}")
async def red_packet_card(
    red_packet_id: int, session: DbSession, claims: CurrentBuyer
) -> dict[str, Any]:
    packet = await service.get_red_packet(
        session=session, shop_id=claims.shop_id, red_packet_id=red_packet_id
    )
    return await _card_for(session, claims, packet)


@router.post("/red-packets/{red_packet_id}/grab", response_model=GrabResultOut)
async def grab(red_packet_id: int, session: DbSession, claims: CurrentBuyer) -> GrabResultOut:
    """Grab one share: its amount goes to the red-packet balance. 409 red_packet_not_started
    / red_packet_ended / red_packet_empty / red_packet_already_grabbed /
    red_packet_condition_not_met; 401 customer_required for a guest."""
    result = await grabs.grab_red_packet(
        session=session,
        shop_id=claims.shop_id,
        red_packet_id=red_packet_id,
        customer_id=claims.customer_id,
        live_session_id=claims.live_session_id,
        device_id=claims.device_id,
    )
    return GrabResultOut(
        red_packet_id=result.packet.id,
        amount_fen=result.amount_fen,
        balance_fen=result.balance_fen,
        card=result.card,
    )
