"""Structured logs (structlog): console lines for people, JSON lines for machines.

Secrets and personal data never reach a log line: the redaction processor blanks known
sensitive keys whatever the caller passed.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

SENSITIVE_KEYS = frozenset(
    {
        "password",
        "new_password",
        "api_key",
        "key",
        "secret",
        "token",
        "phone",
        "email",
        "authorization",
        "cookie",
        "csrf_token",
        "address",
        "id_card",
    }
)


def _redact(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for name in list(event_dict):
        if name.lower() in SENSITIVE_KEYS:
            event_dict[name] = "[redacted]"
    return event_dict


def configure_logging(level: str = "info", *, json: bool = False) -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=numeric, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("huey", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
