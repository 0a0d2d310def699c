"""Database engine, the declarative Base, column types, tenant scoping and pagination."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Select,
    any_,
    bindparam,
    event,
    func,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from liveloop.core.errors import NotFound

# Integer primary keys: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JSONType = JSON().with_variant(JSONB(), "postgresql")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; LiveLoop stores timezone-aware UTC only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads it as a class attribute)
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[str]: JSONType,
        list[int]: JSONType,
        list[Any]: JSONType,
    }


class IdMixin:
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ShopScoped:
    """Every business table carries shop_id; query it through `scoped()` / `get_scoped()`."""

    @declared_attr
    def shop_id(cls) -> Mapped[int]:
        return mapped_column(BigId, ForeignKey("shops.id", ondelete="CASCADE"), index=True)


ModelT = TypeVar("ModelT", bound=Base)

# Opens a unit of work: `async with open_session() as session:` (see Database.unit_of_work).
OpenSession = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def scoped(model: type[ModelT], shop_id: int, *columns: Any) -> Select[Any]:
    """`SELECT model WHERE model.shop_id = shop_id`: the one way business rows are queried."""
    statement = sa_select(*columns) if columns else sa_select(model)
    return statement.where(model.shop_id == shop_id)  # type: ignore[attr-defined]


async def get_scoped(
    session: AsyncSession, model: type[ModelT], *, shop_id: int, record_id: int, label: str = ""
) -> ModelT:
    """Load one row of this shop or raise NotFound (another shop's row is 'not found')."""
    record = (
        await session.execute(scoped(model, shop_id).where(model.id == record_id))  # type: ignore[attr-defined]
    ).scalar_one_or_none()
    if record is None:
        name = label or model.__tablename__.rstrip("s")
        raise NotFound(f"{name} {record_id} was not found", code=f"{name}_not_found", field="id")
    return record


# Far past any real list, and small enough that page × per_page never overflows an OFFSET.
MAX_PAGE = 1_000_000


@dataclass
class Page(Generic[ModelT]):
    items: Sequence[ModelT]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


async def paginate(
    session: AsyncSession, statement: Select[Any], *, page: int = 1, per_page: int = 50
) -> Page[Any]:
    """Run a select for one page and count the whole result; the one paginator for all tables."""
    page = min(max(page, 1), MAX_PAGE)
    per_page = min(max(per_page, 1), 500)
    total = (
        await session.execute(
            sa_select(func.count()).select_from(statement.order_by(None).subquery())
        )
    ).scalar_one()
    rows = (
        (await session.execute(statement.limit(per_page).offset((page - 1) * per_page)))
        .scalars()
        .all()
    )
    return Page(items=rows, total=total, page=page, per_page=per_page)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself so SAVEPOINTs and rollbacks behave (pysqlite quirk).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            "temp_store=MEMORY",
            "cache_size=-65536",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return  # health checks and other lock-free reads
        # IMMEDIATE takes the write lock at the start, waiting (busy_timeout) for another
        # writer; a deferred transaction that reads and then writes fails at once with
        # "database is locked" when another connection wrote in between.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


class Database:
    """The process's engine and session factory."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                from pathlib import Path

                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = make_engine(url, echo=echo, pool_size=pool_size)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """`async with database.unit_of_work() as session:` commits when the block ends
        (a `return` inside included) and rolls back when it raises."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


def after_commit(session: AsyncSession, callback: Any) -> None:
    """Call `callback()` once the session's current transaction commits; drop it on rollback.

    Releasing a savepoint (`begin_nested()`) also fires SQLAlchemy's after_commit; that is not
    the commit others can see, so the callback waits for the outermost one.
    """
    done = False

    def _run(target: Any) -> None:
        nonlocal done
        if done or target.in_nested_transaction():
            return
        done = True  # (removing a listener while SQLAlchemy runs them is not allowed)
        try:
            callback()
        except Exception as error:
            # The transaction is committed: a failing side effect must not turn it into an
            # error for the caller (who would then retry work that is already done).
            structlog.get_logger(__name__).error(
                "after_commit_callback_failed", callback=repr(callback), error=repr(error)
            )

    event.listen(session.sync_session, "after_commit", _run)


def ids_in(session: AsyncSession, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """`column IN ids` as ONE bound parameter (a PostgreSQL array, an SQLite JSON list), so
    100,000 ids are one query and never hit a driver's limit on parameters."""
    values = [int(i) for i in ids]
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(BigInteger)))
    listed = func.json_each(bindparam(None, json.dumps(values))).table_valued("value")
    return column.in_(sa_select(listed.c.value))
