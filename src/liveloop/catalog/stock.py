"""Stock changes: conditional UPDATEs only (never read-modify-write), each one recorded.

Every function here changes `skus.stock` with `... WHERE stock + :delta >= 0`, so two
requests racing for the last unit cannot both win, on SQLite or on PostgreSQL; several SKUs
are touched in primary-key order so concurrent multi-line reservations cannot deadlock.
Reach these through `catalog.service` (they are re-exported there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import attributes
from sqlalchemy.orm.util import identity_key

from liveloop.catalog.models import MAX_STOCK, Product, Sku, StockMovement
from liveloop.core.database import Page, get_scoped, paginate, scoped
from liveloop.core.errors import InvalidInput, NotFound


def _merge_lines(lines: Iterable[tuple[int, int]], *, field: str = "lines") -> dict[int, int]:
    """(sku id, quantity) pairs, repeated SKUs summed, in primary-key order."""
    merged: dict[int, int] = {}
    for index, (sku_id, quantity) in enumerate(lines):
        if quantity <= 0:
            raise InvalidInput(
                f"quantity must be at least 1 (got {quantity})",
                code="invalid_quantity",
                field=f"{field}[{index}].quantity",
            )
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    return dict(sorted(merged.items()))


def _sync_loaded_stock(session: AsyncSession, sku_id: int, stock: int) -> None:
    """Keep a SKU already loaded in this session in step with the UPDATE just run."""
    sku = session.sync_session.identity_map.get(identity_key(Sku, sku_id))
    if sku is not None:
        attributes.set_committed_value(sku, "stock", stock)


async def _conditional_add(
    session: AsyncSession, *, shop_id: int, sku_id: int, delta: int, require_active: bool
) -> int | None:
    """`UPDATE skus SET stock = stock + delta WHERE … AND 0 <= stock + delta <= MAX_STOCK`; the
    new stock, or None when the row was not changed (missing, inactive, short or too full)."""
    conditions = [
        Sku.id == sku_id,
        Sku.shop_id == shop_id,
        Sku.stock + delta >= 0,
        Sku.stock + delta <= MAX_STOCK,
    ]
    if require_active:
        conditions.append(Sku.is_active.is_(True))
    statement = (
        update(Sku)
        .where(*conditions)
        .values(stock=Sku.stock + delta)
        .returning(Sku.stock)
        .execution_options(synchronize_session=False)
    )
    stock: int | None = (await session.execute(statement)).scalar_one_or_none()
    return stock


async def _record_movements(
    session: AsyncSession,
    *,
    shop_id: int,
    changes: Sequence[tuple[int, int, int]],
    reason: str,
    actor_label: str | None,
) -> None:
    """Append (sku id, delta, stock after) rows to stock_movements in one executemany."""
    if not changes:
        return
    await session.execute(
        insert(StockMovement),
        [
            {
                "shop_id": shop_id,
                "sku_id": sku_id,
                "delta": delta,
                "stock_after": after,
                "reason": reason[:64],
                "actor_label": actor_label,
            }
            for sku_id, delta, after in changes
        ],
    )


async def adjust_stock(
    *,
    session: AsyncSession,
    shop_id: int,
    sku_id: int,
    delta: int,
    reason: str,
    actor_label: str | None = None,
) -> int:
    """Add (or, negative, remove) stock by hand: restock, stocktake, damage. Returns the new
    stock; refuses to go below zero. Works on inactive SKUs too (stock can be counted while
    a SKU is not sold)."""
    if delta == 0:
        raise InvalidInput("delta must not be 0", code="invalid_delta", field="delta")
    stock = await _conditional_add(
        session, shop_id=shop_id, sku_id=sku_id, delta=delta, require_active=False
    )
    if stock is None:
        sku = await get_scoped(session, Sku, shop_id=shop_id, record_id=sku_id, label="sku")
        if sku.stock + delta > MAX_STOCK:
            raise InvalidInput(
                f"SKU {sku.code} has {sku.stock} in stock; adding {delta} would pass the "
                f"limit of {MAX_STOCK} units",
                code="stock_limit",
                field="delta",
            )
        raise InvalidInput(
            f"SKU {sku.code} has {sku.stock} in stock; cannot remove {-delta}",
            code="insufficient_stock",
            field="delta",
            details=[
                {
                    "code": "insufficient_stock",
                    "sku_id": sku_id,
                    "wanted": -delta,
                    "available": sku.stock,
                }
            ],
        )
    _sync_loaded_stock(session, sku_id, stock)
    await _record_movements(
        session,
        shop_id=shop_id,
        changes=[(sku_id, delta, stock)],
        reason=reason,
        actor_label=actor_label,
    )
    return stock


async def reserve_stock(
    *,
    session: AsyncSession,
    shop_id: int,
    lines: Sequence[tuple[int, int]],
    reason: str = "reserve",
    actor_label: str | None = None,
) -> dict[int, int]:
    """Take stock for several SKUs at once, all or nothing.

    `lines` are (sku id, quantity). SKUs are decremented in primary-key order. When any line is
    short (or its SKU is inactive) nothing changes and one InvalidInput(code=
    "insufficient_stock") lists every short line in `details`. Returns {sku id: stock left}.
    """
    wanted = _merge_lines(lines)
    if not wanted:
        raise InvalidInput("nothing to reserve", code="invalid_quantity", field="lines")
    left: dict[int, int] = {}
    short: list[int] = []
    # The UPDATEs come first (no read before them): on SQLite a read would pin a snapshot that
    # a concurrent writer can invalidate. One savepoint gives earlier lines back when a later
    # one is short.
    savepoint = await session.begin_nested() if len(wanted) > 1 else None
    try:
        for sku_id, quantity in wanted.items():
            stock = await _conditional_add(
                session, shop_id=shop_id, sku_id=sku_id, delta=-quantity, require_active=True
            )
            if stock is None:
                short.append(sku_id)
            else:
                left[sku_id] = stock
    except BaseException:
        if savepoint is not None:
            await savepoint.rollback()
        raise
    if short:
        if savepoint is not None:
            await savepoint.rollback()
        await _check_skus_exist(session, shop_id=shop_id, sku_ids=short)
        raise await _insufficient_stock(session, shop_id=shop_id, wanted=wanted, short=short)
    if savepoint is not None:
        await savepoint.commit()
    for sku_id, stock in left.items():
        _sync_loaded_stock(session, sku_id, stock)
    await _record_movements(
        session,
        shop_id=shop_id,
        changes=[(sku_id, -wanted[sku_id], stock) for sku_id, stock in left.items()],
        reason=reason,
        actor_label=actor_label,
    )
    return left


async def release_stock(
    *,
    session: AsyncSession,
    shop_id: int,
    lines: Sequence[tuple[int, int]],
    reason: str = "release",
    actor_label: str | None = None,
) -> dict[int, int]:
    """Give reserved stock back (cancelled or expired order). SKUs that no longer exist are
    skipped: there is nothing to give back to. Returns {sku id: stock now}."""
    given = _merge_lines(lines)
    returned: dict[int, int] = {}
    for sku_id, quantity in given.items():
        stock = await _conditional_add(
            session, shop_id=shop_id, sku_id=sku_id, delta=quantity, require_active=False
        )
        if stock is not None:
            returned[sku_id] = stock
            _sync_loaded_stock(session, sku_id, stock)
    await _record_movements(
        session,
        shop_id=shop_id,
        changes=[(sku_id, given[sku_id], stock) for sku_id, stock in returned.items()],
        reason=reason,
        actor_label=actor_label,
    )
    return returned


async def record_sold(
    *, session: AsyncSession, shop_id: int, lines: Sequence[tuple[int, int]]
) -> None:
    """Count units as sold (on payment); a negative quantity takes a refund back out."""
    for sku_id, quantity in sorted(lines):
        statement = (
            update(Sku)
            .where(Sku.id == sku_id, Sku.shop_id == shop_id, Sku.sold_count + quantity >= 0)
            .values(sold_count=Sku.sold_count + quantity)
            .returning(Sku.sold_count)
            .execution_options(synchronize_session=False)
        )
        sold = (await session.execute(statement)).scalar_one_or_none()
        loaded = session.sync_session.identity_map.get(identity_key(Sku, sku_id))
        if sold is not None and loaded is not None:
            attributes.set_committed_value(loaded, "sold_count", sold)


async def _check_skus_exist(session: AsyncSession, *, shop_id: int, sku_ids: list[int]) -> None:
    found = set(
        (await session.execute(scoped(Sku, shop_id, Sku.id).where(Sku.id.in_(sku_ids)))).scalars()
    )
    missing = [sku_id for sku_id in sku_ids if sku_id not in found]
    if missing:
        raise NotFound(
            f"sku {missing[0]} was not found",
            code="sku_not_found",
            details=[{"code": "sku_not_found", "sku_id": sku_id} for sku_id in missing],
        )


async def _insufficient_stock(
    session: AsyncSession, *, shop_id: int, wanted: dict[int, int], short: list[int]
) -> InvalidInput:
    rows = (
        await session.execute(
            select(Sku.id, Sku.stock, Sku.is_active, Sku.specs, Product.name)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.shop_id == shop_id, Sku.id.in_(short))
            .order_by(Sku.id)
        )
    ).all()
    details: list[dict[str, Any]] = []
    for sku_id, stock, is_active, specs, product_name in rows:
        label = " / ".join(str(v) for v in (specs or {}).values())
        name = f"{product_name} {label}".strip()
        available = stock if is_active else 0
        details.append(
            {
                "code": "insufficient_stock" if is_active else "sku_inactive",
                "message": f"{name}: wanted {wanted[sku_id]}, {available} available",
                "sku_id": sku_id,
                "name": name,
                "wanted": wanted[sku_id],
                "available": available,
            }
        )
    summary = "; ".join(d["message"] for d in details)
    return InvalidInput(
        f"not enough stock for {len(details)} item(s): {summary}",
        code="insufficient_stock",
        details=details,
    )


async def list_stock_movements(
    *, session: AsyncSession, shop_id: int, sku_id: int, page: int = 1, per_page: int = 50
) -> Page[StockMovement]:
    """A SKU's stock history, newest first."""
    await get_scoped(session, Sku, shop_id=shop_id, record_id=sku_id, label="sku")
    statement = (
        scoped(StockMovement, shop_id)
        .where(StockMovement.sku_id == sku_id)
        .order_by(StockMovement.id.desc())
    )
    return await paginate(session, statement, page=page, per_page=per_page)
