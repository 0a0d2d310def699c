"""Red packets (红包): the shop's budget, starting a packet, grabbing a share, closing.

Money never moves by check-then-act:
- the budget is a balance row changed by conditional UPDATEs (`... WHERE balance_fen >= :n`),
  each change written to an append-only ledger; a packet debits its whole total when it is
  created and gets back what nobody grabbed when it closes (one ledger row each, unique);
- the shares are rows cut when the packet is created; a grab is one UPDATE that takes an open
  share (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite runs writers one at a time), and the
  unique (red_packet_id, customer_id) makes it one grab per customer whatever the devices;
- closing flips the packet from active once (conditional UPDATE), then marks the open shares
  returned in one UPDATE that a concurrent grab cannot interleave with (a row is either taken
  by the grab or returned, never both), and credits their sum back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from huey import crontab
from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.jobs import enqueue_after_commit, job
from liveloop.live import conditions
from liveloop.live.outbox import send_after_commit
from liveloop.live.redpackets import room
from liveloop.live.redpackets.budget import (
    get_budget_balance,
    list_budget_entries,
    move_budget,
    top_up_budget,
)
from liveloop.live.redpackets.models import (
    BudgetEntryKind,
    PacketStatus,
    RedPacket,
    RedPacketShare,
    ShareState,
)
from liveloop.live.redpackets.schemas import RedPacketCreate
from liveloop.live.redpackets.splits import split_total
from liveloop.shops.service import Actor, record_audit, system_actor

SYSTEM_LABEL = "system: red packets"

__all__ = [
    "close_due_red_packets",
    "close_red_packet",
    "current_room_card",
    "get_budget_balance",
    "get_red_packet",
    "list_budget_entries",
    "list_grabs",
    "list_red_packets",
    "packet_counts",
    "room_card",
    "start_red_packet",
    "stop_red_packet",
    "top_up_budget",
]


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


# ---------------------------------------------------------------------------------- packets


async def get_red_packet(*, session: AsyncSession, shop_id: int, red_packet_id: int) -> RedPacket:
    return await get_scoped(
        session, RedPacket, shop_id=shop_id, record_id=red_packet_id, label="red packet"
    )


async def list_red_packets(
    *, session: AsyncSession, shop_id: int, live_session_id: int, limit: int = 100
) -> list[RedPacket]:
    rows = await session.execute(
        select(RedPacket)
        .where(RedPacket.shop_id == shop_id, RedPacket.live_session_id == live_session_id)
        .order_by(RedPacket.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def packet_counts(
    *, session: AsyncSession, shop_id: int, red_packet_ids: list[int]
) -> dict[int, tuple[int, int]]:
    """red_packet_id -> (grabbed count, grabbed fen)."""
    if not red_packet_ids:
        return {}
    rows = await session.execute(
        select(
            RedPacketShare.red_packet_id,
            func.count(RedPacketShare.id),
            func.coalesce(func.sum(RedPacketShare.amount_fen), 0),
        )
        .where(
            RedPacketShare.shop_id == shop_id,
            RedPacketShare.red_packet_id.in_(red_packet_ids),
            RedPacketShare.state == ShareState.GRABBED.value,
        )
        .group_by(RedPacketShare.red_packet_id)
    )
    return {int(pid): (int(n), int(fen)) for pid, n, fen in rows.all()}


async def list_grabs(
    *, session: AsyncSession, shop_id: int, red_packet_id: int
) -> list[RedPacketShare]:
    rows = await session.execute(
        select(RedPacketShare)
        .where(
            RedPacketShare.shop_id == shop_id,
            RedPacketShare.red_packet_id == red_packet_id,
            RedPacketShare.state == ShareState.GRABBED.value,
        )
        .order_by(RedPacketShare.grabbed_at, RedPacketShare.id)
    )
    return list(rows.scalars())


async def room_card(
    *, session: AsyncSession, packet: RedPacket, now: dt.datetime | None = None
) -> dict[str, Any]:
    grabbed, _fen = (
        await packet_counts(session=session, shop_id=packet.shop_id, red_packet_ids=[packet.id])
    ).get(packet.id, (0, 0))
    return room.card(packet, grabbed_count=grabbed, now=now)


async def current_room_card(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, Any] | None:
    """The card of the session's newest packet while it is still on show (read only)."""
    now = utcnow()
    packet = (
        await session.execute(
            select(RedPacket)
            .where(RedPacket.shop_id == shop_id, RedPacket.live_session_id == live_session_id)
            .order_by(RedPacket.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if packet is None or room.show_until(packet) <= now:
        return None
    return await room_card(session=session, packet=packet, now=now)


async def _check_amounts(data: RedPacketCreate) -> None:
    if data.total_fen < data.count:
        raise InvalidInput(
            f"{data.count} shares need at least {yuan(data.count)} (¥0.01 each); the total is "
            f"{yuan(data.total_fen)}",
            code="red_packet_total_too_small",
            field="total_fen",
        )


async def start_red_packet(
    *,
    session: AsyncSession,
    actor: Actor,
    live_session_id: int,
    data: RedPacketCreate,
    idempotency_key: str | None = None,
) -> RedPacket:
    """Cut the shares, debit the budget by the whole total and show the packet in the room.
    409 red_packet_budget_insufficient when the budget has less than the total."""
    from liveloop.live.service import check_may_run, check_open, get_live_session

    earlier = await _packet_of_key(session, actor.shop_id, idempotency_key)
    if earlier is not None:
        return earlier
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_may_run(actor, live_session)
    check_open(live_session, "start a red packet")
    await _check_amounts(data)
    await conditions.check_condition(
        session=session, shop_id=actor.shop_id, condition=data.condition
    )
    await _refuse_running(session, shop_id=actor.shop_id, live_session_id=live_session.id)
    now = utcnow()
    starts_at = now + dt.timedelta(seconds=data.starts_in_seconds)
    packet = RedPacket(
        shop_id=actor.shop_id,
        live_session_id=live_session.id,
        greeting=data.greeting.strip(),
        total_fen=data.total_fen,
        count=data.count,
        split=data.split,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(seconds=data.duration_seconds),
        condition=data.condition.model_dump(),
        status=PacketStatus.ACTIVE.value,
        created_by=actor.label[:200],
        idempotency_key=idempotency_key,
    )
    try:
        async with session.begin_nested():
            session.add(packet)
            await session.flush()
    except IntegrityError:
        # The same key on another connection a moment ago: that packet is the answer.
        earlier = await _packet_of_key(session, actor.shop_id, idempotency_key)
        if earlier is None:
            raise
        return earlier
    debit = await move_budget(
        session,
        shop_id=actor.shop_id,
        amount_fen=-data.total_fen,
        kind=BudgetEntryKind.DEBIT,
        red_packet_id=packet.id,
        actor_label=actor.label,
        note=f"red packet {packet.id}",
    )
    if debit is None:
        balance = await get_budget_balance(session=session, shop_id=actor.shop_id)
        raise Conflict(
            f"the red-packet budget is {yuan(balance)}, less than this packet's "
            f"{yuan(data.total_fen)}; top up the budget or lower the total",
            code="red_packet_budget_insufficient",
            field="total_fen",
        )
    shares = split_total(data.split, data.total_fen, data.count)
    await session.execute(
        insert(RedPacketShare),
        [
            {
                "shop_id": actor.shop_id,
                "red_packet_id": packet.id,
                "seq": seq,
                "amount_fen": amount,
                "state": ShareState.OPEN.value,
            }
            for seq, amount in enumerate(shares)
        ],
    )
    await record_audit(
        session=session,
        actor=actor,
        action="red_packet.start",
        target_type="red_packet",
        target_id=packet.id,
        details={
            "live_session_id": live_session.id,
            "total_fen": data.total_fen,
            "count": data.count,
            "split": data.split,
            "starts_at": packet.starts_at.isoformat(),
            "ends_at": packet.ends_at.isoformat(),
            "condition": data.condition.describe(),
            "budget_after_fen": debit.balance_after_fen,
        },
    )
    send_after_commit(
        session,
        live_session_id=live_session.id,
        message=room.message(room.card(packet, grabbed_count=0, now=now)),
    )
    enqueue_after_commit(
        session,
        finish_red_packet_job,
        shop_id=actor.shop_id,
        red_packet_id=packet.id,
        eta=packet.ends_at + dt.timedelta(seconds=1),
    )
    return packet


async def _packet_of_key(
    session: AsyncSession, shop_id: int, idempotency_key: str | None
) -> RedPacket | None:
    if not idempotency_key:
        return None
    found: RedPacket | None = (
        await session.execute(
            select(RedPacket).where(
                RedPacket.shop_id == shop_id, RedPacket.idempotency_key == idempotency_key
            )
        )
    ).scalar_one_or_none()
    return found


async def _refuse_running(session: AsyncSession, *, shop_id: int, live_session_id: int) -> None:
    """One packet at a time in a room (the phone shows one rain); a due one is closed first."""
    now = utcnow()
    for packet in await list_red_packets(
        session=session, shop_id=shop_id, live_session_id=live_session_id, limit=5
    ):
        if packet.status != PacketStatus.ACTIVE.value:
            continue
        if packet.ends_at <= now:
            await close_red_packet(session=session, shop_id=shop_id, red_packet_id=packet.id)
            continue
        raise Conflict(
            f"red packet {packet.id} is still running in this room until "
            f"{packet.ends_at.isoformat(timespec='seconds')}; stop it or wait for its end",
            code="red_packet_running",
            field="live_session_id",
        )


# ---------------------------------------------------------------------------------- closing


async def close_red_packet(
    *,
    session: AsyncSession,
    shop_id: int,
    red_packet_id: int,
    status: PacketStatus = PacketStatus.ENDED,
    actor: Actor | None = None,
    wait: bool = True,
) -> bool:
    """Close an active packet and give its remainder back to the budget, exactly once.
    False when it was closed already (by an earlier call, a job or another process).

    `wait=False` (a grab closing the packet it emptied, holding its share's lock) leaves the
    packet alone when another transaction holds its row: that one is closing it, and waiting
    for it here could deadlock (it waits for the open shares; this grab holds one)."""
    now = utcnow()
    target = RedPacket.id == red_packet_id
    if not wait and session.get_bind().dialect.name == "postgresql":
        target = RedPacket.id == (
            select(RedPacket.id)
            .where(RedPacket.id == red_packet_id)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
    flipped = await session.execute(
        update(RedPacket)
        .where(
            target,
            RedPacket.shop_id == shop_id,
            RedPacket.status == PacketStatus.ACTIVE.value,
        )
        .values(status=status.value, closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if flipped.rowcount != 1:  # type: ignore[attr-defined]
        return False
    returned_rows = await session.execute(
        update(RedPacketShare)
        .where(
            RedPacketShare.red_packet_id == red_packet_id,
            RedPacketShare.state == ShareState.OPEN.value,
        )
        .values(state=ShareState.RETURNED.value)
        .returning(RedPacketShare.amount_fen)
        .execution_options(synchronize_session=False)
    )
    returned = sum(int(amount) for amount in returned_rows.scalars())
    await session.execute(
        update(RedPacket)
        .where(RedPacket.id == red_packet_id)
        .values(returned_fen=returned)
        .execution_options(synchronize_session=False)
    )
    credit = await move_budget(
        session,
        shop_id=shop_id,
        amount_fen=returned,
        kind=BudgetEntryKind.RETURN,
        red_packet_id=red_packet_id,
        actor_label=(actor.label if actor else SYSTEM_LABEL),
        note=f"red packet {red_packet_id}: not grabbed",
    )
    packet = await get_red_packet(session=session, shop_id=shop_id, red_packet_id=red_packet_id)
    await session.refresh(packet)
    await record_audit(
        session=session,
        actor=actor or system_actor(shop_id, SYSTEM_LABEL),
        action=f"red_packet.{'stop' if status == PacketStatus.STOPPED else 'end'}",
        target_type="red_packet",
        target_id=red_packet_id,
        details={
            "returned_fen": returned,
            "budget_after_fen": credit.balance_after_fen if credit else None,
        },
    )
    card = await room_card(session=session, packet=packet, now=now)
    room.ticker.finish_after_commit(session, red_packet_id)
    send_after_commit(session, live_session_id=packet.live_session_id, message=room.message(card))
    return True


async def stop_red_packet(*, session: AsyncSession, actor: Actor, red_packet_id: int) -> RedPacket:
    packet = await get_red_packet(
        session=session, shop_id=actor.shop_id, red_packet_id=red_packet_id
    )
    closed = await close_red_packet(
        session=session,
        shop_id=actor.shop_id,
        red_packet_id=packet.id,
        status=PacketStatus.STOPPED,
        actor=actor,
    )
    if not closed:
        raise Conflict(
            f"red packet {packet.id} has {packet.status} already",
            code="red_packet_ended",
            field="id",
        )
    await session.refresh(packet)
    return packet


async def close_if_due(session: AsyncSession, packet: RedPacket) -> RedPacket:
    """The next read after ends_at, or after the last share went, closes the packet (the
    job may not have run yet; two grabs taking the last shares at once cannot tell)."""
    if packet.status == PacketStatus.ACTIVE.value and (
        packet.ends_at <= utcnow() or not await any_open_share(session, packet.id)
    ):
        await close_red_packet(session=session, shop_id=packet.shop_id, red_packet_id=packet.id)
        await session.refresh(packet)
    return packet


async def close_due_red_packets(*, session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Close every active packet past its end (all shops): the periodic job's work."""
    rows = (
        await session.execute(
            select(RedPacket.shop_id, RedPacket.id).where(
                RedPacket.status == PacketStatus.ACTIVE.value,
                RedPacket.ends_at <= (now or utcnow()),
            )
        )
    ).all()
    closed = 0
    for shop_id, packet_id in rows:
        closed += await close_red_packet(session=session, shop_id=shop_id, red_packet_id=packet_id)
    return closed


@job(retries=3, retry_delay=10)
async def finish_red_packet_job(*, session: AsyncSession, shop_id: int, red_packet_id: int) -> None:
    """Close one packet at its end (idempotent: a closed packet is left alone)."""
    try:
        packet = await get_red_packet(session=session, shop_id=shop_id, red_packet_id=red_packet_id)
    except NotFound:
        return
    await close_if_due(session, packet)


@job(retries=0, periodic=crontab(minute="*"))
async def sweep_red_packets(*, session: AsyncSession) -> None:
    """Every minute: close packets whose end passed (a missed timer, a restarted worker)."""
    await close_due_red_packets(session=session)


async def any_open_share(session: AsyncSession, packet_id: int) -> bool:
    found = await session.execute(
        select(RedPacketShare.id)
        .where(
            and_(
                RedPacketShare.red_packet_id == packet_id,
                RedPacketShare.state == ShareState.OPEN.value,
            )
        )
        .limit(1)
    )
    return found.first() is not None
