"""Two Uvicorn processes serving one room through a Redis of their own (a private
redis-server on a free port, so that stopping it for the outage test touches nobody else)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live.wsutil import (
    Viewer,
    free_port,
    make_token,
    of_type,
    seed_rooms,
    start_server,
    token_settings,
)
from tests.servers import stop_server, wait_ready

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server (apt-get install redis)"
)


class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    async def wait(self) -> None:
        import redis.asyncio as redis

        client = redis.Redis.from_url(self.url)
        try:
            for _ in range(100):
                try:
                    if await client.ping():
                        return
                except Exception:
                    await asyncio.sleep(0.1)
            raise RuntimeError("redis-server did not start")
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path_factory.mktemp("redis"))
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture(scope="module")
async def pair(
    tmp_path_factory: pytest.TempPathFactory, private_redis: PrivateRedis
) -> AsyncIterator[dict[str, Any]]:
    await private_redis.wait()
    tmp = tmp_path_factory.mktemp("pair")
    url = f"sqlite+aiosqlite:///{tmp / 'live.db'}"
    ids = await seed_rooms(url)
    ports = [free_port(), free_port()]
    logs = [tmp / "a.log", tmp / "b.log"]
    processes = [
        start_server(url, port, tmp / "var", log, redis_url=private_redis.url)
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        for process, port, log in zip(processes, ports, logs, strict=True):
            await wait_ready(process, f"http://127.0.0.1:{port}", log)
        yield {
            **ids,
            "a": f"ws://127.0.0.1:{ports[0]}",
            "b": f"ws://127.0.0.1:{ports[1]}",
            "a_http": f"http://127.0.0.1:{ports[0]}",
            "settings": token_settings(tmp),
        }
    finally:
        for process in processes:
            stop_server(process)


def _token(pair: dict[str, Any], room: int, **claims: Any) -> str:
    claims.setdefault("shop_id", pair["shop"])
    return make_token(pair["settings"], room=room, **claims)


async def test_viewers_on_two_processes_see_each_other(pair: dict[str, Any]) -> None:
    room = pair["rooms"][1]
    on_a = await Viewer.join(pair["a"], room, _token(pair, room, device_id="on-a"))
    on_b = await Viewer.join(pair["b"], room, _token(pair, room, device_id="on-b"))
    try:
        await on_a.expect_type("snapshot")
        await on_b.expect_type("snapshot")
        await on_a.send({"type": "comment", "text": "来自 A"})
        from_a = await on_b.expect(lambda m: m.get("text") == "来自 A")
        await on_b.send({"type": "comment", "text": "来自 B"})
        from_b = await on_a.expect(lambda m: m.get("text") == "来自 B")
        assert from_a["id"] != from_b["id"]
        # Presence and likes are counted across both processes.
        await on_a.expect(lambda m: m.get("type") == "viewer_count" and m["online"] == 2)
        await on_b.expect(lambda m: m.get("type") == "viewer_count" and m["online"] == 2)
        await on_a.send({"type": "like", "count": 3})
        await on_b.send({"type": "like", "count": 4})
        await on_a.expect(lambda m: m.get("type") == "like_total" and m["total"] == 7)
        await on_b.expect(lambda m: m.get("type") == "like_total" and m["total"] == 7)
        # The same room sequence numbers on both sides.
        a_texts = [m["text"] for m in of_type(on_a.msgs, "comment")]
        b_texts = [m["text"] for m in of_type(on_b.msgs, "comment")]
        assert a_texts == b_texts == ["来自 A", "来自 B"]
    finally:
        await on_a.close()
        await on_b.close()


async def test_resume_on_the_other_process_gets_exactly_what_was_missed(
    pair: dict[str, Any],
) -> None:
    room = pair["rooms"][2]
    talker = await Viewer.join(pair["b"], room, _token(pair, room, staff_id=pair["anchor"]))
    token = _token(pair, room, device_id="mover")
    mover = await Viewer.join(pair["a"], room, token)
    try:
        await talker.expect_type("snapshot")
        await mover.expect_type("snapshot")
        await talker.send({"type": "comment", "text": "开场"})
        await mover.expect(lambda m: m.get("text") == "开场")
        last_seq = mover.last_seq
        await mover.close()
        for text in ("错过一", "错过二", "错过三"):
            await talker.send({"type": "comment", "text": text})
        await talker.expect(lambda m: m.get("text") == "错过三")

        back = await Viewer.join(pair["b"], room, token, last_seq=last_seq)
        assert (await back.expect_type("joined"))["resumed"] is True
        await back.expect(lambda m: m.get("text") == "错过三")
        assert [m["text"] for m in of_type(back.msgs, "comment")] == ["错过一", "错过二", "错过三"]
        assert of_type(back.msgs, "snapshot") == []
        await back.close()
    finally:
        await talker.close()


async def test_a_process_without_a_hub_sends_into_the_room(
    pair: dict[str, Any], private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker or the CLI (no hub) publishes through the outbox straight to Redis."""
    from liveloop.core.settings import get_settings
    from liveloop.live import outbox

    room = pair["rooms"][4]
    viewer = await Viewer.join(pair["b"], room, _token(pair, room, device_id="worker-watch"))
    try:
        await viewer.expect_type("snapshot")
        monkeypatch.setenv("LIVELOOP_BUS_BACKEND", "redis")
        monkeypatch.setenv("LIVELOOP_REDIS_URL", private_redis.url)
        monkeypatch.setattr(outbox, "_publisher", None)
        get_settings.cache_clear()
        await outbox.send_now(
            live_session_id=room, message={"type": "announcement", "text": "来自后台任务"}
        )
        await viewer.expect_type("announcement", text="来自后台任务")
    finally:
        get_settings.cache_clear()
        await viewer.close()


async def test_a_redis_outage_keeps_local_delivery_and_shows_in_readyz(
    pair: dict[str, Any], private_redis: PrivateRedis
) -> None:
    room = pair["rooms"][3]
    first = await Viewer.join(pair["a"], room, _token(pair, room, device_id="local-1"))
    second = await Viewer.join(pair["a"], room, _token(pair, room, device_id="local-2"))
    remote = await Viewer.join(pair["b"], room, _token(pair, room, staff_id=pair["anchor"]))
    try:
        for viewer in (first, second, remote):
            await viewer.expect_type("snapshot")
        private_redis.stop()
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"{pair['a_http']}/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["bus"] is False

        await first.send({"type": "comment", "text": "Redis 停了也能看到"})
        await second.expect(lambda m: m.get("text") == "Redis 停了也能看到")
        await first.expect(lambda m: m.get("text") == "Redis 停了也能看到")

        private_redis.start()
        await private_redis.wait()
        # Each process resubscribes by itself; keep talking until B's words reach A again.
        for attempt in range(30):
            await remote.send({"type": "comment", "text": f"恢复了 {attempt}"})
            try:
                await first.expect(
                    lambda m: str(m.get("text", "")).startswith("恢复了"), wait_s=1.5
                )
                break
            except (AssertionError, TimeoutError):
                continue
        else:
            raise AssertionError("cross-process delivery did not come back after Redis did")
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{pair['a_http']}/readyz")).json()["checks"]["bus"] is True
    finally:
        for viewer in (first, second, remote):
            await viewer.close()
