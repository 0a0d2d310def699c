"""Real Uvicorn servers started by tests: wait until one answers, read its log, stop it."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx

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
