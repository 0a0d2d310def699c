"""SQL expressions the reports share, written once so SQLite and PostgreSQL agree."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, String, case, cast, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from liveloop.events.models import Event


class epoch_floor(FunctionElement[int]):
    """Whole epoch seconds (rounded down) of a UTC timestamp column on either backend.

    PostgreSQL's CAST(EXTRACT(EPOCH ...) AS BIGINT) would round 12.6 s up to 13 while SQLite's
    strftime('%s') truncates, so PostgreSQL floors first: both give the same second."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_floor, "postgresql")
def _epoch_postgresql(element: epoch_floor, compiler: Any, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(epoch_floor)
def _epoch_sqlite(element: epoch_floor, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


def epoch_of(moment: dt.datetime) -> int:
    """The same whole second in Python."""
    return int(moment.timestamp() // 1)


def viewer_key(customer_id: Any = None, anonymous_id: Any = None) -> Any:
    """The room's viewer key of an event: "c:<customer id>", else the anonymous id (the room
    writes a guest's "d:<device id>" there), so one person is one viewer however many tabs.
    Of other columns holding the two (a subquery grouped by them) where given."""
    customer = Event.customer_id if customer_id is None else customer_id
    anonymous = Event.anonymous_id if anonymous_id is None else anonymous_id
    return case(
        (customer.is_not(None), literal("c:") + cast(customer, String)),
        else_=func.coalesce(anonymous, ""),
    )


def json_int(column: Any, name: str) -> Any:
    return func.coalesce(column[name].as_integer(), 0)


def json_text(column: Any, name: str) -> Any:
    return func.coalesce(column[name].as_string(), "")


def ratio(part: int | float, whole: int | float, digits: int = 4) -> float:
    """part / whole rounded, 0 when there is no whole (a session nobody watched)."""
    return round(part / whole, digits) if whole else 0.0


def half_up(part: int, whole: int) -> int:
    """part / whole rounded half up, in integers (money: no float on the way)."""
    return (2 * part + whole) // (2 * whole) if whole else 0
