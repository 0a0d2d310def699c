"""Tag groups, tags, and tagging customers one by one or in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers import service as customers_service
from liveloop.customers.models import TAG_SOURCES, Customer, CustomerTag, Tag, TagGroup
from liveloop.customers.schemas import (
    CustomerFilter,
    TagGroupIn,
    TagGroupUpdate,
    TagIn,
    TagUpdate,
)
from liveloop.shops.service import Actor, record_audit

# Customers per INSERT/DELETE when tagging in bulk.
BULK_CHUNK = 2000


async def list_tag_groups(*, session: AsyncSession, shop_id: int) -> list[TagGroup]:
    statement = scoped(TagGroup, shop_id).order_by(TagGroup.position, TagGroup.id)
    return list((await session.execute(statement)).scalars())


async def get_tag_group(*, session: AsyncSession, shop_id: int, group_id: int) -> TagGroup:
    return await get_scoped(
        session, TagGroup, shop_id=shop_id, record_id=group_id, label="tag_group"
    )


async def _check_group_name_free(
    session: AsyncSession, shop_id: int, name: str, group_id: int | None = None
) -> None:
    statement = scoped(TagGroup, shop_id, TagGroup.id).where(TagGroup.name == name)
    if group_id is not None:
        statement = statement.where(TagGroup.id != group_id)
    if (await session.execute(statement)).first():
        raise Conflict(
            f"a tag group named {name} already exists", code="tag_group_exists", field="name"
        )


async def create_tag_group(*, session: AsyncSession, actor: Actor, data: TagGroupIn) -> TagGroup:
    await _check_group_name_free(session, actor.shop_id, data.name)
    group = TagGroup(shop_id=actor.shop_id, **data.model_dump())
    session.add(group)
    await session.flush()
    return group


async def update_tag_group(
    *, session: AsyncSession, actor: Actor, group_id: int, data: TagGroupUpdate
) -> TagGroup:
    group = await get_tag_group(session=session, shop_id=actor.shop_id, group_id=group_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is not None:
        await _check_group_name_free(session, actor.shop_id, changes["name"], group.id)
    for name, value in changes.items():
        if value is not None or name == "color":
            setattr(group, name, value)
    await session.flush()
    return group


async def delete_tag_group(*, session: AsyncSession, actor: Actor, group_id: int) -> None:
    """Delete an empty group; one that still holds tags is refused (its tags would be orphaned)."""
    group = await get_tag_group(session=session, shop_id=actor.shop_id, group_id=group_id)
    held = (
        await session.execute(
            scoped(Tag, actor.shop_id, func.count()).where(Tag.group_id == group.id)
        )
    ).scalar_one()
    if held:
        raise Conflict(
            f"tag group {group.name} still holds {held} tag(s); delete or move them first",
            code="tag_group_not_empty",
            field="id",
        )
    await session.delete(group)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="tag_group.delete",
        target_type="tag_group",
        target_id=group_id,
        details={"name": group.name},
    )


async def list_tags(
    *, session: AsyncSession, shop_id: int, group_id: int | None = None
) -> list[Tag]:
    statement = scoped(Tag, shop_id).order_by(Tag.group_id, Tag.name)
    if group_id is not None:
        statement = statement.where(Tag.group_id == group_id)
    return list((await session.execute(statement)).scalars())


async def get_tag(*, session: AsyncSession, shop_id: int, tag_id: int) -> Tag:
    return await get_scoped(session, Tag, shop_id=shop_id, record_id=tag_id, label="tag")


async def _check_tag_name_free(
    session: AsyncSession, shop_id: int, name: str, tag_id: int | None = None
) -> None:
    statement = scoped(Tag, shop_id, Tag.id).where(Tag.name == name)
    if tag_id is not None:
        statement = statement.where(Tag.id != tag_id)
    if (await session.execute(statement)).first():
        raise Conflict(f"a tag named {name} already exists", code="tag_exists", field="name")


async def create_tag(*, session: AsyncSession, actor: Actor, data: TagIn) -> Tag:
    if data.group_id is not None:
        await get_scoped(
            session, TagGroup, shop_id=actor.shop_id, record_id=data.group_id, label="tag_group"
        )
    await _check_tag_name_free(session, actor.shop_id, data.name)
    tag = Tag(shop_id=actor.shop_id, **data.model_dump())
    session.add(tag)
    await session.flush()
    return tag


async def update_tag(*, session: AsyncSession, actor: Actor, tag_id: int, data: TagUpdate) -> Tag:
    tag = await get_tag(session=session, shop_id=actor.shop_id, tag_id=tag_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("group_id") is not None:
        await get_scoped(
            session,
            TagGroup,
            shop_id=actor.shop_id,
            record_id=changes["group_id"],
            label="tag_group",
        )
    if changes.get("name") is not None:
        await _check_tag_name_free(session, actor.shop_id, changes["name"], tag.id)
    elif "name" in changes:
        raise InvalidInput("a tag needs a name", field="name")
    for name, value in changes.items():
        setattr(tag, name, value)
    await session.flush()
    return tag


async def delete_tag(*, session: AsyncSession, actor: Actor, tag_id: int) -> None:
    """Delete a tag and take it off every customer; audited with how many customers had it."""
    tag = await get_tag(session=session, shop_id=actor.shop_id, tag_id=tag_id)
    result = await session.execute(
        delete(CustomerTag).where(
            CustomerTag.shop_id == actor.shop_id, CustomerTag.tag_id == tag.id
        )
    )
    await session.delete(tag)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="tag.delete",
        target_type="tag",
        target_id=tag_id,
        details={"name": tag.name, "customers": result.rowcount},  # type: ignore[attr-defined]
    )


async def ensure_tags(
    *, session: AsyncSession, shop_id: int, names: Iterable[str]
) -> dict[str, int]:
    """Tag ids by name, creating (ungrouped) the names that do not exist yet."""
    wanted = sorted({n.strip() for n in names if n and n.strip()})
    if not wanted:
        return {}
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 1000):
        part = wanted[start : start + 1000]
        rows = await session.execute(
            scoped(Tag, shop_id, Tag.name, Tag.id).where(Tag.name.in_(part))
        )
        found.update({name: tag_id for name, tag_id in rows})
    for name in wanted:
        if name not in found:
            if len(name) > 50:
                raise InvalidInput(f"tag {name[:20]}… is longer than 50 characters", field="tags")
            tag = Tag(shop_id=shop_id, name=name)
            session.add(tag)
            await session.flush()
            found[name] = tag.id
    return found


async def add_tag_links(
    *,
    session: AsyncSession,
    shop_id: int,
    pairs: Iterable[tuple[int, int]],
    source: str,
    tagged_by: str | None,
) -> int:
    """Insert (customer_id, tag_id) links that do not exist yet; returns how many were added."""
    if source not in TAG_SOURCES:
        raise InvalidInput(f"unknown tag source {source!r}", field="source")
    unique = sorted(set(pairs))
    if not unique:
        return 0
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # One statement with two array parameters, however many links.
        result = await session.execute(
            text(
                "INSERT INTO customer_tags (shop_id, customer_id, tag_id, source, tagged_at, "
                "tagged_by) SELECT :shop_id, u.customer_id, u.tag_id, :source, :tagged_at, "
                ":tagged_by FROM unnest(CAST(:customer_ids AS BIGINT[]), "
                "CAST(:tag_ids AS BIGINT[])) AS u(customer_id, tag_id) ON CONFLICT DO NOTHING"
            ),
            {
                "shop_id": shop_id,
                "source": source,
                "tagged_at": now,
                "tagged_by": tagged_by,
                "customer_ids": [c for c, _ in unique],
                "tag_ids": [t for _, t in unique],
            },
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
    added = 0
    for start in range(0, len(unique), BULK_CHUNK):
        part = unique[start : start + BULK_CHUNK]
        result = await session.execute(
            customers_service.insert_ignoring_duplicates(session, CustomerTag.__table__).returning(
                CustomerTag.__table__.c.tag_id
            ),
            [
                {
                    "shop_id": shop_id,
                    "customer_id": customer_id,
                    "tag_id": tag_id,
                    "source": source,
                    "tagged_at": now,
                    "tagged_by": tagged_by,
                }
                for customer_id, tag_id in part
            ],
        )
        added += len(result.all())
    return added


async def tag_customer(
    *, session: AsyncSession, actor: Actor, customer_id: int, tag_id: int, source: str = "manual"
) -> bool:
    """Put one tag on one customer; False when it was already there."""
    await customers_service.get_active_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    await get_tag(session=session, shop_id=actor.shop_id, tag_id=tag_id)
    added = await add_tag_links(
        session=session,
        shop_id=actor.shop_id,
        pairs=[(customer_id, tag_id)],
        source=source,
        tagged_by=actor.label,
    )
    return added > 0


async def untag_customer(
    *, session: AsyncSession, actor: Actor, customer_id: int, tag_id: int
) -> bool:
    """Take one tag off one customer; False when it was not there."""
    await customers_service.get_active_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    await get_tag(session=session, shop_id=actor.shop_id, tag_id=tag_id)
    result = await session.execute(
        delete(CustomerTag).where(
            CustomerTag.shop_id == actor.shop_id,
            CustomerTag.customer_id == customer_id,
            CustomerTag.tag_id == tag_id,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def bulk_tag(
    *,
    session: AsyncSession,
    actor: Actor,
    tag_ids: Sequence[int],
    customer_ids: Sequence[int] | None = None,
    filters: CustomerFilter | None = None,
    untag: bool = False,
) -> tuple[int, int]:
    """Tag or untag the listed customers, or all matching a filter: (customers, links changed).

    Listed ids that are not active customers of this shop are a NotFound naming them.
    """
    tags = await customers_service.get_tags_of_shop(
        session=session, shop_id=actor.shop_id, tag_ids=tag_ids
    )
    if customer_ids is not None:
        ids = sorted(set(customer_ids))
        known = await _active_ids(session, actor.shop_id, ids)
        unknown = [i for i in ids if i not in known]
        if unknown:
            shown = ", ".join(map(str, unknown[:10])) + ("…" if len(unknown) > 10 else "")
            raise NotFound(
                f"customer {shown} was not found", code="customer_not_found", field="customer_ids"
            )
    else:
        filters = await customers_service.localize_filter(
            session=session, shop_id=actor.shop_id, filters=filters or CustomerFilter()
        )
        statement = customers_service.customer_query(shop_id=actor.shop_id, filters=filters)
        ids = list((await session.execute(statement.with_only_columns(Customer.id))).scalars())
    changed = 0
    tag_list = [t.id for t in tags]
    if untag:
        for start in range(0, len(ids), BULK_CHUNK):
            result = await session.execute(
                delete(CustomerTag).where(
                    CustomerTag.shop_id == actor.shop_id,
                    CustomerTag.customer_id.in_(ids[start : start + BULK_CHUNK]),
                    CustomerTag.tag_id.in_(tag_list),
                )
            )
            changed += result.rowcount  # type: ignore[attr-defined]
    else:
        changed = await add_tag_links(
            session=session,
            shop_id=actor.shop_id,
            pairs=((c, t) for c in ids for t in tag_list),
            source="manual",
            tagged_by=actor.label,
        )
    await record_audit(
        session=session,
        actor=actor,
        action="customer.bulk_untag" if untag else "customer.bulk_tag",
        target_type="tag",
        details={
            "tag_ids": tag_list,
            "customers": len(ids),
            "changed": changed,
            "filter": filters.described() if customer_ids is None and filters else None,
        },
    )
    return len(ids), changed


async def _active_ids(session: AsyncSession, shop_id: int, ids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(ids), BULK_CHUNK):
        rows = await session.execute(
            scoped(Customer, shop_id, Customer.id).where(
                Customer.id.in_(ids[start : start + BULK_CHUNK]), Customer.status == "active"
            )
        )
        found.update(rows.scalars())
    return found


def tag_counts_statement(shop_id: int) -> Any:
    """tag_id -> number of customers carrying it (for the console's tag list)."""
    return (
        select(CustomerTag.tag_id, func.count())
        .where(CustomerTag.shop_id == shop_id)
        .group_by(CustomerTag.tag_id)
    )


async def tag_counts(*, session: AsyncSession, shop_id: int) -> dict[int, int]:
    return {tag_id: count for tag_id, count in await session.execute(tag_counts_statement(shop_id))}
