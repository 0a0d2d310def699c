"""The public guest-token route is rate limited per client address and per device, in memory
or in Redis when configured (sliding windows; times injected, never measured)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from liveloop.live import token_limits
from liveloop.live.token_limits import (
    PER_DEVICE,
    PER_IP,
    MemoryWindow,
    RedisWindow,
    TokenRateLimited,
    check_guest_token,
)
from tests.factories.live import make_live_session

T0 = 1_800_000_000.0


async def _store(kind: str, redis_url: str | None) -> MemoryWindow | RedisWindow:
    if kind == "memory":
        return MemoryWindow()
    import redis.asyncio as redis

    return RedisWindow(redis.Redis.from_url(redis_url or ""))


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")  # skips without a test Redis
        found = await _store("redis", redis_url)
        yield found
        await found.client.aclose()
    else:
        yield MemoryWindow()


async def test_a_device_gets_its_limit_a_minute_then_a_time_to_come_back(store) -> None:  # type: ignore[no-untyped-def]
    device = f"dev-{uuid.uuid4().hex}"
    for i in range(PER_DEVICE):
        await check_guest_token(store=store, client_ip="203.0.113.7", device_id=device, now=T0 + i)
    with pytest.raises(TokenRateLimited) as refused:
        await check_guest_token(store=store, client_ip="203.0.113.8", device_id=device, now=T0 + 40)
    assert refused.value.retry_after_s == 20  # the first request leaves the window at T0 + 60
    assert refused.value.as_dict()["code"] == "rate_limited"
    # Once the oldest requests have left the window, the device may ask again.
    await check_guest_token(store=store, client_ip="203.0.113.8", device_id=device, now=T0 + 61)


async def test_an_address_gets_its_limit_across_devices_but_loopback_is_not_counted(store) -> None:  # type: ignore[no-untyped-def]
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    run = uuid.uuid4().hex
    if isinstance(store, RedisWindow):  # a fresh window for this address in a shared Redis
        await store.client.delete(f"ll:rl:viewer-token:ip:{address}")
    for i in range(PER_IP):
        await check_guest_token(store=store, client_ip=address, device_id=f"{run}-{i}", now=T0)
    with pytest.raises(TokenRateLimited) as refused:
        await check_guest_token(store=store, client_ip=address, device_id=f"{run}-x", now=T0 + 1)
    assert refused.value.retry_after_s == 59
    for i in range(PER_IP + 5):  # the demo audience, local tools
        await check_guest_token(store=store, client_ip="127.0.0.1", device_id=f"{run}-l{i}", now=T0)


def test_the_memory_forgets_the_least_recent_keys_beyond_its_size() -> None:
    window = MemoryWindow(max_keys=3)

    async def fill() -> None:
        for i in range(5):
            await window.hit(f"k{i}", token_limits.DEVICE_RULE, T0)

    import asyncio

    asyncio.run(fill())
    assert list(window._hits) == ["k2", "k3", "k4"]


async def test_the_route_answers_429_with_retry_after(app, session, shop) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, status="live")
    transport = httpx.ASGITransport(app=app, client=("203.0.113.50", 4321))
    device = f"dev-{uuid.uuid4().hex[:20]}"
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(PER_DEVICE):
            response = await client.post(
                f"/api/v1/public/live/{live.code}/token", json={"device_id": device}
            )
            assert response.status_code == 200, response.text
        refused = await client.post(
            f"/api/v1/public/live/{live.code}/token", json={"device_id": device}
        )
        assert refused.status_code == 429
        body = refused.json()
        assert body["code"] == "rate_limited" and body["retry_after_s"] >= 1
        assert refused.headers["Retry-After"] == str(body["retry_after_s"])
        # Guessing room codes is counted too: the limit comes before the room is looked up.
        guessed = await client.post(
            "/api/v1/public/live/NOPE1234/token", json={"device_id": device}
        )
        assert guessed.status_code == 429
