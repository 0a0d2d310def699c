"""SQL expressions that differ between PostgreSQL and SQLite (day counts, greatest of values)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Integer, bindparam, cast, extract, func
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import UTCDateTime


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def at(value: dt.datetime, name: str = "now") -> Any:
    """A bound timestamp (UTC, stored as the database stores them)."""
    return bindparam(name, value, type_=UTCDateTime())


def whole_days_between(dialect: str, later: Any, earlier: Any) -> Any:
    """Whole days from `earlier` to `later`, truncated toward zero (a moment in the future is
    0 days, not -1), as an integer; NULL when either is. Not floor(): SQLite has it only when
    built with its optional math functions."""
    if dialect == "postgresql":
        return cast(func.trunc(extract("epoch", later - earlier) / 86400), Integer)
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def greatest(dialect: str, *values: Any) -> Any:
    """The largest of non-NULL values (callers coalesce; SQLite's max() is NULL on any NULL)."""
    if dialect == "postgresql":
        return func.greatest(*values)
    return func.max(*values)


def int_div(numerator: Any, denominator: Any) -> Any:
    """Integer division of two non-negative integer expressions (both databases truncate)."""
    return cast(numerator, BigInteger).op("/")(cast(denominator, BigInteger))
