"""Flash sales (秒杀): carve units out of SKU stock, sell them without oversell, give back the rest.

Buying is one reservation then one order, in the buyer's transaction:
1. with Redis configured, a Lua script takes the unit and bumps the buyer's count (a sold-out
   sale or a buyer at the limit is refused there, without touching the database);
2. `flash_sales.sold_count` moves by a conditional UPDATE (`sold_count + n <= quantity`, sale
   active) and the buyer's row in `flash_buyers` by a conditional upsert (`≤ limit`) — the
   database guard, and the only guard on the SQL path;
3. `orders.place_order(kind="flash", price_overrides, stock_already_reserved=True)` and a
   `flash_reservations` row tying the units to the order (the order is placed before the
   UPDATE of step 2, so that the sale row is locked for the shortest time).
If anything in 2–3 fails the Redis units go back at once; a process that dies in between is
repaired by `reconcile_flash_sale` (the database is the truth). An order released before
payment gives its units back through the "order_released" hook.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from huey import crontab
from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import attributes

from liveloop.catalog import service as catalog_service
from liveloop.commerce import hooks
from liveloop.commerce.flash import redis_lua
from liveloop.commerce.flash.models import (
    FlashBuyer,
    FlashReservation,
    FlashSale,
    FlashSaleStatus,
    ReservationStatus,
)
from liveloop.commerce.flash.redis_lua import FlashCounters, SaleTerms
from liveloop.commerce.flash.room import (  # noqa: F401  (re-exported for api, pages)
    StockTicker,
    announce_stock,
    flash_sale_message,
    in_background,
    stock_ticker,
)
from liveloop.commerce.flash.schemas import FlashSaleCreate
from liveloop.core.database import Page, after_commit, get_scoped, paginate, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, LiveLoopError
from liveloop.core.jobs import job
from liveloop.core.settings import Settings
from liveloop.live.outbox import send_after_commit

log = structlog.get_logger(__name__)


def counters_for(settings: Settings | None) -> FlashCounters | None:
    """The Redis counters when Redis is configured as a backend, else None (SQL path)."""
    if settings is None or not settings.redis_url:
        return None
    if "redis" not in (settings.bus_backend, settings.queue_backend):
        return None
    return redis_lua.counters_for_url(settings.redis_url)


def _process_counters() -> FlashCounters | None:
    """Counters of this process (web or worker), for hooks that are not given any."""
    from liveloop.core.jobs import queue

    return counters_for(queue.settings)


# ------------------------------------------------------------------------------ define


async def get_flash_sale(*, session: AsyncSession, shop_id: int, flash_sale_id: int) -> FlashSale:
    return await get_scoped(
        session, FlashSale, shop_id=shop_id, record_id=flash_sale_id, label="flash_sale"
    )


async def list_flash_sales(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[FlashSale]:
    statement = scoped(FlashSale, shop_id).order_by(FlashSale.id.desc())
    if live_session_id is not None:
        statement = statement.where(FlashSale.live_session_id == live_session_id)
    if status:
        statement = statement.where(FlashSale.status == status)
    return await paginate(session, statement, page=page, per_page=per_page)


async def create_flash_sale(
    *, session: AsyncSession, shop_id: int, data: FlashSaleCreate
) -> FlashSale:
    """Carve `quantity` units out of the SKU's stock (refused when short) and open the sale;
    announced in the live room when it belongs to one."""
    sku = await catalog_service.get_sku(session=session, shop_id=shop_id, sku_id=data.sku_id)
    product = await catalog_service.get_product(
        session=session, shop_id=shop_id, product_id=sku.product_id
    )
    if data.price_fen >= sku.price_fen:
        raise InvalidInput(
            f"a flash price must be below the SKU's price of {catalog_service.format_fen(sku.price_fen)}",
            code="flash_price_not_lower",
            field="price_fen",
        )
    if data.ends_at <= utcnow():
        raise InvalidInput("ends_at is in the past", code="invalid_window", field="ends_at")
    if data.live_session_id is not None:
        from liveloop.live.models import LiveSession

        await get_scoped(
            session,
            LiveSession,
            shop_id=shop_id,
            record_id=data.live_session_id,
            label="live_session",
        )
    await catalog_service.reserve_stock(
        session=session,
        shop_id=shop_id,
        lines=[(sku.id, data.quantity)],
        reason="flash_sale",
    )
    sale = FlashSale(
        shop_id=shop_id,
        product_id=product.id,
        sku_id=sku.id,
        live_session_id=data.live_session_id,
        title=data.title or product.name,
        price_fen=data.price_fen,
        original_price_fen=sku.price_fen,
        quantity=data.quantity,
        per_customer_limit=data.per_customer_limit,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
    )
    session.add(sale)
    await session.flush()
    _sold_out_until.pop((shop_id, sale.id), None)  # an id reused after a rollback
    _loaded_at.pop((shop_id, sale.id), None)
    counters = _process_counters()
    if counters is not None:
        # Counters left under this id by a database that was reset (ids start again) must
        # not be read as this sale's: dropped now, before anyone can buy.
        await counters.forget(shop_id=shop_id, sale_id=sale.id)
        # Loaded once committed, so the first burst of buyers does not all find them missing.
        terms = SaleTerms(
            shop_id=shop_id,
            sale_id=sale.id,
            remaining=sale.quantity,
            limit=sale.per_customer_limit,
            starts_at=sale.starts_at,
            ends_at=sale.ends_at,
            active=True,
            buyers={},
        )
        after_commit(session, in_background(lambda: _fresh_counters(counters, terms)))
    if sale.live_session_id is not None:
        send_after_commit(
            session, live_session_id=sale.live_session_id, message=flash_sale_message(sale)
        )
    return sale


async def _fresh_counters(counters: FlashCounters, terms: SaleTerms) -> None:
    await counters.forget(shop_id=terms.shop_id, sale_id=terms.sale_id)
    await counters.load(terms)


async def _finish(
    session: AsyncSession, *, shop_id: int, flash_sale_id: int, status: FlashSaleStatus
) -> int | None:
    """active → stopped/ended, giving unsold units back to SKU stock. None if not active."""
    unsold = (
        await session.execute(
            update(FlashSale)
            .where(
                FlashSale.id == flash_sale_id,
                FlashSale.shop_id == shop_id,
                FlashSale.status == FlashSaleStatus.ACTIVE.value,
            )
            .values(
                status=status.value,
                finished_at=utcnow(),
                returned_quantity=FlashSale.quantity - FlashSale.sold_count,
            )
            .returning(FlashSale.returned_quantity, FlashSale.sku_id)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if unsold is None:
        return None
    returned, sku_id = unsold
    if returned > 0:
        await catalog_service.release_stock(
            session=session, shop_id=shop_id, lines=[(sku_id, returned)], reason="flash_sale_end"
        )
    counters = _process_counters()
    if counters is not None:
        after_commit(
            session,
            in_background(lambda: counters.close_sale(shop_id=shop_id, sale_id=flash_sale_id)),
        )
    return int(returned)


async def stop_flash_sale(*, session: AsyncSession, shop_id: int, flash_sale_id: int) -> FlashSale:
    sale = await get_flash_sale(session=session, shop_id=shop_id, flash_sale_id=flash_sale_id)
    if (
        await _finish(
            session, shop_id=shop_id, flash_sale_id=sale.id, status=FlashSaleStatus.STOPPED
        )
        is None
    ):
        raise Conflict(
            f"flash sale {sale.id} is already {sale.status}", code="flash_not_active", field="id"
        )
    await session.refresh(sale)
    if sale.live_session_id is not None:
        send_after_commit(
            session, live_session_id=sale.live_session_id, message=flash_sale_message(sale)
        )
    return sale


@job(retries=3, retry_delay=30)
async def finish_flash_sale(*, session: AsyncSession, shop_id: int, flash_sale_id: int) -> None:
    """End one sale whose time is up (idempotent: an ended sale is left alone)."""
    sale = await get_flash_sale(session=session, shop_id=shop_id, flash_sale_id=flash_sale_id)
    if sale.ends_at <= utcnow():
        await _finish(session, shop_id=shop_id, flash_sale_id=sale.id, status=FlashSaleStatus.ENDED)


async def finish_ended_flash_sales(*, session: AsyncSession, now: dt.datetime | None = None) -> int:
    """End every active sale past its end (all shops): run by the periodic job."""
    rows = (
        await session.execute(
            select(FlashSale.shop_id, FlashSale.id).where(
                FlashSale.status == FlashSaleStatus.ACTIVE.value,
                FlashSale.ends_at <= (now or utcnow()),
            )
        )
    ).all()
    for shop_id, sale_id in rows:
        await _finish(session, shop_id=shop_id, flash_sale_id=sale_id, status=FlashSaleStatus.ENDED)
    return len(rows)


# --------------------------------------------------------------------------------- buy


def _refusal(
    sale_id: int,
    code: int,
    *,
    quantity: int,
    value: int = 0,
    limit: int = 0,
    starts_at: dt.datetime | None = None,
) -> LiveLoopError:
    if code == redis_lua.SOLD_OUT:
        return Conflict(
            f"flash sale {sale_id} is sold out"
            + (f" (only {value} left, {quantity} wanted)" if value else ""),
            code="sold_out",
            field="quantity",
        )
    if code == redis_lua.LIMIT_REACHED:
        return Conflict(
            f"flash sale {sale_id} allows {limit} per customer; you already hold {value}, "
            f"so {quantity} more is too many",
            code="flash_limit_reached",
            field="quantity",
        )
    if code == redis_lua.NOT_STARTED:
        when = starts_at.isoformat() if starts_at else "later"
        return Conflict(
            f"flash sale {sale_id} starts at {when}", code="flash_not_started", field="id"
        )
    return Conflict(f"flash sale {sale_id} has ended", code="flash_ended", field="id")


def _check_open(sale: FlashSale, now: dt.datetime, quantity: int) -> None:
    if sale.status != FlashSaleStatus.ACTIVE.value or now >= sale.ends_at:
        raise _refusal(sale.id, redis_lua.ENDED, quantity=quantity)
    if now < sale.starts_at:
        raise _refusal(sale.id, redis_lua.NOT_STARTED, quantity=quantity, starts_at=sale.starts_at)
    if quantity > sale.per_customer_limit:
        raise _refusal(
            sale.id, redis_lua.LIMIT_REACHED, quantity=quantity, limit=sale.per_customer_limit
        )


async def _take_units_in_db(
    session: AsyncSession, sale: FlashSale, *, customer_id: int, quantity: int, now: dt.datetime
) -> int:
    """The database guard: sold_count and the buyer's count by conditional updates, in the
    fixed order sale row → buyer row. Returns the sale's remaining units."""
    sold = (
        await session.execute(
            update(FlashSale)
            .where(
                FlashSale.id == sale.id,
                FlashSale.shop_id == sale.shop_id,
                FlashSale.status == FlashSaleStatus.ACTIVE.value,
                FlashSale.sold_count + quantity <= FlashSale.quantity,
                FlashSale.starts_at <= now,
                FlashSale.ends_at > now,
            )
            .values(sold_count=FlashSale.sold_count + quantity)
            .returning(FlashSale.sold_count)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if sold is None:
        raise _refusal(sale.id, redis_lua.SOLD_OUT, quantity=quantity)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(FlashBuyer).values(
        shop_id=sale.shop_id, flash_sale_id=sale.id, customer_id=customer_id, quantity=quantity
    )
    held = (
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=[FlashBuyer.flash_sale_id, FlashBuyer.customer_id],
                set_={"quantity": FlashBuyer.quantity + quantity},
                where=FlashBuyer.quantity + quantity <= sale.per_customer_limit,
            ).returning(FlashBuyer.quantity)
        )
    ).scalar_one_or_none()
    if held is None:
        raise _refusal(
            sale.id, redis_lua.LIMIT_REACHED, quantity=quantity, limit=sale.per_customer_limit
        )
    return sale.quantity - int(sold)


