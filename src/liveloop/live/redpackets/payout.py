"""Where a grabbed amount goes: the payout provider interface and the default one, the
customer's red-packet balance (红包余额), an append-only ledger with a balance row beside it.

A real-money payout (WeChat Pay 企业付款, Alipay transfer) would be another provider with the
same `pay` method, chosen as payment providers are. Spending the balance at checkout is not
built yet; `spend_balance` is the one conditional debit it would call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict
from liveloop.live.redpackets.models import RedPacketBalanceEntry, RedPacketWallet


@dataclass(frozen=True)
class Payout:
    provider: str
    reference: str  # the provider's id of the credit (here the ledger entry id)
    balance_fen: int | None  # the customer's balance after it, where the provider knows it


class RedPacketPayout(Protocol):
    name: str

    async def pay(
        self,
        *,
        session: AsyncSession,
        shop_id: int,
        customer_id: int,
        amount_fen: int,
        red_packet_id: int,
        share_id: int,
    ) -> Payout: ...


async def _ensure_wallet(session: AsyncSession, *, shop_id: int, customer_id: int) -> None:
    from liveloop.customers.service import insert_ignoring_duplicates

    await session.execute(
        insert_ignoring_duplicates(session, RedPacketWallet).values(
            shop_id=shop_id, customer_id=customer_id, balance_fen=0, updated_at=utcnow()
        )
    )


async def _move(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_id: int,
    amount_fen: int,
    kind: str,
    red_packet_id: int | None = None,
    share_id: int | None = None,
    note: str = "",
) -> RedPacketBalanceEntry | None:
    """Add `amount_fen` (signed) to the wallet only if it stays >= 0, and write the entry."""
    await _ensure_wallet(session, shop_id=shop_id, customer_id=customer_id)
    after = (
        await session.execute(
            update(RedPacketWallet)
            .where(
                RedPacketWallet.shop_id == shop_id,
                RedPacketWallet.customer_id == customer_id,
                RedPacketWallet.balance_fen + amount_fen >= 0,
            )
            .values(balance_fen=RedPacketWallet.balance_fen + amount_fen, updated_at=utcnow())
            .returning(RedPacketWallet.balance_fen)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if after is None:
        return None
    entry = RedPacketBalanceEntry(
        shop_id=shop_id,
        customer_id=customer_id,
        kind=kind,
        amount_fen=amount_fen,
        balance_after_fen=int(after),
        red_packet_id=red_packet_id,
        share_id=share_id,
        note=note,
    )
    session.add(entry)
    await session.flush()
    return entry


class BalancePayout:
    """Credit the customer's red-packet balance (the default provider)."""

    name = "balance"

    async def pay(
        self,
        *,
        session: AsyncSession,
        shop_id: int,
        customer_id: int,
        amount_fen: int,
        red_packet_id: int,
        share_id: int,
    ) -> Payout:
        entry = await _move(
            session,
            shop_id=shop_id,
            customer_id=customer_id,
            amount_fen=amount_fen,
            kind="grab",
            red_packet_id=red_packet_id,
            share_id=share_id,
        )
        assert entry is not None  # a credit always keeps the balance >= 0
        return Payout(
            provider=self.name, reference=str(entry.id), balance_fen=entry.balance_after_fen
        )


async def balance_of(*, session: AsyncSession, shop_id: int, customer_id: int) -> int:
    found = (
        await session.execute(
            select(RedPacketWallet.balance_fen).where(
                RedPacketWallet.shop_id == shop_id, RedPacketWallet.customer_id == customer_id
            )
        )
    ).scalar_one_or_none()
    return int(found or 0)


async def balance_entries(
    *, session: AsyncSession, shop_id: int, customer_id: int, limit: int = 20
) -> list[RedPacketBalanceEntry]:
    rows = await session.execute(
        select(RedPacketBalanceEntry)
        .where(
            RedPacketBalanceEntry.shop_id == shop_id,
            RedPacketBalanceEntry.customer_id == customer_id,
        )
        .order_by(RedPacketBalanceEntry.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def spend_balance(
    *, session: AsyncSession, shop_id: int, customer_id: int, amount_fen: int, note: str = ""
) -> RedPacketBalanceEntry:
    """Take `amount_fen` from the balance, or refuse (409) when it has less: never negative."""
    entry = await _move(
        session,
        shop_id=shop_id,
        customer_id=customer_id,
        amount_fen=-abs(amount_fen),
        kind="spend",
        note=note,
    )
    if entry is None:
        have = await balance_of(session=session, shop_id=shop_id, customer_id=customer_id)
        raise Conflict(
            f"the red-packet balance is ¥{have / 100:.2f}, less than ¥{amount_fen / 100:.2f}",
            code="red_packet_balance_insufficient",
            field="amount_fen",
        )
    return entry


DEFAULT_PAYOUT: RedPacketPayout = BalancePayout()
