import asyncio

import pytest

from liveloop.core.bus import MemoryBus, RedisBus


async def _collect(subscription, count: int) -> list[tuple[str, bytes]]:
    received = []
    async for item in subscription:
        received.append(item)
        if len(received) == count:
            break
    return received


async def _roundtrip(publisher, subscriber) -> None:
    subscription = await subscriber.subscribe("room:1", "room:2")
    collector = asyncio.create_task(_collect(subscription, 3))
    await asyncio.sleep(0.05)
    await publisher.publish("room:1", b"a")
    await publisher.publish("room:3", b"not subscribed")
    await publisher.publish("room:2", b"b")
    await publisher.publish("room:1", "弹幕".encode())
    received = await asyncio.wait_for(collector, timeout=5)
    assert received == [("room:1", b"a"), ("room:2", b"b"), ("room:1", "弹幕".encode())]
    await subscription.close()


async def test_memory_bus_delivers_in_order_to_subscribed_channels() -> None:
    bus = MemoryBus()
    await _roundtrip(bus, bus)
    assert await bus.ping()


async def test_memory_bus_close_ends_subscriptions() -> None:
    bus = MemoryBus()
    subscription = await bus.subscribe("room:9")
    collector = asyncio.create_task(_collect(subscription, 1))
    await bus.close()
    assert await asyncio.wait_for(collector, timeout=1) == []


async def test_redis_bus_fans_out_between_two_connections(redis_url: str) -> None:
    # Two buses stand for two processes: what one publishes, the other's subscribers see.
    publisher, subscriber = RedisBus(redis_url), RedisBus(redis_url)
    try:
        assert await publisher.ping()
        await _roundtrip(publisher, subscriber)
    finally:
        await publisher.close()
        await subscriber.close()


async def test_redis_bus_ping_is_false_when_unreachable() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0")
    assert await bus.ping() is False
    await bus.close()


@pytest.mark.parametrize("backend", ["memory"])
def test_make_bus_default_is_memory(backend: str) -> None:
    from liveloop.core.bus import make_bus

    assert make_bus(backend).name == "memory"
