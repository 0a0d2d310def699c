"""Grabbing a red packet (抢红包): one UPDATE takes an open share for the customer.

On PostgreSQL the share is picked with `FOR UPDATE SKIP LOCKED`, so grabs racing for one
packet take different shares instead of queueing on one; SQLite runs writers one at a time.
The unique (red_packet_id, customer_id) makes it one grab per customer whatever the devices:
a second device's grab fails in its savepoint and is told what the first one got. The amount
goes out through the payout provider (default: the customer's red-packet balance).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict, NotFound, Unauthenticated
from liveloop.live import conditions
from liveloop.live.conditions import EntryCondition
from liveloop.live.redpackets import room, service
from liveloop.live.redpackets.models import PacketStatus, RedPacket, RedPacketShare, ShareState
from liveloop.live.redpackets.payout import DEFAULT_PAYOUT, RedPacketPayout, balance_of
from liveloop.shops.service import record_audit, system_actor

GRAB_EVENT = "red_packet_grab"
GRAB_ATTEMPTS = 6  # tries while every open share is held by an in-flight grab (PostgreSQL)


def yuan(fen: int) -> str:
    return service.yuan(fen)


@dataclass(frozen=True)
class GrabResult:
    packet: RedPacket
    share_id: int
    amount_fen: int
    balance_fen: int
    card: dict[str, Any]


async def my_grab(
    *, session: AsyncSession, shop_id: int, red_packet_id: int, customer_id: int
) -> RedPacketShare | None:
    return (
        await session.execute(
            select(RedPacketShare).where(
                RedPacketShare.shop_id == shop_id,
                RedPacketShare.red_packet_id == red_packet_id,
                RedPacketShare.customer_id == customer_id,
            )
        )
    ).scalar_one_or_none()


def _check_window(packet: RedPacket, now: dt.datetime) -> None:
    if packet.status != PacketStatus.ACTIVE.value or now >= packet.ends_at:
        raise Conflict(
            f"red packet {packet.id} has ended; wait for the next one",
            code="red_packet_ended",
            field="red_packet_id",
        )
    if now < packet.starts_at:
        seconds = int((packet.starts_at - now).total_seconds()) + 1
        raise Conflict(
            f"red packet {packet.id} opens in {seconds} s",
            code="red_packet_not_started",
            field="red_packet_id",
        )


def _condition_refusal(condition: EntryCondition) -> Conflict:
    what = {
        "comment": "comment in the room first",
        "keyword": f"comment the keyword 「{condition.keyword}」 first",
        "like": "like the live session first",
        "share": "share the live session first",
        "reserved": "this red packet is for viewers who reserved the session",
        "community": "this red packet is for members of the shop's community",
        "watch_time": f"watch at least {condition.min_watch_seconds} s first",
    }.get(condition.kind, "you do not meet this red packet's condition")
    return Conflict(
        f"to grab this red packet, {what}", code="red_packet_condition_not_met", field="condition"
    )


async def _take_open_share(
    session: AsyncSession, *, packet: RedPacket, customer_id: int, device_id: str | None
) -> tuple[int, int] | None:
    """Take one open share for the customer: (share id, amount), or None when none is free.
    Raises IntegrityError (in its savepoint) when the customer holds a share already."""
    open_share = (
        select(RedPacketShare.id)
        .where(
            RedPacketShare.red_packet_id == packet.id,
            RedPacketShare.state == ShareState.OPEN.value,
        )
        .order_by(RedPacketShare.seq)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        open_share = open_share.with_for_update(skip_locked=True)
    now = utcnow()
    async with session.begin_nested():
        taken = (
            await session.execute(
                update(RedPacketShare)
                .where(
                    RedPacketShare.id == open_share.scalar_subquery(),
                    RedPacketShare.state == ShareState.OPEN.value,
                )
                .values(
                    state=ShareState.GRABBED.value,
                    customer_id=customer_id,
                    device_id=(device_id or "")[:64] or None,
                    grabbed_at=now,
                )
                .returning(RedPacketShare.id, RedPacketShare.amount_fen)
                .execution_options(synchronize_session=False)
            )
        ).first()
    return (int(taken[0]), int(taken[1])) if taken else None


def _already(packet_id: int, amount_fen: int) -> Conflict:
    return Conflict(
        f"you grabbed {yuan(amount_fen)} from red packet {packet_id} already; one grab each",
        code="red_packet_already_grabbed",
        field="red_packet_id",
    )


async def grab_red_packet(
    *,
    session: AsyncSession,
    shop_id: int,
    red_packet_id: int,
    customer_id: int | None,
    live_session_id: int | None = None,
    device_id: str | None = None,
    payout: RedPacketPayout = DEFAULT_PAYOUT,
) -> GrabResult:
    """Take one share for the customer and pay it out. 409 red_packet_not_started /
    red_packet_ended / red_packet_empty / red_packet_already_grabbed /
    red_packet_condition_not_met; 401 customer_required for a guest."""
    if customer_id is None:
        raise Unauthenticated(
            "red packets go to a customer's balance: log in with your phone number "
            "(we text you a code) and grab again",
            code="customer_required",
            field="customer_id",
        )
    packet = await service.get_red_packet(
        session=session, shop_id=shop_id, red_packet_id=red_packet_id
    )
    if live_session_id is not None and packet.live_session_id != live_session_id:
        raise NotFound(
            f"red packet {red_packet_id} is not in this live room",
            code="not_found",
            field="red_packet_id",
        )
    now = utcnow()
    await service.close_if_due(session, packet)
    mine = await my_grab(
        session=session, shop_id=shop_id, red_packet_id=packet.id, customer_id=customer_id
    )
    if mine is not None:
        raise _already(packet.id, mine.amount_fen)
    _check_window(packet, now)
    condition = EntryCondition.model_validate(packet.condition or {})
    # "none" asks nothing more than the viewer token of this room (a guest who signs in with
    # a phone mid-rain has no customer visit recorded yet, and must not be refused for it).
    if condition.kind != "none":
        met = await conditions.meets_condition(
            session=session,
            shop_id=shop_id,
            live_session_id=packet.live_session_id,
            customer_id=customer_id,
            condition=condition,
            since=packet.created_at,
        )
        if not met:
            raise _condition_refusal(condition)
    taken = None
    for attempt in range(GRAB_ATTEMPTS):
        try:
            taken = await _take_open_share(
                session, packet=packet, customer_id=customer_id, device_id=device_id
            )
        except IntegrityError:
            # Another device of this customer took a share a moment ago.
            mine = await my_grab(
                session=session, shop_id=shop_id, red_packet_id=packet.id, customer_id=customer_id
            )
            raise _already(packet.id, mine.amount_fen if mine else 0) from None
        if taken is not None or not await service.any_open_share(session, packet.id):
            break
        # Every open share is held by a grab still in flight (it may roll back): look again.
        await asyncio.sleep(0.005 * (attempt + 1))
    if taken is None:
        # (No close here: this refusal rolls the request back; the next read closes it.)
        raise Conflict(
            f"red packet {packet.id} is all grabbed (手慢了); wait for the next one",
            code="red_packet_empty",
            field="red_packet_id",
        )
    share_id, amount = taken
    paid = await payout.pay(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        amount_fen=amount,
        red_packet_id=packet.id,
        share_id=share_id,
    )
    await session.execute(
        update(RedPacketShare)
        .where(RedPacketShare.id == share_id)
        .values(payout_provider=paid.provider, payout_reference=paid.reference[:64])
        .execution_options(synchronize_session=False)
    )
    await _record_grab_event(session, packet=packet, customer_id=customer_id, amount_fen=amount)
    await record_audit(
        session=session,
        actor=system_actor(shop_id, service.SYSTEM_LABEL),
        action="red_packet.payout",
        target_type="red_packet",
        target_id=packet.id,
        details={
            "customer_id": customer_id,
            "share_id": share_id,
            "amount_fen": amount,
            "provider": paid.provider,
            "reference": paid.reference,
        },
    )
    balance = paid.balance_fen
    if balance is None:
        balance = await balance_of(session=session, shop_id=shop_id, customer_id=customer_id)
    grabbed, _ = (
        await service.packet_counts(session=session, shop_id=shop_id, red_packet_ids=[packet.id])
    ).get(packet.id, (0, 0))
    card = room.card(packet, grabbed_count=grabbed, now=now)
    if not await service.any_open_share(session, packet.id):
        # This grab took the last share (every other one is committed): the rain is over
        # now, nothing to return. With grabs still in flight, the next read closes it.
        if await service.close_red_packet(
            session=session, shop_id=shop_id, red_packet_id=packet.id, wait=False
        ):
            await session.refresh(packet)
            card = room.card(packet, grabbed_count=grabbed, now=utcnow())
    else:
        room.ticker.note_after_commit(
            session, live_session_id=packet.live_session_id, packet_id=packet.id, card=card
        )
    return GrabResult(
        packet=packet, share_id=share_id, amount_fen=amount, balance_fen=balance, card=card
    )


async def _record_grab_event(
    session: AsyncSession, *, packet: RedPacket, customer_id: int, amount_fen: int
) -> None:
    from liveloop.events import service as events_service

    await events_service.ingest_events(
        session=session,
        shop_id=packet.shop_id,
        items=[
            {
                "type": GRAB_EVENT,
                "customer_id": customer_id,
                "live_session_id": packet.live_session_id,
                "properties": {"red_packet_id": packet.id, "amount_fen": amount_fen},
            }
        ],
        mark_customers_active=False,
    )
