"""Categories, products, SKUs and images: the catalog's reads and writes, no HTTP.

Stock is changed only in `catalog.stock` (conditional updates) and images live in
`catalog.images`; their functions are re-exported here, so other domains and the pages write
`catalog_service.reserve_stock(...)`, `catalog_service.add_product_image(...)`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog.images import (
    add_product_image,
    delete_product_image,
    reorder_product_images,
)
from liveloop.catalog.media import remove_image_files
from liveloop.catalog.models import (
    Category,
    Product,
    ProductStatus,
    Sku,
    StockMovement,
)
from liveloop.catalog.schemas import (
    MAX_SKUS_PER_PRODUCT,
    CategoryCreate,
    CategoryUpdate,
    ProductCreate,
    ProductUpdate,
    SkuCreate,
    SkuUpdate,
)
from liveloop.catalog.stock import (
    adjust_stock,
    list_stock_movements,
    record_sold,
    release_stock,
    reserve_stock,
)
from liveloop.core.database import Page, after_commit, get_scoped, paginate, scoped
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.shops import service as shops_service
from liveloop.shops.service import Actor

__all__ = [
    "add_product_image",
    "add_sku",
    "adjust_stock",
    "create_category",
    "create_product",
    "delete_category",
    "delete_product",
    "delete_product_image",
    "format_fen",
    "get_category",
    "get_product",
    "get_sku",
    "get_skus",
    "list_categories",
    "list_stock_movements",
    "record_sold",
    "release_stock",
    "reorder_product_images",
    "reserve_stock",
    "search_products",
    "set_product_status",
    "set_sku_active",
    "update_category",
    "update_product",
    "update_sku",
]


def format_fen(fen: int) -> str:
    """12990 -> '¥129.90' (integer arithmetic; money never passes through a float)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100}.{fen % 100:02d}"


# ---------------------------------------------------------------------------------- categories


async def list_categories(*, session: AsyncSession, shop_id: int) -> list[Category]:
    """Every category of the shop, parents before children's siblings by (sort, id)."""
    statement = scoped(Category, shop_id).order_by(Category.sort, Category.id)
    return list((await session.execute(statement)).scalars())


async def get_category(*, session: AsyncSession, shop_id: int, category_id: int) -> Category:
    return await get_scoped(
        session, Category, shop_id=shop_id, record_id=category_id, label="category"
    )


async def _check_parent(
    session: AsyncSession, *, shop_id: int, parent_id: int, moving_id: int | None = None
) -> None:
    """The parent exists in this shop and is not the category itself or one of its children."""
    parents = dict(
        (await session.execute(scoped(Category, shop_id, Category.id, Category.parent_id))).all()
    )
    if parent_id not in parents:
        raise NotFound(
            f"category {parent_id} was not found", code="category_not_found", field="parent_id"
        )
    cursor: int | None = parent_id
    while cursor is not None:
        if cursor == moving_id:
            raise InvalidInput(
                "a category cannot be moved under itself or one of its sub-categories",
                code="category_cycle",
                field="parent_id",
            )
        cursor = parents.get(cursor)


async def create_category(*, session: AsyncSession, shop_id: int, data: CategoryCreate) -> Category:
    if data.parent_id is not None:
        await _check_parent(session, shop_id=shop_id, parent_id=data.parent_id)
    category = Category(shop_id=shop_id, name=data.name, parent_id=data.parent_id, sort=data.sort)
    session.add(category)
    await session.flush()
    return category


async def update_category(
    *, session: AsyncSession, shop_id: int, category_id: int, data: CategoryUpdate
) -> Category:
    category = await get_category(session=session, shop_id=shop_id, category_id=category_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("parent_id") is not None:
        await _check_parent(
            session, shop_id=shop_id, parent_id=changes["parent_id"], moving_id=category.id
        )
    for name in ("name", "sort"):
        if changes.get(name) is not None:
            setattr(category, name, changes[name])
    if "parent_id" in changes:
        category.parent_id = changes["parent_id"]
    await session.flush()
    return category


async def delete_category(*, session: AsyncSession, actor: Actor, category_id: int) -> None:
    """Delete an empty-of-children category; its products stay, without a category."""
    category = await get_category(session=session, shop_id=actor.shop_id, category_id=category_id)
    children = (
        await session.execute(
            scoped(Category, actor.shop_id, func.count()).where(Category.parent_id == category.id)
        )
    ).scalar_one()
    if children:
        raise Conflict(
            f"category {category.name} still has {children} sub-categories; "
            "move or delete them first",
            code="category_has_children",
        )
    await session.execute(
        update(Product)
        .where(Product.shop_id == actor.shop_id, Product.category_id == category.id)
        .values(category_id=None)
        .execution_options(synchronize_session="fetch")
    )
    await session.delete(category)
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="category.delete",
        target_type="category",
        target_id=category.id,
        details={"name": category.name},
    )


