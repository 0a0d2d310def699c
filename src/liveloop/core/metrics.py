"""Prometheus metrics: request counts and latency by route, plus domain counters."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

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
    LATENCY.labels(request.method, path).observe(time.perf_counter() - started)
    REQUESTS.labels(request.method, path, str(response.status_code)).inc()
    return response


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