async def _load_counters(session: AsyncSession, counters: FlashCounters, sale: FlashSale) -> None:
    await counters.load(await _terms_from_db(session, sale))


async def _terms_from_db(session: AsyncSession, sale: FlashSale) -> SaleTerms:
    from liveloop.commerce.models import IdempotencyRecord

    await session.refresh(sale)
    buyers = dict(
        (
            await session.execute(
                select(FlashBuyer.customer_id, FlashBuyer.quantity).where(
                    FlashBuyer.flash_sale_id == sale.id
                )
            )
        ).all()
    )
    # The Idempotency-Keys that bought in this sale, so that Redis answers their repeats.
    keys = (
        await session.execute(
            select(FlashReservation.customer_id, IdempotencyRecord.key, FlashReservation.token)
            .join(
                IdempotencyRecord,
                (IdempotencyRecord.resource_id == FlashReservation.order_id)
                & (IdempotencyRecord.shop_id == FlashReservation.shop_id),
            )
            .where(
                FlashReservation.flash_sale_id == sale.id,
                FlashReservation.shop_id == sale.shop_id,
                IdempotencyRecord.resource_type == "order",
                IdempotencyRecord.scope.startswith("flash:"),
            )
        )
    ).all()
    return SaleTerms(
        shop_id=sale.shop_id,
        sale_id=sale.id,
        remaining=sale.remaining,
        limit=sale.per_customer_limit,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
        active=sale.status == FlashSaleStatus.ACTIVE.value,
        buyers=buyers,
        keys={redis_lua.key_field(customer, key): token for customer, key, token in keys},
    )


