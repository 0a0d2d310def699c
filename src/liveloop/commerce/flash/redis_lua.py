"""Flash-sale counters in Redis: one Lua script takes a unit and bumps the buyer's count.

The database stays the truth (`flash_sales.sold_count`, `flash_buyers`, guarded by their own
conditional UPDATEs); Redis is the fast gate in front of it, so once a sale is sold out (or a
buyer is at the limit) the refusal costs one Redis round trip and no database work.

Keys of one sale (`ll:flash:{shop}:{sale}` = K):
  K            hash: remaining, limit, starts (epoch ms), ends (epoch ms), active (1/0), ver
  K:buyers     hash: customer id → units held
  K:pending    hash: token → "customer:quantity" for reservations not yet confirmed
  K:pending_at sorted set: token by the time it was taken (ms)
  K:keys       hash: "customer:Idempotency-Key" → token, for each reservation taken with a key
               (a repeat of the request is answered from the database, never reserved twice)

Reservations go to Redis in batches: the buyers of one sale who ask while a batch is on its
way wait for the next one, which takes all of them in one script call (in the order they
came). A burst of 2,000 buyers is a handful of round trips instead of 2,000.

A reservation is taken (`reserve`), then either confirmed once the order's transaction has
committed (`confirm`: drops the token) or cancelled (`cancel`: units and count go back). A
process that dies in between leaves a pending token: `reconcile` settles tokens older than a
grace period against the database (is there a reservation row with this token?) and, when no
reservation is in flight, resets the counters from the database if they drifted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Results of the reserve script. REPLAY: the request's Idempotency-Key already took units in
# this sale (the first result is looked up in the database).
OK, SOLD_OUT, LIMIT_REACHED, NOT_LOADED, NOT_STARTED, ENDED, REPLAY = 1, -1, -2, -3, -4, -5, -6

# Reserve for a batch of buyers in one round trip, in the order they came. ARGV: groups of 5
# (customer, quantity, token, now in ms, key field or ''); the answer: groups of 4
# (code, value, units the buyer holds, extra: the limit for LIMIT_REACHED, the start in ms
# for NOT_STARTED). value: remaining (OK, SOLD_OUT) or units held (LIMIT_REACHED).
RESERVE_MANY = """
local k = KEYS[1]
local n = #ARGV / 5
local out = {}
local active = redis.call('HGET', k, 'active')
if not active then
  for i = 1, n do out[#out + 1] = -3; out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = 0 end
  return out
end
local starts = tonumber(redis.call('HGET', k, 'starts'))
local ends = tonumber(redis.call('HGET', k, 'ends'))
local limit = tonumber(redis.call('HGET', k, 'limit'))
local remaining = tonumber(redis.call('HGET', k, 'remaining'))
local taken = 0
for i = 0, n - 1 do
  local customer, qty = ARGV[i * 5 + 1], tonumber(ARGV[i * 5 + 2])
  local token, now, field = ARGV[i * 5 + 3], tonumber(ARGV[i * 5 + 4]), ARGV[i * 5 + 5]
  local held = tonumber(redis.call('HGET', KEYS[2], customer) or '0')
  local code, value, extra = 1, 0, 0
  if field ~= '' and redis.call('HEXISTS', KEYS[5], field) == 1 then code = -6
  elseif active ~= '1' or now >= ends then code = -5
  elseif now < starts then code, extra = -4, starts
  elseif remaining < qty then code, value = -1, remaining
  elseif held + qty > limit then code, value, extra = -2, held, limit
  else
    remaining = remaining - qty
    held = held + qty
    taken = taken + 1
    value = remaining
    redis.call('HSET', KEYS[2], customer, held)
    redis.call('HSET', KEYS[3], token, customer .. ':' .. qty .. ':' .. field)
    redis.call('ZADD', KEYS[4], now, token)
    if field ~= '' then redis.call('HSET', KEYS[5], field, token) end
  end
  out[#out + 1] = code; out[#out + 1] = value; out[#out + 1] = held; out[#out + 1] = extra
end
if taken > 0 then
  redis.call('HSET', k, 'remaining', remaining)
  redis.call('HINCRBY', k, 'ver', 1)
end
return out
"""

# Give units back: a cancelled reservation (token given) or a released order (token '').
GIVE_BACK = """
local k = KEYS[1]
if ARGV[3] ~= '' then
  local pending = redis.call('HGET', KEYS[3], ARGV[3])
  if not pending then return -1 end
  redis.call('HDEL', KEYS[3], ARGV[3])
  redis.call('ZREM', KEYS[4], ARGV[3])
  local field = string.match(pending, '^[^:]*:[^:]*:(.*)$')
  if field and field ~= '' and redis.call('HGET', KEYS[5], field) == ARGV[3] then
    redis.call('HDEL', KEYS[5], field)
  end
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

# Load the counters unless they exist (ARGV: remaining, limit, starts, ends, active, the
# number of buyers, then customer/quantity pairs, then key field/token pairs). Several
# processes may race to load: the first one wins.
LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'remaining', ARGV[1], 'limit', ARGV[2], 'starts', ARGV[3],
           'ends', ARGV[4], 'active', ARGV[5], 'ver', 0)
redis.call('DEL', KEYS[2], KEYS[5])
local last = 6 + 2 * tonumber(ARGV[6])
for i = 7, last, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
for i = last + 1, #ARGV, 2 do redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1]) end
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


MAX_BATCH = 1000  # reservations in one script call


@dataclass(frozen=True)
class Reserved:
    code: int  # OK or one of the refusals
    value: int  # remaining after it (OK, SOLD_OUT) or units held (LIMIT_REACHED)
    held: int = 0  # units the buyer holds in the sale (after it, when OK)
    extra: int = 0  # the per-customer limit (LIMIT_REACHED), the start in ms (NOT_STARTED)


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
    keys: dict[str, str] = field(default_factory=dict)  # key field → token (see key_field)


def key_field(customer_id: int, key: str) -> str:
    return f"{customer_id}:{key}"


@dataclass
class _Waiting:
    args: list[Any]
    future: asyncio.Future[Reserved]


class FlashCounters:
    """The Redis side of flash sales, on one redis.asyncio client."""

    def __init__(self, client: Any, *, prefix: str = "ll:flash") -> None:
        self.client = client
        self.prefix = prefix
        self._reserve = client.register_script(RESERVE_MANY)
        self._give_back = client.register_script(GIVE_BACK)
        self._confirm = client.register_script(CONFIRM)
        self._load = client.register_script(LOAD)
        self._reset = client.register_script(RESET)
        self._waiting: dict[tuple[int, int], list[_Waiting]] = {}
        self._senders: dict[tuple[int, int], asyncio.Task[None]] = {}

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
        return [base, f"{base}:buyers", f"{base}:pending", f"{base}:pending_at", f"{base}:keys"]

    async def reserve(
        self,
        *,
        shop_id: int,
        sale_id: int,
        customer_id: int,
        quantity: int,
        token: str,
        now: dt.datetime,
        key: str | None = None,
    ) -> Reserved:
        """Take `quantity` units for the buyer (joins the sale's next batch). With `key` (the
        request's Idempotency-Key), a key that already took units here is REPLAY."""
        sale = (shop_id, sale_id)
        field_ = key_field(customer_id, key) if key is not None else ""
        future: asyncio.Future[Reserved] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(sale, []).append(
            _Waiting([customer_id, quantity, token, _ms(now), field_], future)
        )
        if sale not in self._senders:
            self._senders[sale] = asyncio.create_task(self._send_batches(shop_id, sale_id))
        return await future

    async def _send_batches(self, shop_id: int, sale_id: int) -> None:
        """Send the sale's waiting reservations, one script call at a time, until none wait."""
        sale = (shop_id, sale_id)
        try:
            while self._waiting.get(sale):
                waiting = [one for one in self._waiting[sale] if not one.future.done()]
                batch, self._waiting[sale] = waiting[:MAX_BATCH], waiting[MAX_BATCH:]
                if not batch:  # every one of them went away before asking
                    continue
                try:
                    answer = await self._reserve(
                        keys=self.keys(shop_id, sale_id),
                        args=[value for one in batch for value in one.args],
                    )
                except Exception as error:  # each buyer sees it (a RedisError: the SQL guard)
                    for one in batch:
                        if not one.future.done():
                            one.future.set_exception(error)
                    continue
                except BaseException:  # cancelled (the loop is closing): nobody waits forever
                    for one in batch + self._waiting.pop(sale, []):
                        one.future.cancel()
                    raise
                for number, one in enumerate(batch):
                    code, value, held, extra = (int(v) for v in answer[number * 4 : number * 4 + 4])
                    if not one.future.done():
                        one.future.set_result(Reserved(code, value, held, extra))
                    elif code == OK:  # the buyer went away meanwhile: the units come back
                        customer_id, quantity, token = one.args[:3]
                        await self.cancel(
                            shop_id=shop_id, sale_id=sale_id, customer_id=customer_id,
                            quantity=quantity, token=token,
                        )  # fmt: skip
        finally:
            self._senders.pop(sale, None)
            if not self._waiting.get(sale):
                self._waiting.pop(sale, None)

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
        buyers = list(_pairs(terms.buyers))
        return bool(
            await self._load(
                keys=self.keys(terms.shop_id, terms.sale_id),
                args=[
                    terms.remaining,
                    terms.limit,
                    _ms(terms.starts_at),
                    _ms(terms.ends_at),
                    1 if terms.active else 0,
                    len(buyers) // 2,
                    *buyers,
                    *(value for pair in sorted(terms.keys.items()) for value in pair),
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
            customer, quantity = value.split(":", 2)[:2]
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
