"""Real Uvicorn servers started by tests: seed one, wait until it answers, read its log, stop it."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Database
from liveloop.models import Base

START_UP_SECONDS = 120  # generous for a loaded machine; a wait, not a timing assertion


def tail(path: Path) -> str:
    return path.read_text()[-3000:]


async def wait_ready(process: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    """Return once `base`/healthz answers 200; raise with the log if the server exits first."""
    async with httpx.AsyncClient() as client:
        for _ in range(START_UP_SECONDS * 10):
            if process.poll() is not None:
                break
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            await asyncio.sleep(0.1)
    raise RuntimeError(f"uvicorn did not start: {tail(log_path)}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@asynccontextmanager
async def seeded_server(
    tmp_path: Path, seed: Callable[[AsyncSession], Awaitable[dict[str, Any]]], name: str = "app"
) -> AsyncIterator[dict[str, Any]]:
    """A fresh SQLite database under `tmp_path` with the tables, `seed(session)` committed in
    it, and a real Uvicorn serving it: yields {"base": url, "database_url": …, **seeded}."""
    from tests.pages.test_console_browser import free_port, start_uvicorn

    url = f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}"
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with database.sessionmaker() as session:
            seeded = await seed(session)
            await session.commit()
    finally:
        await database.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "uvicorn.log"
    process = start_uvicorn(url, port, tmp_path / "var", log_path)
    try:
        await wait_ready(process, base, log_path)
        yield {"base": base, "database_url": url, **seeded}
    finally:
        stop_server(process)