_loading_locks: dict[tuple[int, int], asyncio.Lock] = {}
_loaded_at: dict[tuple[int, int], float] = {}

# A sale seen sold out (by Redis or the database) is refused from this process's memory for
# a moment, without a round trip: the flood after a sell-out costs nothing. Units can come
# back when an order is released, so the memory is short (and cleared by a local release).
SOLD_OUT_MEMORY = 0.5  # seconds
_sold_out_until: dict[tuple[int, int], float] = {}


def _remember_sold_out(shop_id: int, flash_sale_id: int) -> None:
    _sold_out_until[(shop_id, flash_sale_id)] = time.monotonic() + SOLD_OUT_MEMORY


def _known_sold_out(shop_id: int, flash_sale_id: int) -> bool:
    until = _sold_out_until.get((shop_id, flash_sale_id))
    return until is not None and time.monotonic() < until


DB_GATE = 8  # buyers of one sale in the database at once, per process (below the pool size)
_gates: dict[tuple[int, int], tuple[asyncio.AbstractEventLoop, asyncio.Semaphore, list[int]]] = {}


@asynccontextmanager
async def _sale_gate(shop_id: int, flash_sale_id: int) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    key = (shop_id, flash_sale_id)
    entry = _gates.get(key)
    if entry is None or entry[0] is not loop:  # (a semaphore belongs to one event loop)
        entry = _gates[key] = (loop, asyncio.Semaphore(DB_GATE), [0])
    _, gate, users = entry
    users[0] += 1
    try:
        async with gate:
            yield
    finally:
        users[0] -= 1
        if users[0] == 0 and _gates.get(key) is entry:
            del _gates[key]


