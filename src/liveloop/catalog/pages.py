"""Console pages of the catalog: products with filters, create and edit with SKUs, images,
on/off shelf, stock adjustments, and categories. Prices are typed in yuan and kept in fen."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.catalog import service
from liveloop.catalog.media import MAX_IMAGE_BYTES
from liveloop.catalog.models import ProductStatus
from liveloop.catalog.schemas import (
    CategoryCreate,
    ProductCreate,
    ProductUpdate,
    SkuCreate,
    SkuUpdate,
)
from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/products")

Reader = Annotated[Actor, console_requires(P.CATALOG_READ)]
Writer = Annotated[Actor, console_requires(P.CATALOG_WRITE)]

PER_PAGE = 20
MAX_FORM_SKUS = 50
FormErrors = (InvalidInput, Conflict, NotFound, ValidationError)
SPEC_SEPARATORS = re.compile(r"[;；,，\n]")


def yuan_to_fen(value: str, field: str) -> int:
    """'12.5' -> 1250; at most two decimals, never negative, never through a float."""
    text = value.strip().replace(",", "").replace("¥", "").replace("￥", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"{value!r} is not an amount in yuan such as 12.50", field=field)
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput(
            f"{value!r} is not an amount in yuan with at most two decimals", field=field
        )
    return int(amount * 100)


def parse_specs(text: str) -> dict[str, str]:
    """'颜色:红; 规格:250g' -> {'颜色': '红', '规格': '250g'} (also full-width ：；，)."""
    specs: dict[str, str] = {}
    for part in SPEC_SEPARATORS.split(text):
        if not part.strip():
            continue
        name, separator, value = part.replace("：", ":").partition(":")
        if not separator or not name.strip() or not value.strip():
            raise InvalidInput(
                f"write each spec as name:value, e.g. 规格:250g (got {part.strip()!r})",
                field="specs",
            )
        specs[name.strip()] = value.strip()
    return specs


def format_specs(specs: dict[str, Any]) -> str:
    return "; ".join(f"{name}:{value}" for name, value in specs.items())


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg'].removeprefix('Value error, ')}"
    return str(getattr(exc, "message", exc))


def _media_dir(request: Request) -> Path:
    return Path(request.app.state.settings.resolved_media_dir)


# --- list ------------------------------------------------------------------------------------


@pages.get("", response_class=HTMLResponse)
async def product_list(
    request: Request,
    session: DbSession,
    actor: Reader,
    q: str = "",
    category: str = "",
    status: str = "",
    stock: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    form = {"q": q.strip(), "category": category, "status": status, "stock": stock}
    result = await service.search_products(
        session=session,
        shop_id=actor.shop_id,
        q=form["q"] or None,
        category_id=parse_id(category),
        status=status if status in {s.value for s in ProductStatus} else None,
        in_stock={"in": True, "out": False}.get(stock),
        page=page,
        per_page=PER_PAGE,
    )
    categories = await service.list_categories(session=session, shop_id=actor.shop_id)
    return render(
        request,
        "products/list.html",
        {
            "form": form,
            "page": result,
            "categories": categories,
            "category_names": {c.id: c.name for c in categories},
            "title": translate(request, N_("Products")),
        },
    )


@pages.post("/{product_id}/status")
async def set_status(
    request: Request,
    product_id: int,
    session: DbSession,
    actor: Writer,
    status: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """On or off shelf; `back` returns to the list the button was pressed on."""
    try:
        product = await service.set_product_status(
            session=session, shop_id=actor.shop_id, product_id=product_id, status=status
        )
    except (InvalidInput, ValueError) as exc:
        flash(request, _error_text(exc), "error")
    else:
        message = (
            N_("%(name)s is on shelf.")
            if product.status == "on_shelf"
            else N_("%(name)s is off shelf.")
        )
        flash(request, translate(request, message, name=product.name))
    target = back if back.startswith("/console/products") else f"/console/products/{product_id}"
    return redirect(target)


# --- categories ------------------------------------------------------------------------------


@pages.post("/categories")
async def create_category(
    request: Request,
    session: DbSession,
    actor: Writer,
    name: Annotated[str, Form()] = "",
    parent_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = CategoryCreate(name=name.strip(), parent_id=parse_id(parent_id))
        await service.create_category(session=session, shop_id=actor.shop_id, data=data)
    except FormErrors as exc:
        flash(request, _error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Category created.")))
    return redirect("/console/products")


@pages.post("/categories/{category_id}/delete")
async def delete_category(
    request: Request, category_id: int, session: DbSession, actor: Writer
) -> Response:
    try:
        await service.delete_category(session=session, actor=actor, category_id=category_id)
    except Conflict as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, translate(request, N_("Category deleted; its products are kept.")))
    return redirect("/console/products")


# --- create ----------------------------------------------------------------------------------


def skus_from_form(form: Any) -> list[SkuCreate]:
    """The SKU rows of the product form (parallel lists sku_code[], sku_price[], ...)."""
    columns = ("sku_code", "sku_specs", "sku_price", "sku_list_price", "sku_stock")
    values = {name: [str(v) for v in form.getlist(name)] for name in columns}
    rows = max((len(v) for v in values.values()), default=0)
    skus = []
    for index in range(min(rows, MAX_FORM_SKUS)):
        cell = {name: (v[index].strip() if index < len(v) else "") for name, v in values.items()}
        if not any(cell.values()):
            continue
        where = f"skus[{len(skus)}]"
        if not cell["sku_price"]:
            raise InvalidInput(f"{where}: enter a price in yuan", field=f"{where}.price")
        stock = cell["sku_stock"] or "0"
        if parse_id(stock) is None:
            raise InvalidInput(f"{where}: stock is a whole number", field=f"{where}.stock")
        skus.append(
            SkuCreate(
                code=cell["sku_code"] or None,
                specs=parse_specs(cell["sku_specs"]),
                price_fen=yuan_to_fen(cell["sku_price"], f"{where}.price"),
                list_price_fen=yuan_to_fen(cell["sku_list_price"], f"{where}.list_price")
                if cell["sku_list_price"]
                else None,
                stock=int(stock),
            )
        )
    if not skus:
        raise InvalidInput("add at least one SKU with a price", field="skus")
    return skus


async def _form_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    form: dict[str, Any],
    error: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "products/new.html",
        {
            "form": form,
            "error": error,
            "categories": await service.list_categories(session=session, shop_id=actor.shop_id),
            "title": translate(request, N_("New product")),
        },
        status_code=422 if error else 200,
    )


@pages.get("/new", response_class=HTMLResponse)
async def new_product(request: Request, session: DbSession, actor: Writer) -> HTMLResponse:
    blank = {
        "sku_code": "",
        "sku_specs": "",
        "sku_price": "",
        "sku_list_price": "",
        "sku_stock": "",
    }
    form = {"name": "", "subtitle": "", "description": "", "category_id": "", "status": "on_shelf"}
    return await _form_page(request, session, actor, {**form, "skus": [blank]})


@pages.post("", response_class=HTMLResponse)
async def create_product(request: Request, session: DbSession, actor: Writer) -> Response:
    form = await request.form()
    fields = ("name", "subtitle", "description", "category_id", "status")
    values: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in fields}
    columns = ("sku_code", "sku_specs", "sku_price", "sku_list_price", "sku_stock")
    lists = {name: [str(v) for v in form.getlist(name)] for name in columns}
    values["skus"] = [
        dict(zip(columns, row, strict=False)) for row in zip(*lists.values(), strict=False)
    ]
    try:
        data = ProductCreate(
            name=values["name"],
            subtitle=values["subtitle"],
            description=values["description"],
            category_id=parse_id(values["category_id"]),
            status=values["status"] or ProductStatus.ON_SHELF,  # type: ignore[arg-type]
            skus=skus_from_form(form),
        )
        product = await service.create_product(session=session, shop_id=actor.shop_id, data=data)
    except FormErrors as exc:
        return await _form_page(request, session, actor, values, _error_text(exc))
    flash(request, translate(request, N_("Product created.")))
    return redirect(f"/console/products/{product.id}")


# --- edit ------------------------------------------------------------------------------------


@pages.get("/{product_id}", response_class=HTMLResponse)
async def product_detail(
    request: Request, product_id: int, session: DbSession, actor: Reader
) -> HTMLResponse:
    product = await service.get_product(
        session=session, shop_id=actor.shop_id, product_id=product_id
    )
    return render(
        request,
        "products/detail.html",
        {
            "product": product,
            "categories": await service.list_categories(session=session, shop_id=actor.shop_id),
            "format_specs": format_specs,
            "title": product.name,
        },
    )


def _back(product_id: int) -> Response:
    return redirect(f"/console/products/{product_id}")


@pages.post("/{product_id}", response_class=HTMLResponse)
async def update_product(
    request: Request, product_id: int, session: DbSession, actor: Writer
) -> Response:
    form = await request.form()
    try:
        data = ProductUpdate(
            name=str(form.get("name") or "").strip() or None,
            subtitle=str(form.get("subtitle") or "").strip(),
            description=str(form.get("description") or "").strip(),
            category_id=parse_id(str(form.get("category_id") or "")),
        )
        await service.update_product(
            session=session, shop_id=actor.shop_id, product_id=product_id, data=data
        )
    except FormErrors as exc:
        if isinstance(exc, NotFound) and exc.code == "product_not_found":
            raise
        flash(request, _error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Product saved.")))
    return _back(product_id)


@pages.post("/{product_id}/skus")
async def add_sku(request: Request, product_id: int, session: DbSession, actor: Writer) -> Response:
    form = await request.form()
    await service.get_product(session=session, shop_id=actor.shop_id, product_id=product_id)
    try:
        (data,) = skus_from_form(form)
        await service.add_sku(
            session=session, shop_id=actor.shop_id, product_id=product_id, data=data
        )
    except FormErrors as exc:
        flash(request, _error_text(exc), "error")
    else:
        flash(request, translate(request, N_("SKU added.")))
    return _back(product_id)


async def _product_sku(session: DbSession, actor: Actor, product_id: int, sku_id: int) -> Any:
    """The SKU, only if it belongs to this product of this shop (else 404)."""
    sku = await service.get_sku(session=session, shop_id=actor.shop_id, sku_id=sku_id)
    if sku.product_id != product_id:
        raise NotFound(f"SKU {sku_id} of product {product_id} was not found", code="sku_not_found")
    return sku


@pages.post("/{product_id}/skus/{sku_id}")
async def update_sku(
    request: Request,
    product_id: int,
    sku_id: int,
    session: DbSession,
    actor: Writer,
    code: Annotated[str, Form()] = "",
    specs: Annotated[str, Form()] = "",
    price: Annotated[str, Form()] = "",
    list_price: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    await _product_sku(session, actor, product_id, sku_id)
    try:
        data = SkuUpdate.model_validate(
            {
                **({"code": code.strip()} if code.strip() else {}),
                "specs": parse_specs(specs),
                "price_fen": yuan_to_fen(price, "price"),
                "list_price_fen": yuan_to_fen(list_price, "list_price")
                if list_price.strip()
                else None,
                "is_active": active == "on",
            }
        )
        await service.update_sku(session=session, shop_id=actor.shop_id, sku_id=sku_id, data=data)
    except FormErrors as exc:
        flash(request, _error_text(exc), "error")
    else:
        flash(request, translate(request, N_("SKU saved.")))
    return _back(product_id)


@pages.post("/{product_id}/skus/{sku_id}/stock")
async def adjust_stock(
    request: Request,
    product_id: int,
    sku_id: int,
    session: DbSession,
    actor: Writer,
    delta: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Restock (positive) or write off (negative); never below zero (the service refuses)."""
    sku = await _product_sku(session, actor, product_id, sku_id)
    try:
        if not re.fullmatch(r"[+-]?\d{1,9}", delta.strip()):
            raise InvalidInput(f"{delta!r} is not a whole number such as 10 or -3", field="delta")
        stock = await service.adjust_stock(
            session=session,
            shop_id=actor.shop_id,
            sku_id=sku_id,
            delta=int(delta.strip()),
            reason=reason.strip()[:64] or "manual",
            actor_label=actor.label,
        )
    except InvalidInput as exc:
        flash(request, exc.message, "error")
    else:
        flash(
            request,
            translate(
                request, N_("Stock of %(code)s is now %(stock)s."), code=sku.code, stock=stock
            ),
        )
    return _back(product_id)


@pages.post("/{product_id}/images")
async def upload_image(
    request: Request,
    product_id: int,
    session: DbSession,
    actor: Writer,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    await service.get_product(session=session, shop_id=actor.shop_id, product_id=product_id)
    content = await file.read(MAX_IMAGE_BYTES + 1) if file is not None else b""
    try:
        if not content:
            raise InvalidInput(translate(request, N_("Choose an image to upload.")), field="file")
        await service.add_product_image(
            session=session,
            shop_id=actor.shop_id,
            product_id=product_id,
            content=content,
            media_dir=_media_dir(request),
        )
    except InvalidInput as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, translate(request, N_("Image uploaded.")))
    return _back(product_id)


@pages.post("/{product_id}/images/{image_id}/delete")
async def delete_image(
    request: Request, product_id: int, image_id: int, session: DbSession, actor: Writer
) -> Response:
    await service.delete_product_image(
        session=session,
        actor=actor,
        product_id=product_id,
        image_id=image_id,
        media_dir=_media_dir(request),
    )
    flash(request, translate(request, N_("Image deleted.")))
    return _back(product_id)


router.include_router(pages)