async def _category_with_descendants(
    session: AsyncSession, *, shop_id: int, category_id: int
) -> list[int]:
    rows = (await session.execute(scoped(Category, shop_id, Category.id, Category.parent_id))).all()
    children: dict[int | None, list[int]] = {}
    for child_id, parent_id in rows:
        children.setdefault(parent_id, []).append(child_id)
    found, pending = [], [category_id]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


# ------------------------------------------------------------------------------------ products


async def get_product(*, session: AsyncSession, shop_id: int, product_id: int) -> Product:
    """The product with its SKUs and images loaded."""
    return await get_scoped(
        session, Product, shop_id=shop_id, record_id=product_id, label="product"
    )


async def get_products(
    *, session: AsyncSession, shop_id: int, product_ids: Iterable[int]
) -> dict[int, Product]:
    """The shop's products among `product_ids`, by id, with SKUs and images loaded: one query
    for the products (and one per relationship), however many ids. A deleted product or another
    shop's id is left out."""
    wanted = set(product_ids)
    if not wanted:
        return {}
    statement = scoped(Product, shop_id).where(Product.id.in_(wanted))
    return {product.id: product for product in (await session.execute(statement)).scalars()}


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_products(
    *,
    session: AsyncSession,
    shop_id: int,
    q: str | None = None,
    category_id: int | None = None,
    status: ProductStatus | str | None = None,
    min_price_fen: int | None = None,
    max_price_fen: int | None = None,
    in_stock: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Product]:
    """Newest first. `q` matches name or subtitle (substring) or a SKU code (exact);
    `category_id` includes its sub-categories; the price range and `in_stock` look at active
    SKUs (a product matches when one of its active SKUs does)."""
    statement = scoped(Product, shop_id).order_by(Product.id.desc())
    if q and q.strip():
        pattern = _like_pattern(q.strip())
        by_code = select(Sku.product_id).where(Sku.shop_id == shop_id, Sku.code == q.strip())
        statement = statement.where(
            or_(
                Product.name.ilike(pattern, escape="\\"),
                Product.subtitle.ilike(pattern, escape="\\"),
                Product.id.in_(by_code),
            )
        )
    if category_id is not None:
        ids = await _category_with_descendants(session, shop_id=shop_id, category_id=category_id)
        statement = statement.where(Product.category_id.in_(ids))
    if status is not None:
        statement = statement.where(Product.status == ProductStatus(status).value)
    if min_price_fen is not None or max_price_fen is not None or in_stock is True:
        # One active SKU must meet every SKU condition at once (in stock *and* in range).
        skus = select(Sku.product_id).where(Sku.shop_id == shop_id, Sku.is_active.is_(True))
        if min_price_fen is not None:
            skus = skus.where(Sku.price_fen >= min_price_fen)
        if max_price_fen is not None:
            skus = skus.where(Sku.price_fen <= max_price_fen)
        if in_stock is True:
            skus = skus.where(Sku.stock > 0)
        statement = statement.where(Product.id.in_(skus))
    if in_stock is False:
        with_stock = select(Sku.product_id).where(
            Sku.shop_id == shop_id, Sku.is_active.is_(True), Sku.stock > 0
        )
        statement = statement.where(Product.id.not_in(with_stock))
    return await paginate(session, statement, page=page, per_page=per_page)


def _check_sku_prices(
    price_fen: int, list_price_fen: int | None, *, prefix: str = ""
) -> dict[str, Any] | None:
    if list_price_fen is not None and list_price_fen < price_fen:
        return {
            "code": "list_price_below_price",
            "message": f"the list price {format_fen(list_price_fen)} is below the price "
            f"{format_fen(price_fen)}; leave it empty or raise it",
            "field": f"{prefix}list_price_fen",
        }
    return None


def _raise_problems(problems: list[dict[str, Any]]) -> None:
    if problems:
        first = problems[0]
        raise InvalidInput(
            first["message"], code=first["code"], field=first["field"], details=problems
        )


