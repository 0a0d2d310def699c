"""Reads and writes of the script library (话术库): categories, shop-wide and personal entries,
search by jieba words, and one use of an entry filled for a customer.

Who may do what: every staff member with `customers.read` sees the shop-wide entries and their
own personal ones, and keeps their own; shop-wide entries and the categories are kept by staff
with `outreach.manage`. Another staff member's personal entry is "not found", like another
shop's record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from liveloop.outreach.scripts.models import ScriptCategory, ScriptEntry, ScriptEntryToken
from liveloop.outreach.scripts.schemas import (
    CategoryIn,
    CategoryPatch,
    EntryIn,
    EntryOut,
    EntryPatch,
    UseOut,
)
from liveloop.outreach.scripts.search import tokens
from liveloop.outreach.scripts.variables import check_variables, fill, variables_in
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

# --------------------------------------------------------------------------- categories


async def list_categories(*, session: AsyncSession, actor: Actor) -> list[dict[str, Any]]:
    """In display order, each with how many entries this actor sees in it."""
    counts = dict(
        (
            await session.execute(
                visible(actor, ScriptEntry.category_id, func.count())
                .where(ScriptEntry.category_id.is_not(None))
                .group_by(ScriptEntry.category_id)
            )
        ).all()
    )
    rows = (
        await session.execute(
            scoped(ScriptCategory, actor.shop_id).order_by(
                ScriptCategory.position, ScriptCategory.id
            )
        )
    ).scalars()
    return [
        {"id": c.id, "name": c.name, "position": c.position, "entry_count": counts.get(c.id, 0)}
        for c in rows
    ]


async def get_category(*, session: AsyncSession, shop_id: int, category_id: int) -> ScriptCategory:
    return await get_scoped(
        session, ScriptCategory, shop_id=shop_id, record_id=category_id, label="script_category"
    )


async def _check_category_name(
    session: AsyncSession, shop_id: int, name: str, except_id: int | None = None
) -> None:
    statement = scoped(ScriptCategory, shop_id, ScriptCategory.id).where(
        ScriptCategory.name == name
    )
    if except_id is not None:
        statement = statement.where(ScriptCategory.id != except_id)
    if (await session.execute(statement)).first() is not None:
        raise Conflict(
            f"there is already a category named {name}",
            code="script_category_exists",
            field="name",
        )


async def _flush_category(session: AsyncSession, category: ScriptCategory) -> None:
    try:
        async with session.begin_nested():
            session.add(category)
            await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same name
        raise Conflict(
            f"there is already a category named {category.name}",
            code="script_category_exists",
            field="name",
        ) from exc


async def create_category(
    *, session: AsyncSession, actor: Actor, data: CategoryIn
) -> ScriptCategory:
    actor.check(P.OUTREACH_MANAGE)
    await _check_category_name(session, actor.shop_id, data.name)
    category = ScriptCategory(shop_id=actor.shop_id, name=data.name, position=data.position)
    await _flush_category(session, category)
    return category


async def update_category(
    *, session: AsyncSession, actor: Actor, category_id: int, data: CategoryPatch
) -> ScriptCategory:
    category = await get_category(session=session, shop_id=actor.shop_id, category_id=category_id)
    actor.check(P.OUTREACH_MANAGE)
    if data.name is not None and data.name != category.name:
        await _check_category_name(session, actor.shop_id, data.name, category.id)
        category.name = data.name
    if data.position is not None:
        category.position = data.position
    await _flush_category(session, category)
    return category


async def delete_category(*, session: AsyncSession, actor: Actor, category_id: int) -> None:
    """Its entries stay, without a category (personal ones included: they are not lost
    because an operator tidied the categories)."""
    category = await get_category(session=session, shop_id=actor.shop_id, category_id=category_id)
    actor.check(P.OUTREACH_MANAGE)
    await session.execute(
        update(ScriptEntry)
        .where(ScriptEntry.shop_id == actor.shop_id, ScriptEntry.category_id == category.id)
        .values(category_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.delete(category)
    await session.flush()


# ------------------------------------------------------------------------------ entries


def visible(actor: Actor, *columns: Any) -> Any:
    """Entries this actor may see: the shop's shared ones and their own personal ones (an API
    key has no person, so only the shared ones)."""
    mine = ScriptEntry.owner_staff_id == actor.staff_id if actor.staff_id is not None else false()
    return scoped(ScriptEntry, actor.shop_id, *columns).where(
        or_(ScriptEntry.owner_staff_id.is_(None), mine)
    )


async def access_entry(*, session: AsyncSession, actor: Actor, entry_id: int) -> ScriptEntry:
    entry = (
        await session.execute(
            visible(actor)
            .where(ScriptEntry.id == entry_id)
            .execution_options(populate_existing=True)  # counts move by bulk UPDATEs
        )
    ).scalar_one_or_none()
    if entry is None:
        raise NotFound(
            f"script {entry_id} was not found", code="script_not_found", field="script_id"
        )
    return entry


def check_may_edit(actor: Actor, entry: ScriptEntry) -> None:
    """A personal entry is its owner's (visible means owned); shared ones need outreach.manage."""
    if entry.owner_staff_id is None and not actor.can(P.OUTREACH_MANAGE):
        raise PermissionDenied(
            f"{actor.label} may not change the shop's shared scripts (needs outreach.manage);"
            " save it as a personal script instead",
            code="permission_denied",
            field="scope",
        )


