"""Exporting the filtered customer list as CSV, streamed in id batches, audited."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import OpenSession
from liveloop.customers import service as customers_service
from liveloop.customers.crypto import get_cipher
from liveloop.customers.models import CHANNELS, Customer
from liveloop.customers.schemas import CustomerFilter
from liveloop.shops import service as shops_service
from liveloop.shops.permissions import Permission
from liveloop.shops.service import Actor, record_audit

EXPORT_BATCH = 1000
EXPORT_COLUMNS = (
    "id", "display_name", "gender", "birthday", "province", "city", "source_channel",
    *CHANNELS, "tags", "status", "first_seen_at", "last_active_at", "created_at",
)  # fmt: skip
BOM = "\ufeff"


async def start_export(
    *, session: AsyncSession, actor: Actor, filters: CustomerFilter, reveal: bool = False
) -> tuple[CustomerFilter, int]:
    """Check the actor may export (and reveal), count the rows and audit the export."""
    actor.check(Permission.CUSTOMERS_EXPORT)
    if reveal:
        actor.check(Permission.CUSTOMERS_REVEAL_PII)
    filters = await customers_service.localize_filter(
        session=session, shop_id=actor.shop_id, filters=filters
    )
    statement = customers_service.customer_query(shop_id=actor.shop_id, filters=filters)
    total = (
        await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))
    ).scalar_one()
    await record_audit(
        session=session,
        actor=actor,
        action="customer.export",
        target_type="customer",
        details={"filter": filters.described(), "rows": total, "revealed": reveal},
    )
    return filters, total


def _line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


async def export_csv_lines(
    *, open_session: OpenSession, shop_id: int, filters: CustomerFilter, reveal: bool = False
) -> AsyncIterator[str]:
    """The CSV (BOM first, so Excel reads Chinese right), a batch of customers at a time.

    Call `start_export` first: it checks permissions and writes the audit entry. The lines
    are read in a unit of work of their own, opened when streaming starts (a response streams
    after the request's own session has closed).
    """
    async with open_session() as session:
        async for line in _export_lines(session, shop_id=shop_id, filters=filters, reveal=reveal):
            yield line


async def _export_lines(
    session: AsyncSession, *, shop_id: int, filters: CustomerFilter, reveal: bool
) -> AsyncIterator[str]:
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    zone = ZoneInfo(shop.timezone)
    cipher = get_cipher()
    yield BOM + _line(list(EXPORT_COLUMNS))
    base = customers_service.customer_query(shop_id=shop_id, filters=filters).options(
        *customers_service.CUSTOMER_DETAILS
    )
    last_id: int | None = None
    while True:
        statement = base if last_id is None else base.where(Customer.id < last_id)
        batch = list((await session.execute(statement.limit(EXPORT_BATCH))).scalars())
        if not batch:
            return
        chunk = []
        for customer in batch:
            by_channel: dict[str, list[str]] = {}
            for identity in customer.identities:
                value = (
                    cipher.decrypt(identity.secret)
                    if reveal and identity.secret is not None
                    else identity.display_value
                )
                by_channel.setdefault(identity.channel, []).append(value)
            row: list[object] = [
                customer.id,
                customer.display_name or "",
                customer.gender or "",
                customer.birthday.isoformat() if customer.birthday else "",
                customer.province or "",
                customer.city or "",
                customer.source_channel or "",
                *(";".join(by_channel.get(channel, [])) for channel in CHANNELS),
                ";".join(link.tag.name for link in customer.tag_links),
                customer.status,
                *(
                    moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""
                    for moment in (
                        customer.first_seen_at,
                        customer.last_active_at,
                        customer.created_at,
                    )
                ),
            ]
            chunk.append(_line(row))
        yield "".join(chunk)
        last_id = batch[-1].id
        # Keep memory flat on large exports: forget the rows already written.
        for customer in batch:
            for loaded in (*customer.identities, *customer.tag_links, customer):
                session.expunge(loaded)