def _check_new_skus(
    skus: Sequence[SkuCreate], *, field: str = "skus", existing: Sequence[Sku] = ()
) -> None:
    """Prices and duplicates inside the request; every problem is listed with its field path."""
    problems: list[dict[str, Any]] = []
    codes: dict[str, int] = {}
    specs_seen = {_specs_key(sku.specs) for sku in existing if sku.is_active}
    for index, sku in enumerate(skus):
        prefix = f"{field}[{index}]." if field else ""
        problem = _check_sku_prices(sku.price_fen, sku.list_price_fen, prefix=prefix)
        if problem:
            problems.append(problem)
        if sku.code is not None:
            if sku.code in codes:
                problems.append(
                    {
                        "code": "duplicate_sku_code",
                        "message": f"SKU code {sku.code} is used twice "
                        f"(also by {field}[{codes[sku.code]}])",
                        "field": f"{prefix}code",
                    }
                )
            codes.setdefault(sku.code, index)
        key = _specs_key(sku.specs)
        if key in specs_seen and sku.is_active:
            label = " / ".join(sku.specs.values()) or "without specs"
            problems.append(
                {
                    "code": "duplicate_sku_specs",
                    "message": f"two SKUs of this product have the same specs ({label})",
                    "field": f"{prefix}specs",
                }
            )
        if sku.is_active:
            specs_seen.add(key)
    _raise_problems(problems)


def _specs_key(specs: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in specs.items()))


async def _check_codes_free(
    session: AsyncSession, *, shop_id: int, codes: dict[str, str], except_sku_id: int | None = None
) -> None:
    """`codes` maps code -> field path; a code another SKU of the shop holds is a 409."""
    if not codes:
        return
    statement = scoped(Sku, shop_id, Sku.code).where(Sku.code.in_(list(codes)))
    if except_sku_id is not None:
        statement = statement.where(Sku.id != except_sku_id)
    taken = set((await session.execute(statement)).scalars())
    if taken:
        code = next(code for code in codes if code in taken)
        raise Conflict(
            f"SKU code {code} is already used by another SKU of this shop",
            code="sku_code_taken",
            field=codes[code],
        )


def _new_sku(shop_id: int, data: SkuCreate) -> Sku:
    return Sku(
        shop_id=shop_id,
        code=data.code or _generated_sku_code(),
        specs=dict(data.specs),
        price_fen=data.price_fen,
        list_price_fen=data.list_price_fen,
        stock=data.stock,
        sold_count=0,
        is_active=data.is_active,
    )


def _generated_sku_code() -> str:
    return f"SKU-{secrets.token_hex(5).upper()}"


async def create_product(*, session: AsyncSession, shop_id: int, data: ProductCreate) -> Product:
    """A product with its SKUs; the initial stock of each SKU is recorded as a movement."""
    _check_new_skus(data.skus)
    if data.category_id is not None:
        await get_scoped(
            session, Category, shop_id=shop_id, record_id=data.category_id, label="category"
        )
    await _check_codes_free(
        session,
        shop_id=shop_id,
        codes={sku.code: f"skus[{i}].code" for i, sku in enumerate(data.skus) if sku.code},
    )
    product = Product(
        shop_id=shop_id,
        name=data.name,
        subtitle=data.subtitle,
        description=data.description,
        category_id=data.category_id,
        status=ProductStatus(data.status).value,
    )
    product.skus = [_new_sku(shop_id, sku) for sku in data.skus]
    product.images = []
    if product.status == ProductStatus.ON_SHELF and not product.active_skus:
        raise InvalidInput(
            "a product on shelf needs at least one active SKU", code="no_active_sku", field="skus"
        )
    session.add(product)
    await session.flush()
    await _record_initial_stock(session, product.skus)
    return product


async def _record_initial_stock(session: AsyncSession, skus: Sequence[Sku]) -> None:
    session.add_all(
        StockMovement(
            shop_id=sku.shop_id,
            sku_id=sku.id,
            delta=sku.stock,
            stock_after=sku.stock,
            reason="initial",
        )
        for sku in skus
        if sku.stock
    )
    await session.flush()