async def _reserve_in_redis(
    session: AsyncSession,
    counters: FlashCounters,
    *,
    shop_id: int,
    flash_sale_id: int,
    customer_id: int,
    quantity: int,
    token: str,
    now: dt.datetime,
    key: str | None,
) -> redis_lua.Reserved:
    """Take the units in Redis (OK), or the refusal, or REPLAY; the database is read only
    when the sale's counters are missing (to load them)."""

    async def reserve() -> redis_lua.Reserved:
        return await counters.reserve(
            shop_id=shop_id,
            sale_id=flash_sale_id,
            customer_id=customer_id,
            quantity=quantity,
            token=token,
            now=now,
            key=key,
        )

    result = await reserve()
    if result.code == redis_lua.NOT_LOADED:
        # One load per sale and process at a time: a burst that finds the counters missing
        # (Redis restarted) waits for one database read instead of each doing its own.
        loaded = (shop_id, flash_sale_id)
        async with _loading_locks.setdefault(loaded, asyncio.Lock()):
            # The buyers queued behind the one that loaded go straight on (no round trip each).
            fresh = time.monotonic() - _loaded_at.get(loaded, -60.0) < 5.0
            if not fresh and await counters.version(shop_id=shop_id, sale_id=flash_sale_id) is None:
                sale = await get_flash_sale(
                    session=session, shop_id=shop_id, flash_sale_id=flash_sale_id
                )
                await _load_counters(session, counters, sale)
            _loaded_at[loaded] = time.monotonic()
        result = await reserve()
    if result.code == redis_lua.NOT_LOADED:  # the sale is not this shop's, or was deleted
        await get_flash_sale(session=session, shop_id=shop_id, flash_sale_id=flash_sale_id)
        raise _refusal(flash_sale_id, redis_lua.ENDED, quantity=quantity)
    return result


