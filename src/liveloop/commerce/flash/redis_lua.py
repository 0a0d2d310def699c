"""Flash-sale counters in Redis: one Lua script takes a unit and bumps the buyer's count.

The database stays the truth (`flash_sales.sold_count`, `flash_buyers`, guarded by their own
conditional UPDATEs); Redis is the fast gate in front of it, so once a sale is sold out (or a
buyer is at the limit) the refusal costs one Redis round trip and no database work.

Keys of one sale (`ll:flash:{shop}:{sale}` = K):
  K            hash: remaining, limit, starts (epoch ms), ends (epoch ms), active (1/0), ver
  K:buyers     hash: customer id → units held
  K:pending    hash: token → "customer:quantity" for reservations not yet confirmed
  K:pending_at sorted set: token by the time it was taken (ms)

A reservation is taken (`reserve`), then either confirmed once the order's transaction has
committed (`confirm`: drops the token) or cancelled (`cancel`: units and count go back). A
process that dies in between leaves a pending token: `reconcile` settles tokens older than a
grace period against the database (is there a reservation row with this token?) and, when no
reservation is in flight, resets the counters from the database if they drifted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Results of the reserve script.
OK, SOLD_OUT, LIMIT_REACHED, NOT_LOADED, NOT_STARTED, ENDED = 1, -1, -2, -3, -4, -5

RESERVE = """
local k = KEYS[1]
local active = redis.call('HGET', k, 'active')
if not active then return {-3, 0} end
if active ~= '1' then return {-5, 0} end
local now = tonumber(ARGV[4])
if now < tonumber(redis.call('HGET', k, 'starts')) then return {-4, 0} end
if now >= tonumber(redis.call('HGET', k, 'ends')) then return {-5, 0} end
local qty = tonumber(ARGV[2])
local remaining = tonumber(redis.call('HGET', k, 'remaining'))
if remaining < qty then return {-1, remaining} end
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if held + qty > tonumber(redis.call('HGET', k, 'limit')) then return {-2, held} end
remaining = redis.call('HINCRBY', k, 'remaining', -qty)
redis.call('HINCRBY', KEYS[2], ARGV[1], qty)
redis.call('HINCRBY', k, 'ver', 1)
redis.call('HSET', KEYS[3], ARGV[3], ARGV[1] .. ':' .. ARGV[2])
redis.call('ZADD', KEYS[4], now, ARGV[3])
return {1, remaining}
"""

# Give units back: a cancelled reservation (token given) or a released order (token '').
GIVE_BACK = """
local k = KEYS[1]
if ARGV[3] ~= '' then
  if redis.call('HDEL', KEYS[3], ARGV[3]) == 0 then return -1 end
  redis.call('ZREM', KEYS[4], ARGV[3])
end
if not redis.call('HGET', k, 'active') then return -3 end
local qty = tonumber(ARGV[2])
local remaining = redis.call('HINCRBY', k, 'remaining', qty)
local held = redis.call('HINCRBY', KEYS[2], ARGV[1], -qty)
if held <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
redis.call('HINCRBY', k, 'ver', 1)
return remaining
"""

CONFIRM = """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
"""

# Load the counters unless they exist (ARGV: remaining, limit, starts, ends, active, then
# customer/quantity pairs). Several processes may race to load: the first one wins.
LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'remaining', ARGV[1], 'limit', ARGV[2], 'starts', ARGV[3],
           'ends', ARGV[4], 'active', ARGV[5], 'ver', 0)
redis.call('DEL', KEYS[2])
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
"""

# Overwrite the counters from the database, only if nothing moved since `ver` was read and no
# reservation is in flight (so the database figures read in between are still the truth).
RESET = """
if redis.call('HGET', KEYS[1], 'ver') ~= ARGV[1] then return 0 end
if redis.call('HLEN', KEYS[3]) > 0 then return 0 end
redis.call('HSET', KEYS[1], 'remaining', ARGV[2], 'active', ARGV[3])
redis.call('DEL', KEYS[2])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
return 1
"""


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Reserved:
    code: int  # OK or one of the refusals
    value: int  # remaining after it (OK, SOLD_OUT) or units held (LIMIT_REACHED)


@dataclass(frozen=True)
class SaleTerms:
    """What the counters need to know of a sale (read from the database when loading)."""

    shop_id: int
    sale_id: int
    remaining: int
    limit: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    active: bool
    buyers: dict[int, int]


