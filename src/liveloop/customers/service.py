"""Customers and their channel identities: resolve, create, read, update, delete, search, reveal.

Tags live in `customers.tags`, merges in `customers.merge`, CSV import and export in
`customers.imports` and `customers.exports`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    Table,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from liveloop.core.database import Page, get_scoped, paginate, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers.crypto import get_cipher
from liveloop.customers.identities import (
    IdentityValue,
    check_channel,
    make_identity,
    normalize_identity,
)
from liveloop.customers.models import (
    CHANNELS,
    PII_CHANNELS,
    STATUS_ACTIVE,
    STATUS_DELETED,
    Customer,
    CustomerIdentity,
    CustomerTag,
    Tag,
)
from liveloop.customers.schemas import CustomerCreate, CustomerFilter, CustomerUpdate
from liveloop.shops import service as shops_service
from liveloop.shops.permissions import Permission
from liveloop.shops.service import Actor, record_audit

__all__ = [
    "CHANNELS",
    "add_identity",
    "create_customer",
    "customer_query",
    "delete_customer",
    "get_customer",
    "get_customers",
    "mark_customers_active",
    "remove_identity",
    "resolve_identities",
    "reveal_pii",
    "search_customers",
    "update_customer",
]

# Identity keys per lookup query: well under the bind-parameter limits of SQLite and asyncpg.
LOOKUP_BATCH = 5000

CUSTOMER_DETAILS = (
    selectinload(Customer.identities),
    selectinload(Customer.tag_links).selectinload(CustomerTag.tag),
)


# --- identities -------------------------------------------------------------------------------


async def lookup_identities(
    *, session: AsyncSession, shop_id: int, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Map (channel, lookup key) pairs to the customer holding them, in few queries."""
    unique = set(keys)
    if not unique:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # One query whatever the number of keys; LATERAL makes it one unique-index probe a
        # key even while the table has no statistics yet (a plain join would hash the whole
        # shop's identities during a first big import).
        # The keys travel as two JSON texts: asyncpg checks every element of an array
        # parameter in Python, which costs more than the query on big chunks.
        channels, keys_ = zip(*unique, strict=True)
        rows = await session.execute(
            text(
                "SELECT u.channel, u.key, i.customer_id "
                "FROM ROWS FROM (json_array_elements_text(CAST(:channels AS JSON)), "
                "json_array_elements_text(CAST(:keys AS JSON))) "
                "AS u(channel, key) CROSS JOIN LATERAL (SELECT customer_id "
                "FROM customer_identities WHERE shop_id = :shop_id AND channel = u.channel "
                "AND key = u.key LIMIT 1) AS i"
            ),
            {"shop_id": shop_id, "channels": json.dumps(channels), "keys": json.dumps(keys_)},
        )
        return {(channel, key): customer_id for channel, key, customer_id in rows}
    # SQLite: the keys as one JSON parameter, each probing the unique index (CROSS JOIN
    # fixes the loop order in SQLite; otherwise it may scan the shop's identities per key).
    pairs = sorted(unique)
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(pairs), LOOKUP_BATCH):
        rows = await session.execute(
            text(
                "SELECT i.channel, i.key, i.customer_id FROM json_each(:pairs) AS j "
                "CROSS JOIN customer_identities AS i ON i.shop_id = :shop_id "
                "AND i.channel = json_extract(j.value, '$[0]') "
                "AND i.key = json_extract(j.value, '$[1]')"
            ),
            {"shop_id": shop_id, "pairs": json.dumps(pairs[start : start + LOOKUP_BATCH])},
        )
        found.update({(channel, key): customer_id for channel, key, customer_id in rows})
    return found