def entry_out(entry: ScriptEntry, matches: int = 0) -> EntryOut:
    return EntryOut(
        id=entry.id,
        category_id=entry.category_id,
        scope="shop" if entry.owner_staff_id is None else "personal",
        title=entry.title,
        text=entry.text,
        keywords=list(entry.keywords or []),
        images=list(entry.images or []),
        links=list(entry.links or []),
        variables=variables_in(entry.text),
        usage_count=entry.usage_count,
        last_used_at=entry.last_used_at,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        matches=matches,
    )


async def _check_category(session: AsyncSession, shop_id: int, category_id: int | None) -> None:
    if category_id is None:
        return
    found = (
        await session.execute(
            scoped(ScriptCategory, shop_id, ScriptCategory.id).where(
                ScriptCategory.id == category_id
            )
        )
    ).first()
    if found is None:
        raise NotFound(
            f"script category {category_id} was not found",
            code="script_category_not_found",
            field="category_id",
        )


async def _index(session: AsyncSession, entry: ScriptEntry) -> None:
    """Replace the entry's search words (title, text and keywords)."""
    await session.execute(delete(ScriptEntryToken).where(ScriptEntryToken.entry_id == entry.id))
    # A keyword is a word of its own too (在吗 as a whole, though jieba cuts it into fillers).
    keywords = [k.strip().lower()[:40] for k in entry.keywords or [] if k.strip()]
    words = tokens(entry.title, entry.text, *keywords) | set(keywords)
    if words:
        session.add_all(
            ScriptEntryToken(shop_id=entry.shop_id, entry_id=entry.id, token=word)
            for word in sorted(words)
        )
    await session.flush()


def _clean_keywords(keywords: list[str]) -> list[str]:
    seen: list[str] = []
    for keyword in keywords:
        if keyword not in seen:
            seen.append(keyword)
    return seen


async def create_entry(*, session: AsyncSession, actor: Actor, data: EntryIn) -> ScriptEntry:
    actor.check(P.CUSTOMERS_READ)
    if data.scope == "personal" and actor.staff_id is None:
        raise InvalidInput(
            "an API key has no personal scripts; create it with scope shop",
            code="personal_needs_staff",
            field="scope",
        )
    owner = actor.staff_id if data.scope == "personal" else None
    if owner is None:
        actor.check(P.OUTREACH_MANAGE)
    check_variables(data.text)
    await _check_category(session, actor.shop_id, data.category_id)
    entry = ScriptEntry(
        shop_id=actor.shop_id,
        category_id=data.category_id,
        owner_staff_id=owner,
        title=data.title,
        text=data.text,
        keywords=_clean_keywords(data.keywords),
        images=list(data.images),
        links=[link.model_dump() for link in data.links],
        usage_count=0,
        created_by=actor.staff_id,
    )
    session.add(entry)
    await session.flush()
    await _index(session, entry)
    return entry


async def update_entry(
    *, session: AsyncSession, actor: Actor, entry_id: int, data: EntryPatch
) -> ScriptEntry:
    entry = await access_entry(session=session, actor=actor, entry_id=entry_id)
    check_may_edit(actor, entry)
    given = data.model_fields_set
    for name in ("title", "text", "keywords", "images", "links"):
        if name in given and getattr(data, name) is None:
            raise InvalidInput(f"{name} may not be null", code="invalid", field=name)
    if data.text is not None:
        check_variables(data.text)
        entry.text = data.text
    if data.title is not None:
        entry.title = data.title
    if "category_id" in given:
        await _check_category(session, actor.shop_id, data.category_id)
        entry.category_id = data.category_id
    if data.keywords is not None:
        entry.keywords = _clean_keywords(data.keywords)
    if data.images is not None:
        entry.images = list(data.images)
    if data.links is not None:
        entry.links = [link.model_dump() for link in data.links]
    await session.flush()
    await _index(session, entry)
    return entry


async def delete_entry(*, session: AsyncSession, actor: Actor, entry_id: int) -> None:
    entry = await access_entry(session=session, actor=actor, entry_id=entry_id)
    check_may_edit(actor, entry)
    await session.execute(delete(ScriptEntryToken).where(ScriptEntryToken.entry_id == entry.id))
    await session.delete(entry)
    await session.flush()