def _redis_refusal(flash_sale_id: int, result: redis_lua.Reserved, quantity: int) -> LiveLoopError:
    starts_at = None
    if result.code == redis_lua.NOT_STARTED:
        starts_at = dt.datetime.fromtimestamp(result.extra / 1000, tz=dt.UTC)
    return _refusal(
        flash_sale_id,
        result.code,
        quantity=quantity,
        value=result.value,
        limit=result.extra,
        starts_at=starts_at,
    )


async def buy_flash_sale(
    *,
    session: AsyncSession,
    shop_id: int,
    flash_sale_id: int,
    customer_id: int,
    quantity: int = 1,
    address_id: int | None = None,
    counters: FlashCounters | None = None,
    live_session_id: int | None = None,
    source_code: str = "",
    share_code: str = "",
    idempotency_key: str | None = None,
) -> Any:
    """Reserve `quantity` units for the customer and place the flash order (pending
    payment). Refusals: sold_out, flash_limit_reached, flash_not_started, flash_ended.

    A refusal costs no database work: from this process's sold-out memory, or from one
    (batched) Redis call. With an Idempotency-Key, a repeat returns the first order: Redis
    knows each key that took units in the sale, and only such a key, or a refused buyer who
    holds units (a double click still in flight), is looked up in the database."""
    if quantity < 1:
        raise InvalidInput(
            f"quantity must be at least 1 (got {quantity})",
            code="invalid_quantity",
            field="quantity",
        )
    from liveloop.commerce import idempotency, orders

    key = idempotency.check_key(idempotency_key)
    body = {"flash_sale_id": flash_sale_id, "quantity": quantity, "address_id": address_id}
    scope = f"flash:{customer_id}"

    async def claim_key() -> idempotency.KeyClaim:
        # Inserted before the work: a concurrent duplicate waits for the first one's commit.
        return await idempotency.claim_key(
            session=session, shop_id=shop_id, scope=scope, key=key, body=body
        )

    claim = idempotency.KeyClaim(record_id=None, replay_id=None)
    now = utcnow()
    token = secrets.token_hex(16)
    if key is None and _known_sold_out(shop_id, flash_sale_id):
        raise _refusal(flash_sale_id, redis_lua.SOLD_OUT, quantity=quantity)
    reserved = False
    if counters is not None:
        try:
            result = await _reserve_in_redis(
                session,
                counters,
                shop_id=shop_id,
                flash_sale_id=flash_sale_id,
                customer_id=customer_id,
                quantity=quantity,
                token=token,
                now=now,
                key=key,
            )
        except RedisError as error:
            # Redis down or overloaded: the database guard alone still never oversells (the
            # counters drift and the reconciliation job puts them right).
            log.warning("flash_redis_unavailable", error=repr(error), flash_sale_id=flash_sale_id)
            counters = None
        else:
            reserved = result.code == redis_lua.OK
            if result.code == redis_lua.SOLD_OUT:
                _remember_sold_out(shop_id, flash_sale_id)
            if (
                not reserved
                and key is not None
                and (result.code == redis_lua.REPLAY or result.held > 0)
            ):
                # This key took units here, or the buyer holds some (the first click of a
                # double click may still be in flight): the database has the answer.
                replay_id = await _first_result(
                    session, claim_key, wait=result.code == redis_lua.REPLAY
                )
                if replay_id is not None:
                    return await orders.get_order(
                        session=session, shop_id=shop_id, order_id=replay_id
                    )
                if result.code == redis_lua.REPLAY:  # the first request is taking long
                    raise Conflict(
                        f"a request with Idempotency-Key {key!r} is still being processed; "
                        "retry shortly",
                        code="idempotency_in_progress",
                        field="Idempotency-Key",
                    )
            if not reserved:
                raise _redis_refusal(flash_sale_id, result, quantity)
    try:
        # At most DB_GATE buyers of a sale at a time in the database (per process): the others
        # wait here, not for a pooled connection (no pool timeouts in a burst), and on the
        # SQL path a buyer let in after the sell-out is refused from memory.
        async with _sale_gate(shop_id, flash_sale_id):
            if counters is None and key is None and _known_sold_out(shop_id, flash_sale_id):
                raise _refusal(flash_sale_id, redis_lua.SOLD_OUT, quantity=quantity)
            if key is not None and claim.record_id is None:
                claim = await claim_key()
                if claim.replay_id is not None:  # a double click: the first order, no second one
                    if reserved and counters is not None:
                        await _cancel_in_redis(
                            counters, shop_id, flash_sale_id, customer_id, quantity, token
                        )
                        reserved = False
                    return await orders.get_order(
                        session=session, shop_id=shop_id, order_id=claim.replay_id
                    )
                if counters is None and _known_sold_out(shop_id, flash_sale_id):
                    raise _refusal(flash_sale_id, redis_lua.SOLD_OUT, quantity=quantity)
            sale = await get_flash_sale(
                session=session, shop_id=shop_id, flash_sale_id=flash_sale_id
            )
            _check_open(sale, now, quantity)
            if counters is None and sale.sold_count + quantity > sale.quantity:
                # Fast refusal without waiting for the sale row's lock; the UPDATE below is the guard.
                raise _refusal(sale.id, redis_lua.SOLD_OUT, quantity=quantity, value=sale.remaining)
            # The order first, the units last: on PostgreSQL the sale row stays locked from the
            # conditional UPDATE to the commit, so that stretch holds as few statements as it can.
            async with session.begin_nested():
                order = await _place_flash_order(
                    session,
                    sale,
                    customer_id=customer_id,
                    quantity=quantity,
                    address_id=address_id,
                    live_session_id=live_session_id or sale.live_session_id,
                    source_code=source_code,
                    share_code=share_code,
                )
                await _record_reserved_event(
                    session, sale, customer_id=customer_id, quantity=quantity, order=order
                )
                await idempotency.complete_key(
                    session=session, claim=claim, resource_type="order", resource_id=order.id
                )
                remaining = await _take_units_in_db(
                    session, sale, customer_id=customer_id, quantity=quantity, now=now
                )
                session.add(
                    FlashReservation(
                        shop_id=shop_id,
                        flash_sale_id=sale.id,
                        customer_id=customer_id,
                        order_id=order.id,
                        quantity=quantity,
                        token=token,
                    )
                )
                await session.flush()
    except BaseException as error:
        if isinstance(error, Conflict) and error.code == "sold_out":
            _remember_sold_out(shop_id, flash_sale_id)
        if reserved and counters is not None:
            await _cancel_in_redis(counters, shop_id, flash_sale_id, customer_id, quantity, token)
        raise
    # The loaded row in step with the UPDATE (set only now: a rolled-back savepoint keeps it).
    attributes.set_committed_value(sale, "sold_count", sale.quantity - remaining)
    if counters is not None:
        confirming = counters
        after_commit(
            session,
            in_background(
                lambda: confirming.confirm(shop_id=shop_id, sale_id=sale.id, token=token)
            ),
        )
    announce_stock(session, sale, remaining)
    return order


