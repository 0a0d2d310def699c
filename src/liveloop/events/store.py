"""Writing checked events in bulk: COPY on PostgreSQL, one executemany on SQLite.

Rows are plain tuples in `COLUMNS` order (properties already serialised to JSON), so no ORM
object or per-row SQL is built. Both paths skip a (shop_id, client_event_id) already stored
and return how many rows were really inserted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.events.models import Event

COLUMNS = (
    "shop_id",
    "type",
    "customer_id",
    "anonymous_id",
    "live_session_id",
    "product_id",
    "properties",
    "occurred_at",
    "received_at",
    "client_event_id",
)
Row = tuple[Any, ...]

_column_list = ", ".join(COLUMNS)
_STAGING = "events_ingest"
_CREATE_STAGING = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (position int, "
    "shop_id bigint, type varchar(64), customer_id bigint, anonymous_id varchar(64), "
    "live_session_id bigint, product_id bigint, properties jsonb, occurred_at timestamptz, "
    "received_at timestamptz, client_event_id varchar(64)) ON COMMIT DELETE ROWS"
)
_MOVE_STAGED = (
    f"INSERT INTO events ({_column_list}) SELECT {_column_list} FROM {_STAGING} "
    "ORDER BY position ON CONFLICT (shop_id, client_event_id) DO NOTHING"
)
_SQLITE_INSERT = (
    f"INSERT INTO events ({_column_list}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (shop_id, client_event_id) DO NOTHING"
)


async def insert_event_rows(session: AsyncSession, rows: list[Row]) -> int:
    """Insert rows, skipping client event ids already stored; returns the number inserted."""
    if not rows:
        return 0
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        return await _insert_postgresql(session, rows)
    return await _insert_sqlite(session, rows)


async def _insert_postgresql(session: AsyncSession, rows: list[Row]) -> int:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection  # the asyncpg connection, inside our transaction
    if all(row[-1] is None for row in rows):
        # Without client event ids nothing can conflict: COPY straight into the table.
        await driver.copy_records_to_table("events", records=rows, columns=COLUMNS)
        return len(rows)
    # COPY cannot skip conflicts, so the batch goes through a staging table and one
    # INSERT … SELECT … ON CONFLICT DO NOTHING (in batch order), whose status counts the rows.
    await driver.execute(_CREATE_STAGING)
    await driver.copy_records_to_table(
        _STAGING,
        records=[(position, *row) for position, row in enumerate(rows)],
        columns=("position", *COLUMNS),
    )
    status = await driver.execute(_MOVE_STAGED)
    await driver.execute(f"DELETE FROM {_STAGING}")
    return int(status.rsplit(" ", 1)[-1])


_sqlite_processors: dict[str, Any] = {}


async def _insert_sqlite(session: AsyncSession, rows: list[Row]) -> int:
    connection = await session.connection()
    if not _sqlite_processors:
        # The column types' own bind processors, so times are stored exactly as the ORM
        # stores (and compares) them.
        dialect = connection.dialect
        for name in ("occurred_at", "received_at"):
            column_type = Event.__table__.c[name].type
            _sqlite_processors[name] = column_type.dialect_impl(dialect).bind_processor(dialect)
    to_time = _sqlite_processors["occurred_at"]
    received = to_time(rows[0][8])
    prepared = [
        (*row[:7], to_time(row[7]), received if row[8] is rows[0][8] else to_time(row[8]), row[9])
        for row in rows
    ]
    result = await connection.exec_driver_sql(_SQLITE_INSERT, prepared)
    return int(result.rowcount)
