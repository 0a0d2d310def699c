"""Prometheus metrics and the access log: request counts and latency by route."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

log = structlog.get_logger("liveloop.access")

REQUESTS = Counter("liveloop_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("liveloop_http_request_seconds", "HTTP request latency", ["method", "route"])
EVENTS_INGESTED = Counter("liveloop_events_ingested_total", "Behaviour events stored")
CUSTOMERS_IMPORTED = Counter(
    "liveloop_customers_imported_total", "Customers created or updated by import"
)


async def record_request(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    path = getattr(route, "path", "unmatched")
    elapsed = time.perf_counter() - started
    LATENCY.labels(request.method, path).observe(elapsed)
    REQUESTS.labels(request.method, path, str(response.status_code)).inc()
    # The access line carries the path only: query strings hold searches by phone or e-mail,
    # which must never reach a log (uvicorn's own access log is off for that reason).
    log.info(
        "http_request",
        method=request.method,
        path=request.url.path,
        route=path,
        status=response.status_code,
        ms=round(elapsed * 1000, 1),
    )
    return response


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