@dataclass
class Hits:
    items: list[EntryOut]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search_entries(
    *,
    session: AsyncSession,
    actor: Actor,
    q: str = "",
    category_id: int | None = None,
    scope: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Hits:
    """With a question: entries sharing at least one of its words, most shared words first,
    then the most used. A question with no word left (a lone character such as 发, or 在吗:
    only fillers) matches titles and texts containing it, and entries with it as a keyword.
    Without one: the most used first."""
    page, per_page = max(1, min(page, 1_000_000)), max(1, min(per_page, 100))
    matches: Any = None
    statement = visible(actor)
    whole = q.strip().lower()[:40]
    words = (tokens(q) | {whole}) if whole and tokens(q) else set()
    if words:
        matches = (
            select(ScriptEntryToken.entry_id, func.count().label("matches"))
            .where(ScriptEntryToken.shop_id == actor.shop_id, ScriptEntryToken.token.in_(words))
            .group_by(ScriptEntryToken.entry_id)
            .subquery()
        )
        statement = visible(actor, ScriptEntry, matches.c.matches).join(
            matches, matches.c.entry_id == ScriptEntry.id
        )
    elif q.strip():
        pattern = _like(q.strip())
        keyword = select(ScriptEntryToken.entry_id).where(
            ScriptEntryToken.shop_id == actor.shop_id, ScriptEntryToken.token == whole
        )
        statement = statement.where(
            or_(
                ScriptEntry.title.like(pattern, escape="\\"),
                ScriptEntry.text.like(pattern, escape="\\"),
                ScriptEntry.id.in_(keyword),
            )
        )
    if category_id is not None:
        statement = statement.where(ScriptEntry.category_id == category_id)
    if scope == "shop":
        statement = statement.where(ScriptEntry.owner_staff_id.is_(None))
    elif scope == "personal":
        statement = statement.where(ScriptEntry.owner_staff_id.is_not(None))
    total = (
        await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))
    ).scalar_one()
    order = [ScriptEntry.usage_count.desc(), ScriptEntry.id]
    if matches is not None:
        order.insert(0, matches.c.matches.desc())
    result = await session.execute(
        statement.order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .execution_options(populate_existing=True)  # counts move by bulk UPDATEs
    )
    if matches is not None:
        items = [entry_out(entry, count) for entry, count in result.all()]
    else:
        items = [entry_out(entry, 1 if q.strip() else 0) for entry in result.scalars()]
    return Hits(items=items, total=total, page=page, per_page=per_page)


# ---------------------------------------------------------------------------------- use


async def customer_values(
    *, session: AsyncSession, shop_id: int, customer_id: int | None
) -> dict[str, str | None]:
    """What the variables stand for, for this customer (404 for another shop's customer)."""
    from liveloop.commerce.order_queries import OrderFilter, list_orders
    from liveloop.customers import service as customers_service
    from liveloop.customers.points import service as points_service
    from liveloop.customers.points import tiers as tiers_service
    from liveloop.shops import service as shops_service

    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    values: dict[str, str | None] = {"店铺名": shop.name}
    if customer_id is None:
        return values
    customer = await customers_service.get_customer(
        session=session, shop_id=shop_id, customer_id=customer_id
    )
    tier = await tiers_service.customer_tier(
        session=session, shop_id=shop_id, customer_id=customer.id
    )
    balance = await points_service.get_balance(
        session=session, shop_id=shop_id, customer_id=customer.id
    )
    orders = await list_orders(
        session=session, shop_id=shop_id, filters=OrderFilter(customer_id=customer.id), per_page=1
    )
    values.update(
        {
            "客户昵称": customer.display_name,
            "会员等级": tier.name if tier is not None else None,
            "积分": str(balance.balance),
            "最近订单号": orders.items[0].number if orders.items else None,
        }
    )
    return values


def _message(text: str, links: list[dict[str, str]]) -> str:
    lines = [text, *(f"{link['title']}: {link['url']}" for link in links)]
    return "\n".join(lines)


async def use_entry(
    *, session: AsyncSession, actor: Actor, entry_id: int, customer_id: int | None
) -> UseOut:
    """Fill the entry for the customer and count one use (a conditional-free increment in the
    database, so concurrent uses all count)."""
    entry = await access_entry(session=session, actor=actor, entry_id=entry_id)
    values = await customer_values(session=session, shop_id=actor.shop_id, customer_id=customer_id)
    text, missing = fill(entry.text, values)
    count = (
        await session.execute(
            update(ScriptEntry)
            .where(ScriptEntry.id == entry.id, ScriptEntry.shop_id == actor.shop_id)
            .values(usage_count=ScriptEntry.usage_count + 1, last_used_at=utcnow())
            .returning(ScriptEntry.usage_count)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    return UseOut(
        entry_id=entry.id,
        text=text,
        message=_message(text, list(entry.links or [])),
        images=list(entry.images or []),
        missing=missing,
        usage_count=count,
    )