REPLAY_WAIT = 5.0  # seconds a repeat waits for the first request's order to be committed


async def _first_result(
    session: AsyncSession, claim_key: Callable[[], Awaitable[Any]], *, wait: bool
) -> int | None:
    """The order id of the key's first request, if it has one. Redis said the key took units
    (`wait`): the first request may not have written its key row yet (it does so just after
    its reservation), so the row this one inserts is taken back and the claim tried again
    until the first one's row is there (the insert then waits for its commit)."""
    deadline = time.monotonic() + REPLAY_WAIT
    while True:
        savepoint = await session.begin_nested()
        claim = await claim_key()
        if claim.replay_id is not None:
            await savepoint.commit()
            return int(claim.replay_id)
        await savepoint.rollback()  # no first result: this row must not block the first one
        if not wait or time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.02)


async def _cancel_in_redis(
    counters: FlashCounters,
    shop_id: int,
    flash_sale_id: int,
    customer_id: int,
    quantity: int,
    token: str,
) -> None:
    """A Redis reservation that will not become an order: its units come back at once (and
    this process forgets that the sale was sold out: the next buyer may have them)."""
    try:
        await counters.cancel(
            shop_id=shop_id,
            sale_id=flash_sale_id,
            customer_id=customer_id,
            quantity=quantity,
            token=token,
        )
    except RedisError as redis_error:  # the pending token is settled by reconcile
        log.warning("flash_cancel_failed", error=repr(redis_error), token=token)
        return
    _sold_out_until.pop((shop_id, flash_sale_id), None)


