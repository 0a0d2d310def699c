"""Publish/subscribe between processes: in-process for one process, Redis pub/sub for many.

Messages are bytes (callers encode once). A subscription is an async iterator of
(channel, payload); channels are plain names such as ``room:42``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)

SUBSCRIBER_QUEUE_SIZE = 10_000


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]: ...

    async def close(self) -> None: ...


class Bus(Protocol):
    name: str

    async def publish(self, channel: str, payload: bytes) -> None: ...

    async def subscribe(self, *channels: str) -> Subscription: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class _MemorySubscription:
    def __init__(self, bus: MemoryBus, channels: tuple[str, ...]) -> None:
        self._bus = bus
        self.channels = channels
        self.queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)

    async def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    async def close(self) -> None:
        self._bus._remove(self)
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


class MemoryBus:
    """One process: publish hands the payload straight to local subscribers."""

    name = "memory"

    def __init__(self) -> None:
        self._subscribers: dict[str, set[_MemorySubscription]] = defaultdict(set)

    async def publish(self, channel: str, payload: bytes) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            try:
                subscription.queue.put_nowait((channel, payload))
            except asyncio.QueueFull:
                log.warning("bus_subscriber_full", channel=channel)

    async def subscribe(self, *channels: str) -> Subscription:
        subscription = _MemorySubscription(self, channels)
        for channel in channels:
            self._subscribers[channel].add(subscription)
        return subscription

    def _remove(self, subscription: _MemorySubscription) -> None:
        for channel in subscription.channels:
            self._subscribers[channel].discard(subscription)
            if not self._subscribers[channel]:
                del self._subscribers[channel]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        for subscriptions in list(self._subscribers.values()):
            for subscription in list(subscriptions):
                await subscription.close()


class _RedisSubscription:
    def __init__(self, pubsub: object) -> None:
        self._pubsub = pubsub

    async def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        pubsub = self._pubsub
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)  # type: ignore[attr-defined]
            if message is None:
                if not pubsub.subscribed:  # type: ignore[attr-defined]
                    return
                continue
            channel = message["channel"]
            yield (channel.decode() if isinstance(channel, bytes) else channel), message["data"]

    async def close(self) -> None:
        await self._pubsub.unsubscribe()  # type: ignore[attr-defined]
        await self._pubsub.aclose()  # type: ignore[attr-defined]


class RedisBus:
    """Many processes: Redis pub/sub; every process's subscribers see every publish."""

    name = "redis"

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url)

    async def publish(self, channel: str, payload: bytes) -> None:
        await self._redis.publish(channel, payload)

    async def subscribe(self, *channels: str) -> Subscription:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(*channels)
        return _RedisSubscription(pubsub)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def make_bus(backend: str, redis_url: str = "") -> Bus:
    if backend == "redis":
        return RedisBus(redis_url)
    return MemoryBus()
