"""Fixtures of the live room tests: `server`, a real Uvicorn serving a seeded SQLite file
(module scope; on the Redis bus when LIVELOOP_TEST_REDIS_URL is set)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import TEST_REDIS_URL
from tests.live.wsutil import (
    free_port,
    seed_rooms,
    start_server,
    token_settings,
)
from tests.servers import stop_server, wait_ready


async def _clear_room_keys(redis_url: str) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter("ll:room:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("ws")
    url = f"sqlite+aiosqlite:///{tmp / 'live.db'}"
    ids = await seed_rooms(url)
    if TEST_REDIS_URL:
        await _clear_room_keys(TEST_REDIS_URL)
    port = free_port()
    log_path = tmp / "uvicorn.log"
    process = start_server(url, port, tmp / "var", log_path, redis_url=TEST_REDIS_URL)
    try:
        await wait_ready(process, f"http://127.0.0.1:{port}", log_path)
        yield {
            **ids,
            "ws": f"ws://127.0.0.1:{port}",
            "http": f"http://127.0.0.1:{port}",
            "settings": token_settings(tmp),
            "url": url,
        }
    finally:
        stop_server(process)