async def update_product(
    *, session: AsyncSession, shop_id: int, product_id: int, data: ProductUpdate
) -> Product:
    product = await get_product(session=session, shop_id=shop_id, product_id=product_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("category_id") is not None:
        await get_scoped(
            session, Category, shop_id=shop_id, record_id=changes["category_id"], label="category"
        )
    for name in ("name", "subtitle", "description"):
        if changes.get(name) is not None:
            setattr(product, name, changes[name])
    if "category_id" in changes:
        product.category_id = changes["category_id"]
    await session.flush()
    return product


async def set_product_status(
    *, session: AsyncSession, shop_id: int, product_id: int, status: ProductStatus | str
) -> Product:
    """Put a product on shelf (it needs an active SKU) or take it off."""
    product = await get_product(session=session, shop_id=shop_id, product_id=product_id)
    status = ProductStatus(status)
    if status == ProductStatus.ON_SHELF and not product.active_skus:
        raise InvalidInput(
            f"product {product.name} has no active SKU; activate or add one before putting it "
            "on shelf",
            code="no_active_sku",
            field="status",
        )
    product.status = status.value
    await session.flush()
    return product


async def delete_product(
    *, session: AsyncSession, actor: Actor, product_id: int, media_dir: Path
) -> None:
    """Delete a product, its SKUs and images (files go once the transaction commits)."""
    product = await get_product(session=session, shop_id=actor.shop_id, product_id=product_id)
    paths = [image.path for image in product.images]
    details = {"name": product.name, "sku_codes": [sku.code for sku in product.skus]}
    await session.delete(product)
    await session.flush()
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="product.delete",
        target_type="product",
        target_id=product_id,
        details=details,
    )
    if paths:
        after_commit(session, lambda: remove_image_files(media_dir, paths))


# ---------------------------------------------------------------------------------------- SKUs


async def get_sku(*, session: AsyncSession, shop_id: int, sku_id: int) -> Sku:
    return await get_scoped(session, Sku, shop_id=shop_id, record_id=sku_id, label="sku")


async def get_product_names(
    *, session: AsyncSession, shop_id: int, product_ids: Iterable[int]
) -> dict[int, str]:
    """Names of the shop's products among `product_ids`, in one query of two columns (for
    timelines and reports); a deleted product or another shop's id is left out."""
    wanted = set(product_ids)
    if not wanted:
        return {}
    statement = scoped(Product, shop_id, Product.id, Product.name).where(Product.id.in_(wanted))
    return {row.id: row.name for row in await session.execute(statement)}


async def get_skus(
    *, session: AsyncSession, shop_id: int, sku_ids: Sequence[int]
) -> dict[int, Sku]:
    """The shop's SKUs among `sku_ids`, by id (missing and other shops' ids are left out)."""
    if not sku_ids:
        return {}
    statement = scoped(Sku, shop_id).where(Sku.id.in_(set(sku_ids)))
    return {sku.id: sku for sku in (await session.execute(statement)).scalars()}


async def add_sku(*, session: AsyncSession, shop_id: int, product_id: int, data: SkuCreate) -> Sku:
    product = await get_product(session=session, shop_id=shop_id, product_id=product_id)
    if len(product.skus) >= MAX_SKUS_PER_PRODUCT:
        raise InvalidInput(
            f"a product has at most {MAX_SKUS_PER_PRODUCT} SKUs", code="too_many_skus"
        )
    _check_new_skus([data], field="", existing=product.skus)
    if data.code:
        await _check_codes_free(session, shop_id=shop_id, codes={data.code: "code"})
    sku = _new_sku(shop_id, data)
    product.skus.append(sku)
    await session.flush()
    await _record_initial_stock(session, [sku])
    return sku


async def update_sku(*, session: AsyncSession, shop_id: int, sku_id: int, data: SkuUpdate) -> Sku:
    """Change code, specs, prices or activity; never stock (see `adjust_stock`)."""
    sku = await get_sku(session=session, shop_id=shop_id, sku_id=sku_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items()}
    for required in ("code", "specs", "price_fen", "is_active"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be empty", field=required)
    price = changes.get("price_fen", sku.price_fen)
    list_price = changes.get("list_price_fen", sku.list_price_fen)
    problem = _check_sku_prices(price, list_price)
    if problem:
        problem["field"] = "list_price_fen" if "list_price_fen" in changes else "price_fen"
        _raise_problems([problem])
    if changes.get("code") and changes["code"] != sku.code:
        await _check_codes_free(
            session, shop_id=shop_id, codes={changes["code"]: "code"}, except_sku_id=sku.id
        )
    for name, value in changes.items():
        setattr(sku, name, dict(value) if name == "specs" else value)
    await session.flush()
    return sku


async def set_sku_active(*, session: AsyncSession, shop_id: int, sku_id: int, active: bool) -> Sku:
    """Deactivated SKUs keep their history but cannot be reserved or bought."""
    sku = await get_sku(session=session, shop_id=shop_id, sku_id=sku_id)
    sku.is_active = active
    await session.flush()
    return sku
