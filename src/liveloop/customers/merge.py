"""Merging one customer into another, and undoing it exactly."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers import service as customers_service
from liveloop.customers.models import (
    PROFILE_FIELDS,
    STATUS_ACTIVE,
    STATUS_MERGED,
    Customer,
    CustomerIdentity,
    CustomerMerge,
    CustomerTag,
    Tag,
)
from liveloop.shops.service import Actor, record_audit


def _to_json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return dict(value)
    return value


def _from_json(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field == "birthday":
        return dt.date.fromisoformat(value)
    if field in ("first_seen_at", "last_active_at"):
        return dt.datetime.fromisoformat(value)
    if field == "consent":
        return dict(value)
    return value


def profile_snapshot(customer: Customer) -> dict[str, Any]:
    return {field: _to_json(getattr(customer, field)) for field in PROFILE_FIELDS}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {}


def _merged_value(field: str, kept: Any, other: Any) -> Any:
    """What the target holds after the merge: its own value unless empty; times span both."""
    if field == "first_seen_at" and kept is not None and other is not None:
        return min(kept, other)
    if field == "last_active_at" and kept is not None and other is not None:
        return max(kept, other)
    if field == "consent":
        # The target's own answers win; channels it was never asked about come from the source.
        return {**(other or {}), **(kept or {})}
    return other if _empty(kept) and not _empty(other) else kept


async def _lock_pair(
    session: AsyncSession, shop_id: int, first_id: int, second_id: int
) -> dict[int, Customer]:
    """Lock both rows in primary-key order (the house's fixed lock order)."""
    rows = (
        await session.execute(
            scoped(Customer, shop_id)
            .where(Customer.id.in_([first_id, second_id]))
            .order_by(Customer.id)
            .with_for_update()
        )
    ).scalars()
    return {c.id: c for c in rows}


async def merge_customers(
    *, session: AsyncSession, actor: Actor, target_id: int, source_id: int
) -> CustomerMerge:
    """Merge `source` into `target`: identities and tags move, empty profile fields are filled.

    The source stays as a row with status 'merged' and merged_into_id = target; events keep
    naming it, and the target's timeline includes them. Everything needed to undo the merge
    exactly is kept in the CustomerMerge row.
    """
    if target_id == source_id:
        raise InvalidInput("a customer cannot be merged into itself", field="source_id")
    shop_id = actor.shop_id
    locked = await _lock_pair(session, shop_id, target_id, source_id)
    for customer_id, field in ((target_id, "id"), (source_id, "source_id")):
        if customer_id not in locked:
            raise NotFound(
                f"customer {customer_id} was not found", code="customer_not_found", field=field
            )
        customer = locked[customer_id]
        if customer.status != STATUS_ACTIVE:
            raise Conflict(
                f"customer {customer_id} is {customer.status}; only active customers can be merged",
                code=f"customer_{customer.status}",
                field=field,
            )
    target, source = locked[target_id], locked[source_id]
    target_before, source_before = profile_snapshot(target), profile_snapshot(source)

    filled: list[str] = []
    for field in PROFILE_FIELDS:
        kept, other = getattr(target, field), getattr(source, field)
        value = _merged_value(field, kept, other)
        if value != kept:
            filled.append(field)
            setattr(target, field, value)

    moved_identity_ids = list(
        (
            await session.execute(
                scoped(CustomerIdentity, shop_id, CustomerIdentity.id)
                .where(CustomerIdentity.customer_id == source.id)
                .order_by(CustomerIdentity.id)
            )
        ).scalars()
    )
    if moved_identity_ids:
        await session.execute(
            update(CustomerIdentity)
            .where(CustomerIdentity.id.in_(moved_identity_ids))
            .values(customer_id=target.id)
            .execution_options(synchronize_session=False)
        )

    source_tags = [
        {
            "tag_id": link.tag_id,
            "source": link.source,
            "tagged_at": link.tagged_at.isoformat(),
            "tagged_by": link.tagged_by,
        }
        for link in (
            await session.execute(
                scoped(CustomerTag, shop_id)
                .where(CustomerTag.customer_id == source.id)
                .order_by(CustomerTag.tag_id)
            )
        ).scalars()
    ]
    target_tag_ids = set(
        (
            await session.execute(
                scoped(CustomerTag, shop_id, CustomerTag.tag_id).where(
                    CustomerTag.customer_id == target.id
                )
            )
        ).scalars()
    )
    added = [row for row in source_tags if row["tag_id"] not in target_tag_ids]
    await _insert_links(session, shop_id, target.id, added)
    await session.execute(
        delete(CustomerTag).where(
            CustomerTag.shop_id == shop_id, CustomerTag.customer_id == source.id
        )
    )

    source.status = STATUS_MERGED
    source.merged_into_id = target.id
    merge = CustomerMerge(
        shop_id=shop_id,
        target_id=target.id,
        source_id=source.id,
        merged_by=actor.label,
        snapshot={
            "target_before": target_before,
            "source_before": source_before,
            "filled": filled,
            "moved_identity_ids": moved_identity_ids,
            "added_tag_ids": [row["tag_id"] for row in added],
            "source_tags": source_tags,
        },
    )
    session.add(merge)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="customer.merge",
        target_type="customer",
        target_id=target.id,
        details={
            "merge_id": merge.id,
            "source_id": source.id,
            "moved_identities": len(moved_identity_ids),
            "added_tags": len(added),
            "filled": filled,
        },
    )
    return merge


