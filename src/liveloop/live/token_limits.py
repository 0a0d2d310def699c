"""Rate limits of the public guest-token route (`POST /api/v1/public/live/{code}/token`): per
client IP and per device id, over a sliding window. Kept in process memory, or in Redis when
one is configured (so every web process counts the same requests).

The IP limit is generous (many phones share a carrier's NAT address) and skips loopback
addresses: the demo audience and local tools call from 127.0.0.1. Behind a reverse proxy, run
Uvicorn with proxy headers so that the client's address is the viewer's, not the proxy's.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from liveloop.core.errors import RateLimited

WINDOW_S = 60.0
PER_IP = 300  # tokens a minute from one address
PER_DEVICE = 30  # tokens a minute for one device id (a page asks once per load or expiry)
MAX_KEYS = 100_000  # the in-process memory forgets the least recently seen keys beyond this


class TokenRateLimited(RateLimited):
    """429 with `retry_after_s`: when the page may ask again."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, code="rate_limited")
        self.retry_after_s = retry_after_s

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "retry_after_s": self.retry_after_s}


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window_s: float = WINDOW_S


IP_RULE = Rule("ip", PER_IP)
DEVICE_RULE = Rule("device", PER_DEVICE)


class MemoryWindow:
    """Sliding windows in this process: the times of the requests still inside the window."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    async def hit(self, key: str, rule: Rule, now: float) -> float:
        """Count one request; 0 when allowed, else the seconds until one is."""
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - rule.window_s:
            hits.popleft()
        if len(hits) >= rule.limit:
            return hits[0] + rule.window_s - now
        hits.append(now)
        return 0.0


# KEYS[1]: the window's sorted set; ARGV: now (ms), window (ms), limit, a unique member.
_REDIS_HIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + tonumber(ARGV[2]) - tonumber(ARGV[1])
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
"""


class RedisWindow:
    """The same windows in Redis: one sorted set per key, checked and counted atomically."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._script = client.register_script(_REDIS_HIT)
        self._serial = 0

    async def hit(self, key: str, rule: Rule, now: float) -> float:
        self._serial += 1
        member = f"{now:.6f}:{id(self)}:{self._serial}"
        wait_ms = await self._script(
            keys=[f"ll:rl:viewer-token:{key}"],
            args=[int(now * 1000), int(rule.window_s * 1000), rule.limit, member],
        )
        return max(0.0, int(wait_ms) / 1000)


_windows: dict[tuple[str, int], MemoryWindow | RedisWindow] = {}


def window_for(redis_url: str) -> MemoryWindow | RedisWindow:
    """One store per Redis URL (or memory) and event loop: a Redis client is bound to its loop."""
    key = (redis_url, id(asyncio.get_running_loop()))
    found = _windows.get(key)
    if found is None:
        if redis_url:
            import redis.asyncio as redis

            found = RedisWindow(redis.Redis.from_url(redis_url))
        else:
            found = MemoryWindow()
        _windows[key] = found
    return found


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


async def check_guest_token(
    *,
    store: MemoryWindow | RedisWindow,
    client_ip: str | None,
    device_id: str,
    now: float | None = None,
) -> None:
    """Count one guest-token request of this address and device, or refuse it with when to
    come back (TokenRateLimited)."""
    now = time.time() if now is None else now
    checks: list[tuple[str, Rule]] = [(f"device:{device_id}", DEVICE_RULE)]
    if client_ip and not _is_loopback(client_ip):
        checks.insert(0, (f"ip:{client_ip}", IP_RULE))
    for key, rule in checks:
        wait = await store.hit(key, rule, now)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TokenRateLimited(
                f"too many viewer tokens for this {rule.name} (at most {rule.limit} a minute); "
                f"try again in {seconds} s",
                retry_after_s=seconds,
            )
