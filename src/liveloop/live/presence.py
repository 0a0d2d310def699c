"""Room figures shared by every process of a room: sequence numbers, online/peak/total, likes.

On the in-process bus they are plain counters (`LocalFigures`). On the Redis bus they live in
Redis (`RedisFigures`) so that every process agrees:

- ``ll:room:{id}:seq``    room sequence, INCRBY per published batch (never goes backwards: a
  process that numbered messages itself during an outage raises it past its own numbers);
- ``ll:room:{id}:online`` sorted set viewer_key → last refresh time; a key not refreshed for
  ``ONLINE_STALE_S`` (its process died) no longer counts;
- ``ll:room:{id}:seen``   set of every viewer_key (cumulative viewers);
- ``ll:room:{id}:peak``, ``ll:room:{id}:likes``.

When Redis fails, every call falls back to this process's own figures and the failure is logged
once per outage; the room keeps serving its local viewers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

ONLINE_STALE_S = 30  # a process refreshes its viewers every few seconds; 30 s means it is gone
KEY_TTL_S = 3 * 24 * 3600


@dataclass
class Counts:
    online: int = 0
    peak: int = 0
    total: int = 0


class RoomFigures(Protocol):
    async def seed(self, *, like_total: int, peak: int, seen: Iterable[str]) -> None: ...

    async def next_seq(self, count: int, *, floor: int) -> int: ...

    async def add_likes(self, count: int) -> int: ...

    async def refresh(self, local_keys: Iterable[str], *, gone: Iterable[str]) -> Counts: ...


class LocalFigures:
    """One process holds the whole room."""

    def __init__(self) -> None:
        self.seq = 0
        self.likes = 0
        self.peak = 0
        self.seen: set[str] = set()

    async def seed(self, *, like_total: int, peak: int, seen: Iterable[str]) -> None:
        self.likes = max(self.likes, like_total)
        self.peak = max(self.peak, peak)
        self.seen.update(seen)

    async def next_seq(self, count: int, *, floor: int) -> int:
        self.seq = max(self.seq, floor) + count
        return self.seq

    async def add_likes(self, count: int) -> int:
        self.likes += count
        return self.likes

    async def refresh(self, local_keys: Iterable[str], *, gone: Iterable[str]) -> Counts:
        keys = set(local_keys)
        self.seen.update(keys)
        self.peak = max(self.peak, len(keys))
        return Counts(len(keys), self.peak, len(self.seen))


_NEXT_SEQ = """
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
local floor = tonumber(ARGV[2])
if v - tonumber(ARGV[1]) < floor then
  v = floor + tonumber(ARGV[1])
  redis.call('SET', KEYS[1], v)
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return v
"""

_REFRESH = """
local now, cutoff, ttl = ARGV[1], ARGV[2], ARGV[3]
local gone_count = tonumber(ARGV[4])
for i = 5, 4 + gone_count do redis.call('ZREM', KEYS[1], ARGV[i]) end
for i = 5 + gone_count, #ARGV do
  redis.call('ZADD', KEYS[1], now, ARGV[i])
  redis.call('SADD', KEYS[2], ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
local online = redis.call('ZCARD', KEYS[1])
local peak = tonumber(redis.call('GET', KEYS[3]) or '0')
if online > peak then
  peak = online
  redis.call('SET', KEYS[3], peak)
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end
return {online, peak, redis.call('SCARD', KEYS[2])}
"""

_SEED = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
redis.call('SET', KEYS[2], ARGV[2], 'NX')
for i = 3, #ARGV do redis.call('SADD', KEYS[3], ARGV[i]) end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], 259200) end
return 1
"""


class RedisFigures:
    """Figures in Redis, with this process's own figures as the fallback during an outage."""

    def __init__(self, redis: Any, live_session_id: int) -> None:
        self._redis = redis
        prefix = f"ll:room:{live_session_id}:"
        self._seq_key = prefix + "seq"
        self._keys = [prefix + "online", prefix + "seen", prefix + "peak"]
        self._likes_key = prefix + "likes"
        self._local = LocalFigures()
        self._pending_likes = 0
        self._likes_total = 0
        self._down = False

    def _failed(self, what: str, exc: Exception) -> None:
        if not self._down:
            log.error("room_figures_redis_down", what=what, error=repr(exc))
        self._down = True

    def _ok(self) -> None:
        if self._down:
            log.info("room_figures_redis_back")
        self._down = False

    async def seed(self, *, like_total: int, peak: int, seen: Iterable[str]) -> None:
        keys = list(seen)
        await self._local.seed(like_total=like_total, peak=peak, seen=keys)
        self._likes_total = like_total
        try:
            await self._redis.eval(
                _SEED, 3, self._likes_key, self._keys[2], self._keys[1], like_total, peak, *keys
            )
            self._ok()
        except Exception as exc:
            self._failed("seed", exc)

    async def next_seq(self, count: int, *, floor: int) -> int:
        try:
            value = int(
                await self._redis.eval(_NEXT_SEQ, 1, self._seq_key, count, floor, KEY_TTL_S)
            )
            self._ok()
            return value
        except Exception as exc:
            self._failed("seq", exc)
            return await self._local.next_seq(count, floor=floor)

    async def add_likes(self, count: int) -> int:
        self._pending_likes += count
        try:
            self._likes_total = int(await self._redis.incrby(self._likes_key, self._pending_likes))
            self._pending_likes = 0
            self._ok()
        except Exception as exc:
            self._failed("likes", exc)
            return self._likes_total + self._pending_likes
        return self._likes_total

    async def refresh(self, local_keys: Iterable[str], *, gone: Iterable[str]) -> Counts:
        keys = list(local_keys)
        gone_keys = list(gone)
        local = await self._local.refresh(keys, gone=gone_keys)
        now = time.time()
        try:
            online, peak, total = await self._redis.eval(
                _REFRESH,
                3,
                *self._keys,
                now,
                now - ONLINE_STALE_S,
                KEY_TTL_S,
                len(gone_keys),
                *gone_keys,
                *keys,
            )
            self._ok()
            return Counts(int(online), int(peak), int(total))
        except Exception as exc:
            self._failed("presence", exc)
            return local