async def _insert_links(
    session: AsyncSession, shop_id: int, customer_id: int, rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    # A tag deleted since the merge cannot come back; its link is dropped.
    alive = set(
        (
            await session.execute(
                scoped(Tag, shop_id, Tag.id).where(Tag.id.in_([r["tag_id"] for r in rows]))
            )
        ).scalars()
    )
    params = [
        {
            "shop_id": shop_id,
            "customer_id": customer_id,
            "tag_id": row["tag_id"],
            "source": row["source"],
            "tagged_at": dt.datetime.fromisoformat(row["tagged_at"]),
            "tagged_by": row["tagged_by"],
        }
        for row in rows
        if row["tag_id"] in alive
    ]
    if params:
        await session.execute(
            customers_service.insert_ignoring_duplicates(session, CustomerTag.__table__), params
        )


async def get_merge(*, session: AsyncSession, shop_id: int, merge_id: int) -> CustomerMerge:
    return await get_scoped(
        session, CustomerMerge, shop_id=shop_id, record_id=merge_id, label="customer_merge"
    )


async def unmerge_customers(*, session: AsyncSession, actor: Actor, merge_id: int) -> CustomerMerge:
    """Undo one merge: both customers get back their profile, identities, tags and status."""
    shop_id = actor.shop_id
    merge = await get_merge(session=session, shop_id=shop_id, merge_id=merge_id)
    if merge.undone_at is not None:
        raise Conflict(
            f"merge {merge_id} was already undone on {merge.undone_at:%Y-%m-%d %H:%M} UTC",
            code="merge_undone",
            field="id",
        )
    locked = await _lock_pair(session, shop_id, merge.target_id, merge.source_id)
    target, source = locked[merge.target_id], locked[merge.source_id]
    if target.status != STATUS_ACTIVE:
        raise Conflict(
            f"customer {target.id} is {target.status}"
            + (f" into customer {target.merged_into_id}" if target.merged_into_id else "")
            + "; undo that first",
            code=f"customer_{target.status}",
            field="id",
        )
    if source.status != STATUS_MERGED or source.merged_into_id != target.id:
        raise Conflict(
            f"customer {source.id} is no longer merged into customer {target.id}",
            code="merge_stale",
            field="id",
        )
    snapshot = merge.snapshot
    for field in snapshot["filled"]:
        setattr(target, field, _from_json(field, snapshot["target_before"][field]))
    for field in PROFILE_FIELDS:
        setattr(source, field, _from_json(field, snapshot["source_before"][field]))
    source.status = STATUS_ACTIVE
    source.merged_into_id = None

    if snapshot["moved_identity_ids"]:
        await session.execute(
            update(CustomerIdentity)
            .where(
                CustomerIdentity.shop_id == shop_id,
                CustomerIdentity.customer_id == target.id,
                CustomerIdentity.id.in_(snapshot["moved_identity_ids"]),
            )
            .values(customer_id=source.id)
            .execution_options(synchronize_session=False)
        )
    if snapshot["added_tag_ids"]:
        await session.execute(
            delete(CustomerTag).where(
                CustomerTag.shop_id == shop_id,
                CustomerTag.customer_id == target.id,
                CustomerTag.tag_id.in_(snapshot["added_tag_ids"]),
            )
        )
    await _insert_links(session, shop_id, source.id, snapshot["source_tags"])

    merge.undone_at = utcnow()
    merge.undone_by = actor.label
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="customer.unmerge",
        target_type="customer",
        target_id=target.id,
        details={"merge_id": merge.id, "source_id": source.id},
    )
    return merge


async def list_merges(
    *, session: AsyncSession, shop_id: int, customer_id: int
) -> list[CustomerMerge]:
    """Merges this customer took part in, newest first."""
    await customers_service.get_customer(session=session, shop_id=shop_id, customer_id=customer_id)
    statement = (
        scoped(CustomerMerge, shop_id)
        .where((CustomerMerge.target_id == customer_id) | (CustomerMerge.source_id == customer_id))
        .order_by(CustomerMerge.id.desc())
    )
    return list((await session.execute(statement)).scalars())


async def merged_customer_ids(
    *, session: AsyncSession, shop_id: int, customer_id: int
) -> list[int]:
    """This customer and every customer merged into it, directly or through others."""
    found = [customer_id]
    frontier = [customer_id]
    while frontier:
        frontier = list(
            (
                await session.execute(
                    scoped(Customer, shop_id, Customer.id).where(
                        Customer.merged_into_id.in_(frontier), Customer.status == STATUS_MERGED
                    )
                )
            ).scalars()
        )
        frontier = [i for i in frontier if i not in found]
        found.extend(frontier)
    return found