async def _place_flash_order(
    session: AsyncSession,
    sale: FlashSale,
    *,
    customer_id: int,
    quantity: int,
    address_id: int | None,
    live_session_id: int | None,
    source_code: str,
    share_code: str,
) -> Any:
    from liveloop.commerce import orders
    from liveloop.commerce.checkout import LineRequest

    return await orders.place_order(
        session=session,
        shop_id=sale.shop_id,
        customer_id=customer_id,
        lines=[LineRequest(sku_id=sale.sku_id, quantity=quantity)],
        address_id=address_id,
        live_session_id=live_session_id,
        source_code=source_code,
        share_code=share_code,
        price_overrides={sale.sku_id: sale.price_fen},
        kind="flash",
        stock_already_reserved=True,
        attribution={"flash_sale_id": sale.id},
    )


async def _record_reserved_event(
    session: AsyncSession, sale: FlashSale, *, customer_id: int, quantity: int, order: Any
) -> None:
    from liveloop.events import service as events_service

    item: dict[str, Any] = {
        "type": "flash_reserved",
        "customer_id": customer_id,
        "product_id": sale.product_id,
        "properties": {
            "flash_sale_id": sale.id,
            "order_id": order.id,
            "quantity": quantity,
            "price_fen": sale.price_fen,
        },
    }
    if sale.live_session_id is not None:
        item["live_session_id"] = sale.live_session_id
    await events_service.ingest_events(
        session=session, shop_id=sale.shop_id, items=[item], mark_customers_active=False
    )


