"""Liveness, readiness (database, bus, job queue) and Prometheus metrics endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from liveloop.core.jobs import queue
from liveloop.core.metrics import metrics_response

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_database(request: Request) -> bool:
    try:
        engine = request.app.state.database.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    database_ok, bus_ok, queue_ok = await asyncio.gather(
        _check_database(request), request.app.state.bus.ping(), asyncio.to_thread(queue.ping)
    )
    checks: dict[str, Any] = {"database": database_ok, "bus": bus_ok, "queue": queue_ok}
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics() -> Response:
    return metrics_response()