def insert_ignoring_duplicates(session: AsyncSession, table: Any) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` for the session's database (PostgreSQL or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


async def allocate_customer_ids(*, session: AsyncSession, count: int) -> list[int]:
    """Reserve `count` new customer ids, so bulk inserts need no RETURNING (which would
    otherwise fall back to one INSERT a row to keep ids in order)."""
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('customers', 'id')) "
                "FROM generate_series(1, :count)"
            ),
            {"count": count},
        )
        return sorted(row[0] for row in rows)
    # SQLite has one writer at a time: a concurrent insert between this read and ours makes
    # ours fail (stale snapshot or duplicate key); it can never reuse an id silently.
    top = (await session.execute(select(func.max(Customer.id)))).scalar() or 0
    return list(range(top + 1, top + 1 + count))


CUSTOMER_COLUMNS = (
    "id", "shop_id", "display_name", "gender", "birthday", "province", "city", "source_channel",
    "first_seen_at", "last_active_at", "consent", "notes", "status", "merged_into_id",
    "deleted_at", "created_at", "updated_at",
)  # fmt: skip
IDENTITY_COLUMNS = ("shop_id", "customer_id", "channel", "key", "secret", "masked", "created_at")


async def bulk_insert(
    *, session: AsyncSession, table: Any, columns: Sequence[str], records: list[tuple[Any, ...]]
) -> None:
    """Insert many rows fast: COPY on PostgreSQL, one executemany elsewhere.

    Values go to the driver as they are on PostgreSQL: datetimes aware, JSON as text.
    """
    if not records:
        return
    if session.get_bind().dialect.name == "postgresql":
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=list(columns)
        )
        return
    # SQLite: straight to the driver, values in the form SQLAlchemy would store them
    # (UTC text timestamps, ISO dates, JSON text), skipping per-value type processing.
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    connection = await session.connection()
    await connection.exec_driver_sql(
        statement, [tuple(_sqlite_value(v) for v in record) for record in records]
    )


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


async def insert_customer_rows(
    *, session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Bulk insert customers (no ORM objects, no RETURNING); ids in the order of `rows`."""
    if not rows:
        return []
    now = utcnow()
    ids = await allocate_customer_ids(session=session, count=len(rows))
    records = [
        (
            customer_id,
            row["shop_id"],
            row.get("display_name"),
            row.get("gender"),
            row.get("birthday"),
            row.get("province"),
            row.get("city"),
            row.get("source_channel"),
            row.get("first_seen_at"),
            row.get("last_active_at"),
            json.dumps(consent) if (consent := row.get("consent")) else "{}",
            row.get("notes"),
            STATUS_ACTIVE,
            None,
            None,
            now,
            now,
        )
        for customer_id, row in zip(ids, rows, strict=True)
    ]
    await bulk_insert(
        session=session, table=Customer.__table__, columns=CUSTOMER_COLUMNS, records=records
    )
    return ids


async def insert_identity_rows(
    *, session: AsyncSession, shop_id: int, pairs: Iterable[tuple[int, IdentityValue]]
) -> None:
    """Bulk insert identities (customer id, value) known to be new."""
    now = utcnow()
    records = [
        (shop_id, customer_id, v.channel, v.key, v.secret, v.masked, now)
        for customer_id, v in pairs
    ]
    await bulk_insert(
        session=session,
        table=CustomerIdentity.__table__,
        columns=IDENTITY_COLUMNS,
        records=records,
    )


async def resolve_identities(
    *,
    session: AsyncSession,
    shop_id: int,
    identities: list[tuple[str, str]],
    create_missing: bool = True,
) -> dict[tuple[str, str], int]:
    """Map each (channel, raw value) to the id of the customer holding it.

    One lookup query for all of them; unknown identities get a new customer each
    (source_channel = the channel) in one batched insert when `create_missing`, and are left out
    of the result otherwise. The same value written differently ('+86 138-1234-5678' and
    '13812345678') resolves to the same customer. A bad channel or value raises InvalidInput
    naming it. Safe against a concurrent writer creating the same identity.
    """
    cipher = get_cipher()
    values: dict[tuple[str, str], IdentityValue] = {}
    for channel, raw in identities:
        if (channel, raw) not in values:
            values[(channel, raw)] = make_identity(cipher, channel, raw, encrypt=False)
    found = await lookup_identities(
        session=session, shop_id=shop_id, keys=(v.lookup for v in values.values())
    )
    if create_missing:
        missing: dict[tuple[str, str], IdentityValue] = {}
        for (channel, raw), value in values.items():
            if value.lookup not in found and value.lookup not in missing:
                # Encrypt only what will be stored.
                missing[value.lookup] = make_identity(cipher, channel, raw)
        if missing:
            found.update(
                await _create_customers_for(
                    session=session, shop_id=shop_id, values=list(missing.values())
                )
            )
    return {pair: found[value.lookup] for pair, value in values.items() if value.lookup in found}


async def _create_customers_for(
    *, session: AsyncSession, shop_id: int, values: list[IdentityValue]
) -> dict[tuple[str, str], int]:
    now = utcnow()
    ids = await insert_customer_rows(
        session=session,
        rows=[
            {"shop_id": shop_id, "source_channel": v.channel, "first_seen_at": now} for v in values
        ],
    )
    wanted = {v.lookup: customer_id for v, customer_id in zip(values, ids, strict=True)}
    inserted = await session.execute(
        insert_ignoring_duplicates(session, CustomerIdentity.__table__).returning(
            CustomerIdentity.__table__.c.channel, CustomerIdentity.__table__.c.key
        ),
        [
            {
                "shop_id": shop_id,
                "customer_id": wanted[v.lookup],
                "channel": v.channel,
                "key": v.key,
                "secret": v.secret,
                "masked": v.masked,
                "created_at": now,
            }
            for v in values
        ],
    )
    lost = set(wanted) - {(row[0], row[1]) for row in inserted}
    if lost:
        # Another transaction created these identities meanwhile: use its customers, drop ours.
        await session.execute(
            delete(Customer).where(Customer.id.in_([wanted[key] for key in lost]))
        )
        winners = await lookup_identities(session=session, shop_id=shop_id, keys=lost)
        wanted.update(winners)
    return wanted


def _identity_values(identities: Iterable[tuple[str, str]]) -> list[IdentityValue]:
    cipher = get_cipher()
    values: dict[tuple[str, str], IdentityValue] = {}
    for index, (channel, raw) in enumerate(identities):
        try:
            value = make_identity(cipher, channel, raw)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, code=exc.code, field=f"identities[{index}].value")
        values.setdefault(value.lookup, value)
    return list(values.values())


async def _check_identities_free(
    *, session: AsyncSession, shop_id: int, values: list[IdentityValue], customer_id: int | None
) -> None:
    taken = await lookup_identities(
        session=session, shop_id=shop_id, keys=(v.lookup for v in values)
    )
    for value in values:
        owner = taken.get(value.lookup)
        if owner is not None and owner != customer_id:
            raise Conflict(
                f"{value.label} already belongs to customer {owner}; merge the two customers "
                "instead",
                code="identity_taken",
                field=value.channel,
            )


def _identity_row(shop_id: int, customer_id: int, value: IdentityValue) -> CustomerIdentity:
    return CustomerIdentity(
        shop_id=shop_id,
        customer_id=customer_id,
        channel=value.channel,
        key=value.key,
        secret=value.secret,
        masked=value.masked,
    )


# --- customers --------------------------------------------------------------------------------


async def get_customer(*, session: AsyncSession, shop_id: int, customer_id: int) -> Customer:
    """One customer of this shop (any status) with identities and tags, or NotFound."""
    customer = (
        await session.execute(
            scoped(Customer, shop_id)
            .where(Customer.id == customer_id)
            .options(*CUSTOMER_DETAILS)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if customer is None:
        raise NotFound(
            f"customer {customer_id} was not found", code="customer_not_found", field="id"
        )
    return customer


async def get_customers(
    *, session: AsyncSession, shop_id: int, customer_ids: Iterable[int]
) -> list[Customer]:
    """Several customers of this shop with details, in id order; unknown ids are left out."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    result = await session.execute(
        scoped(Customer, shop_id)
        .where(Customer.id.in_(ids))
        .options(*CUSTOMER_DETAILS)
        .order_by(Customer.id)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def get_active_customer(*, session: AsyncSession, shop_id: int, customer_id: int) -> Customer:
    """A customer that may be changed: not merged into another, not deleted."""
    customer = await get_scoped(
        session, Customer, shop_id=shop_id, record_id=customer_id, label="customer"
    )
    if customer.status != STATUS_ACTIVE:
        where = f" into customer {customer.merged_into_id}" if customer.merged_into_id else ""
        raise Conflict(
            f"customer {customer_id} is {customer.status}{where}; change that customer instead",
            code=f"customer_{customer.status}",
            field="id",
        )
    return customer


async def get_tags_of_shop(
    *, session: AsyncSession, shop_id: int, tag_ids: Iterable[int], field: str = "tag_ids"
) -> list[Tag]:
    ids = sorted(set(tag_ids))
    if not ids:
        return []
    tags = list(
        (await session.execute(scoped(Tag, shop_id).where(Tag.id.in_(ids)).order_by(Tag.id)))
        .scalars()
        .all()
    )
    unknown = sorted(set(ids) - {tag.id for tag in tags})
    if unknown:
        raise NotFound(
            f"tag {', '.join(map(str, unknown))} was not found", code="tag_not_found", field=field
        )
    return tags


async def create_customer(*, session: AsyncSession, actor: Actor, data: CustomerCreate) -> Customer:
    """A new customer with its identities and tags; an identity held by another is a Conflict."""
    shop_id = actor.shop_id
    values = _identity_values((i.channel, i.value) for i in data.identities)
    await _check_identities_free(session=session, shop_id=shop_id, values=values, customer_id=None)
    tags = await get_tags_of_shop(session=session, shop_id=shop_id, tag_ids=data.tag_ids)
    profile = data.model_dump(exclude={"identities", "tag_ids"}, exclude_none=True)
    profile.setdefault("source_channel", values[0].channel if values else "manual")
    customer = Customer(shop_id=shop_id, **profile, first_seen_at=utcnow())
    session.add(customer)
    await session.flush()
    session.add_all(_identity_row(shop_id, customer.id, value) for value in values)
    now = utcnow()
    session.add_all(
        CustomerTag(
            shop_id=shop_id,
            customer_id=customer.id,
            tag_id=tag.id,
            source="manual",
            tagged_at=now,
            tagged_by=actor.label,
        )
        for tag in tags
    )
    await record_audit(
        session=session,
        actor=actor,
        action="customer.create",
        target_type="customer",
        target_id=customer.id,
        details={"channels": sorted({v.channel for v in values}), "tag_ids": [t.id for t in tags]},
    )
    return await get_customer(session=session, shop_id=shop_id, customer_id=customer.id)


async def update_customer(
    *, session: AsyncSession, actor: Actor, customer_id: int, data: CustomerUpdate
) -> Customer:
    """Change the profile fields that `data` sets (None clears a field)."""
    customer = await get_active_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    changes = data.model_dump(exclude_unset=True)
    if "consent" in changes and changes["consent"] is None:
        changes["consent"] = {}
    for name, value in changes.items():
        setattr(customer, name, value)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="customer.update",
        target_type="customer",
        target_id=customer.id,
        details={"fields": sorted(changes)},
    )
    return await get_customer(session=session, shop_id=actor.shop_id, customer_id=customer.id)


async def set_consent(
    *, session: AsyncSession, shop_id: int, customer_id: int, changes: Mapping[str, bool]
) -> None:
    """Set some marketing consent keys (outreach: an unsubscribe link withdraws one)."""
    customer = await get_scoped(
        session, Customer, shop_id=shop_id, record_id=customer_id, label="customer"
    )
    customer.consent = {**(customer.consent or {}), **changes}
    await session.flush()


async def delete_customer(*, session: AsyncSession, actor: Actor, customer_id: int) -> Customer:
    """Soft delete: the row stays for the events that name it; identities (PII) and tags go."""
    customer = await get_active_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    await session.execute(
        delete(CustomerIdentity).where(
            CustomerIdentity.shop_id == actor.shop_id, CustomerIdentity.customer_id == customer.id
        )
    )
    await session.execute(
        delete(CustomerTag).where(
            CustomerTag.shop_id == actor.shop_id, CustomerTag.customer_id == customer.id
        )
    )
    customer.status = STATUS_DELETED
    customer.deleted_at = utcnow()
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="customer.delete",
        target_type="customer",
        target_id=customer.id,
    )
    return await get_customer(session=session, shop_id=actor.shop_id, customer_id=customer.id)


async def add_identity(
    *, session: AsyncSession, actor: Actor, customer_id: int, channel: str, value: str
) -> CustomerIdentity:
    """Give a customer one more identity; one held by another customer is a Conflict."""
    customer = await get_active_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    identity = make_identity(get_cipher(), channel, value)
    existing = (
        await session.execute(
            scoped(CustomerIdentity, actor.shop_id).where(
                CustomerIdentity.channel == identity.channel, CustomerIdentity.key == identity.key
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        if existing.customer_id == customer.id:
            return existing
        raise Conflict(
            f"{identity.label} already belongs to customer {existing.customer_id}; merge the two "
            "customers instead",
            code="identity_taken",
            field=identity.channel,
        )
    row = _identity_row(actor.shop_id, customer.id, identity)
    session.add(row)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="customer.identity_add",
        target_type="customer",
        target_id=customer.id,
        details={"channel": identity.channel, "identity_id": row.id},
    )
    return row


async def remove_identity(
    *, session: AsyncSession, actor: Actor, customer_id: int, identity_id: int
) -> None:
    customer = await get_active_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    identity = (
        await session.execute(
            scoped(CustomerIdentity, actor.shop_id).where(
                CustomerIdentity.id == identity_id, CustomerIdentity.customer_id == customer.id
            )
        )
    ).scalar_one_or_none()
    if identity is None:
        raise NotFound(
            f"identity {identity_id} of customer {customer_id} was not found",
            code="identity_not_found",
            field="identity_id",
        )
    await session.delete(identity)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="customer.identity_remove",
        target_type="customer",
        target_id=customer.id,
        details={"channel": identity.channel, "identity_id": identity_id},
    )


async def reveal_pii(
    *, session: AsyncSession, actor: Actor, customer_id: int
) -> list[tuple[CustomerIdentity, str]]:
    """The clear identity values of one customer, for an actor who may reveal them; audited."""
    actor.check(Permission.CUSTOMERS_REVEAL_PII)
    customer = await get_customer(session=session, shop_id=actor.shop_id, customer_id=customer_id)
    cipher = get_cipher()
    revealed = [
        (i, cipher.decrypt(i.secret) if i.secret is not None else i.key)
        for i in customer.identities
    ]
    await record_audit(
        session=session,
        actor=actor,
        action="customer.pii_reveal",
        target_type="customer",
        target_id=customer.id,
        details={"channels": sorted({i.channel for i in customer.identities if i.secret})},
    )
    return revealed


async def mark_customers_active(
    *, session: AsyncSession, shop_id: int, activity: dict[int, dt.datetime]
) -> None:
    """Move last_active_at forward (never back) for these customers: {customer_id: time}."""
    await _move_customer_times(session, shop_id, "last_active_at", activity, later=True)


async def mark_customers_first_seen(
    *, session: AsyncSession, shop_id: int, first_seen: dict[int, dt.datetime]
) -> None:
    """Move first_seen_at back (never forward) to when each customer was first seen elsewhere:
    {customer_id: time}. Used when history arrives after the record (imports, the demo seed)."""
    await _move_customer_times(session, shop_id, "first_seen_at", first_seen, later=False)


async def _move_customer_times(
    session: AsyncSession,
    shop_id: int,
    column_name: str,
    times: dict[int, dt.datetime],
    *,
    later: bool,
) -> None:
    # One statement executed for many rows (executemany), in primary-key order so concurrent
    # batches lock customers in the same order.
    if not times:
        return
    table = cast(Table, Customer.__table__)
    column = table.c[column_name]
    at = bindparam("at", type_=column.type)
    moves = column < at if later else column > at
    statement = (
        update(table)
        .where(table.c.shop_id == bindparam("shop"), table.c.id == bindparam("customer"))
        .where(or_(column.is_(None), moves))
        .values({column_name: at})
    )
    await session.execute(
        statement,
        [{"shop": shop_id, "customer": cid, "at": when} for cid, when in sorted(times.items())],
    )


# --- search -----------------------------------------------------------------------------------


def _aware(value: dt.datetime | None, zone: ZoneInfo) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone)


async def localize_filter(
    *, session: AsyncSession, shop_id: int, filters: CustomerFilter
) -> CustomerFilter:
    """Read naive times of the filter in the shop's time zone."""
    names = ("created_from", "created_to", "active_from", "active_to")
    if all(getattr(filters, n) is None or getattr(filters, n).tzinfo for n in names):
        return filters
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    zone = ZoneInfo(shop.timezone)
    return filters.model_copy(update={n: _aware(getattr(filters, n), zone) for n in names})


def _identity_match(shop_id: int, channel: str, raw: str) -> Any:
    try:
        normalized = normalize_identity(channel, raw)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, code=exc.code, field=channel)
    value = make_identity(get_cipher(), channel, normalized, encrypt=False)
    return Customer.id.in_(
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.shop_id == shop_id,
            CustomerIdentity.channel == channel,
            CustomerIdentity.key == value.key,
        )
    )


def customer_query(*, shop_id: int, filters: CustomerFilter) -> Select[Any]:
    """`SELECT customers` of this shop matching the filter, newest first (no details loaded).

    Naive times are taken as UTC here; call `localize_filter` first for the shop's zone.
    """
    statement = scoped(Customer, shop_id).where(Customer.status == filters.status)
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(Customer.display_name.ilike(f"%{escaped}%", escape="\\"))
    if filters.phone:
        statement = statement.where(_identity_match(shop_id, "phone", filters.phone))
    if filters.email:
        statement = statement.where(_identity_match(shop_id, "email", filters.email))
    if filters.tag_ids:
        tagged = select(CustomerTag.customer_id).where(CustomerTag.shop_id == shop_id)
        if filters.tag_match == "any":
            statement = statement.where(
                Customer.id.in_(tagged.where(CustomerTag.tag_id.in_(filters.tag_ids)))
            )
        else:
            for tag_id in sorted(set(filters.tag_ids)):
                statement = statement.where(
                    Customer.id.in_(tagged.where(CustomerTag.tag_id == tag_id))
                )
    if filters.channel:
        check_channel(filters.channel)
        statement = statement.where(
            exists().where(
                CustomerIdentity.customer_id == Customer.id,
                CustomerIdentity.channel == filters.channel,
            )
        )
    if filters.source:
        statement = statement.where(Customer.source_channel == filters.source)
    utc = ZoneInfo("UTC")
    for value, column, op in (
        (filters.created_from, Customer.created_at, "ge"),
        (filters.created_to, Customer.created_at, "lt"),
        (filters.active_from, Customer.last_active_at, "ge"),
        (filters.active_to, Customer.last_active_at, "lt"),
    ):
        if value is not None:
            moment = _aware(value, utc)
            statement = statement.where(column >= moment if op == "ge" else column < moment)
    return statement.order_by(Customer.id.desc())


async def search_customers(
    *,
    session: AsyncSession,
    shop_id: int,
    filters: CustomerFilter,
    page: int = 1,
    per_page: int = 50,
) -> Page[Customer]:
    """One page of matching customers with identities (masked) and tags loaded."""
    filters = await localize_filter(session=session, shop_id=shop_id, filters=filters)
    statement = customer_query(shop_id=shop_id, filters=filters).options(*CUSTOMER_DETAILS)
    return await paginate(session, statement, page=page, per_page=per_page)


def pii_channels() -> frozenset[str]:
    return PII_CHANNELS