# ------------------------------------------------------------------------ give back


@hooks.on("order_released")
async def release_flash_units(*, session: AsyncSession, order: Any, **_: Any) -> None:
    """An unpaid flash order expired or was cancelled: its units go back to the sale (or, once
    the sale has finished, to SKU stock). Runs once per order (conditional status move)."""
    if getattr(order, "kind", "normal") != "flash":
        return
    released = (
        await session.execute(
            update(FlashReservation)
            .where(
                FlashReservation.order_id == order.id,
                FlashReservation.shop_id == order.shop_id,
                FlashReservation.status == ReservationStatus.ORDERED.value,
            )
            .values(status=ReservationStatus.RELEASED.value, released_at=utcnow())
            .returning(
                FlashReservation.flash_sale_id,
                FlashReservation.customer_id,
                FlashReservation.quantity,
            )
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if released is None:
        return
    sale_id, customer_id, quantity = released
    await give_units_back(
        session,
        shop_id=order.shop_id,
        flash_sale_id=sale_id,
        customer_id=customer_id,
        quantity=quantity,
    )


async def give_units_back(
    session: AsyncSession, *, shop_id: int, flash_sale_id: int, customer_id: int, quantity: int
) -> None:
    sale = await get_flash_sale(session=session, shop_id=shop_id, flash_sale_id=flash_sale_id)
    await session.execute(
        update(FlashBuyer)
        .where(
            FlashBuyer.flash_sale_id == sale.id,
            FlashBuyer.customer_id == customer_id,
            FlashBuyer.quantity >= quantity,
        )
        .values(quantity=FlashBuyer.quantity - quantity)
        .execution_options(synchronize_session=False)
    )
    still_active = (
        await session.execute(
            update(FlashSale)
            .where(
                FlashSale.id == sale.id,
                FlashSale.status == FlashSaleStatus.ACTIVE.value,
                FlashSale.sold_count >= quantity,
            )
            .values(sold_count=FlashSale.sold_count - quantity)
            .returning(FlashSale.sold_count)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if still_active is not None:
        attributes.set_committed_value(sale, "sold_count", still_active)
    if still_active is None:
        # The sale has finished: these units go straight back to the SKU.
        await session.execute(
            update(FlashSale)
            .where(FlashSale.id == sale.id, FlashSale.sold_count >= quantity)
            .values(
                sold_count=FlashSale.sold_count - quantity,
                returned_quantity=FlashSale.returned_quantity + quantity,
            )
            .execution_options(synchronize_session=False)
        )
        await catalog_service.release_stock(
            session=session,
            shop_id=shop_id,
            lines=[(sale.sku_id, quantity)],
            reason="flash_order_released",
        )
        await session.refresh(sale)
        return
    _sold_out_until.pop((shop_id, sale.id), None)
    counters = _process_counters()
    if counters is not None:
        after_commit(
            session,
            in_background(
                lambda: counters.give_back(
                    shop_id=shop_id,
                    sale_id=sale.id,
                    customer_id=customer_id,
                    quantity=quantity,
                )
            ),
        )
    announce_stock(session, sale, sale.quantity - int(still_active))


@job(retries=0, periodic=crontab(minute="*"))
async def sweep_flash_sales(*, session: AsyncSession) -> None:
    """Every minute: end sales whose time is up (unsold units back to stock) and repair the
    Redis counters of the others from the database."""
    from liveloop.commerce.flash.reconcile import reconcile_active_flash_sales

    await finish_ended_flash_sales(session=session)
    await reconcile_active_flash_sales(session=session)
