"""The shop's red-packet budget: a balance row changed only by conditional UPDATEs, every
change written to an append-only ledger (top-ups by an operator, a packet's debit of its whole
total, the return of what nobody grabbed)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.core.errors import InvalidInput
from liveloop.live.redpackets.models import BudgetEntryKind, RedPacketBudget, RedPacketBudgetEntry
from liveloop.shops.service import Actor, record_audit


async def get_budget_balance(*, session: AsyncSession, shop_id: int) -> int:
    found = (
        await session.execute(
            select(RedPacketBudget.balance_fen).where(RedPacketBudget.shop_id == shop_id)
        )
    ).scalar_one_or_none()
    return int(found or 0)


async def list_budget_entries(
    *, session: AsyncSession, shop_id: int, limit: int = 50
) -> list[RedPacketBudgetEntry]:
    rows = await session.execute(
        select(RedPacketBudgetEntry)
        .where(RedPacketBudgetEntry.shop_id == shop_id)
        .order_by(RedPacketBudgetEntry.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def move_budget(
    session: AsyncSession,
    *,
    shop_id: int,
    amount_fen: int,
    kind: BudgetEntryKind,
    red_packet_id: int | None = None,
    actor_label: str = "",
    note: str = "",
    idempotency_key: str | None = None,
) -> RedPacketBudgetEntry | None:
    """Add `amount_fen` (signed) to the budget only if it stays >= 0; None when it would not."""
    from liveloop.customers.service import insert_ignoring_duplicates

    await session.execute(
        insert_ignoring_duplicates(session, RedPacketBudget).values(
            shop_id=shop_id, balance_fen=0, updated_at=utcnow()
        )
    )
    after = (
        await session.execute(
            update(RedPacketBudget)
            .where(
                RedPacketBudget.shop_id == shop_id,
                RedPacketBudget.balance_fen + amount_fen >= 0,
            )
            .values(balance_fen=RedPacketBudget.balance_fen + amount_fen, updated_at=utcnow())
            .returning(RedPacketBudget.balance_fen)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if after is None:
        return None
    entry = RedPacketBudgetEntry(
        shop_id=shop_id,
        kind=kind.value,
        amount_fen=amount_fen,
        balance_after_fen=int(after),
        red_packet_id=red_packet_id,
        actor_label=actor_label[:200],
        note=note[:200],
        idempotency_key=idempotency_key,
    )
    session.add(entry)
    await session.flush()
    return entry


async def top_up_budget(
    *,
    session: AsyncSession,
    actor: Actor,
    amount_fen: int,
    note: str = "",
    idempotency_key: str | None = None,
) -> RedPacketBudgetEntry:
    """Add money to the shop's red-packet budget. A repeated Idempotency-Key returns the
    first top-up and adds nothing."""
    if amount_fen < 1:
        raise InvalidInput("a top-up is at least ¥0.01", code="invalid_amount", field="amount_fen")
    earlier = await _top_up_of_key(session, actor.shop_id, idempotency_key)
    if earlier is not None:
        return earlier
    try:
        async with session.begin_nested():
            entry = await move_budget(
                session,
                shop_id=actor.shop_id,
                amount_fen=amount_fen,
                kind=BudgetEntryKind.TOP_UP,
                actor_label=actor.label,
                note=note,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # The same key a moment ago on another connection: that top-up counts, not this one.
        earlier = await _top_up_of_key(session, actor.shop_id, idempotency_key)
        if earlier is None:
            raise
        return earlier
    assert entry is not None  # adding never takes the balance below zero
    await record_audit(
        session=session,
        actor=actor,
        action="red_packet.budget_top_up",
        target_type="red_packet_budget",
        target_id=actor.shop_id,
        details={"amount_fen": amount_fen, "balance_fen": entry.balance_after_fen, "note": note},
    )
    return entry


async def _top_up_of_key(
    session: AsyncSession, shop_id: int, idempotency_key: str | None
) -> RedPacketBudgetEntry | None:
    if not idempotency_key:
        return None
    found: RedPacketBudgetEntry | None = (
        await session.execute(
            select(RedPacketBudgetEntry).where(
                RedPacketBudgetEntry.shop_id == shop_id,
                RedPacketBudgetEntry.kind == BudgetEntryKind.TOP_UP.value,
                RedPacketBudgetEntry.idempotency_key == idempotency_key,
            )
        )
    ).scalar_one_or_none()
    return found