class FlashCounters:
    """The Redis side of flash sales, on one redis.asyncio client."""

    def __init__(self, client: Any, *, prefix: str = "ll:flash") -> None:
        self.client = client
        self.prefix = prefix
        self._reserve = client.register_script(RESERVE)
        self._give_back = client.register_script(GIVE_BACK)
        self._confirm = client.register_script(CONFIRM)
        self._load = client.register_script(LOAD)
        self._reset = client.register_script(RESET)

    @classmethod
    def from_url(cls, url: str) -> FlashCounters:
        import redis.asyncio as redis

        # Blocking pool: a burst of buyers waits for a connection instead of failing with
        # "Too many connections" (a sold-out refusal must stay a refusal, not an error).
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=20, decode_responses=True
        )
        return cls(redis.Redis(connection_pool=pool))

    def keys(self, shop_id: int, sale_id: int) -> list[str]:
        base = f"{self.prefix}:{shop_id}:{sale_id}"
        return [base, f"{base}:buyers", f"{base}:pending", f"{base}:pending_at"]

    async def reserve(
        self,
        *,
        shop_id: int,
        sale_id: int,
        customer_id: int,
        quantity: int,
        token: str,
        now: dt.datetime,
    ) -> Reserved:
        code, value = await self._reserve(
            keys=self.keys(shop_id, sale_id), args=[customer_id, quantity, token, _ms(now)]
        )
        return Reserved(int(code), int(value))

    async def confirm(self, *, shop_id: int, sale_id: int, token: str) -> None:
        await self._confirm(keys=self.keys(shop_id, sale_id)[2:], args=[token])

    async def cancel(
        self, *, shop_id: int, sale_id: int, customer_id: int, quantity: int, token: str
    ) -> None:
        """A reservation that did not become an order: its units and count come back."""
        await self._give_back(keys=self.keys(shop_id, sale_id), args=[customer_id, quantity, token])

    async def give_back(
        self, *, shop_id: int, sale_id: int, customer_id: int, quantity: int
    ) -> None:
        """A released order's units (the database has given them back already)."""
        await self._give_back(keys=self.keys(shop_id, sale_id), args=[customer_id, quantity, ""])

    async def load(self, terms: SaleTerms) -> bool:
        return bool(
            await self._load(
                keys=self.keys(terms.shop_id, terms.sale_id)[:2],
                args=[
                    terms.remaining,
                    terms.limit,
                    _ms(terms.starts_at),
                    _ms(terms.ends_at),
                    1 if terms.active else 0,
                    *_pairs(terms.buyers),
                ],
            )
        )

    async def close_sale(self, *, shop_id: int, sale_id: int) -> None:
        """The sale stopped or ended: refuse at once from now on."""
        key = self.keys(shop_id, sale_id)[0]
        if await self.client.exists(key):
            await self.client.hset(key, "active", 0)

    async def remaining(self, *, shop_id: int, sale_id: int) -> int | None:
        value = await self.client.hget(self.keys(shop_id, sale_id)[0], "remaining")
        return None if value is None else int(value)

    async def version(self, *, shop_id: int, sale_id: int) -> str | None:
        value = await self.client.hget(self.keys(shop_id, sale_id)[0], "ver")
        return None if value is None else str(value)

    async def stale_tokens(
        self, *, shop_id: int, sale_id: int, older_than: dt.datetime
    ) -> list[tuple[str, int, int]]:
        """(token, customer id, quantity) of reservations pending since before `older_than`."""
        keys = self.keys(shop_id, sale_id)
        tokens = await self.client.zrangebyscore(keys[3], "-inf", _ms(older_than))
        found: list[tuple[str, int, int]] = []
        for token in tokens:
            value = await self.client.hget(keys[2], token)
            if value is None:
                await self.client.zrem(keys[3], token)
                continue
            customer, quantity = value.split(":")
            found.append((token, int(customer), int(quantity)))
        return found

    async def reset(self, terms: SaleTerms, *, version: str) -> bool:
        keys = self.keys(terms.shop_id, terms.sale_id)
        return bool(
            await self._reset(
                keys=keys[:3],
                args=[version, terms.remaining, 1 if terms.active else 0, *_pairs(terms.buyers)],
            )
        )

    async def forget(self, *, shop_id: int, sale_id: int) -> None:
        await self.client.delete(*self.keys(shop_id, sale_id))

    async def aclose(self) -> None:
        await self.client.aclose()


def _pairs(buyers: dict[int, int]) -> Iterable[int]:
    for customer_id, quantity in sorted(buyers.items()):
        if quantity > 0:
            yield customer_id
            yield quantity


_by_url: dict[str, FlashCounters] = {}


def counters_for_url(url: str) -> FlashCounters:
    """One client per Redis URL per process (a connection pool shared by every request).

    redis.asyncio connections belong to the event loop that opened them; the cache is keyed
    by the loop too, so a worker thread running its own loop gets its own client."""
    import asyncio

    try:
        loop_id = id(asyncio.get_running_loop())
    except RuntimeError:
        loop_id = 0
    key = f"{loop_id}:{url}"
    if key not in _by_url:
        _by_url[key] = FlashCounters.from_url(url)
    return _by_url[key]
