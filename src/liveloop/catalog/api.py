"""JSON routes of categories, products, SKUs, images and stock."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile

from liveloop.catalog import service
from liveloop.catalog.media import MAX_IMAGE_BYTES
from liveloop.catalog.models import ProductStatus
from liveloop.catalog.schemas import (
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    ImageOrder,
    ImageOut,
    ProductCreate,
    ProductOut,
    ProductUpdate,
    SkuCreate,
    SkuOut,
    SkuUpdate,
    StockAdjust,
    StockMovementOut,
)
from liveloop.core.deps import DbSession
from liveloop.core.schemas import PageOut
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["catalog"], dependencies=[Depends(current_actor)])

CatalogReader = Annotated[Actor, requires(P.CATALOG_READ)]
CatalogWriter = Annotated[Actor, requires(P.CATALOG_WRITE)]
PageNumber = Annotated[int, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=500)]


def media_dir(request: Request) -> Path:
    return Path(request.app.state.settings.resolved_media_dir)


MediaDir = Annotated[Path, Depends(media_dir)]


# ---------------------------------------------------------------------------------- categories


@router.get("/categories", response_model=list[CategoryOut])
async def list_categories(session: DbSession, actor: CatalogReader) -> list[CategoryOut]:
    categories = await service.list_categories(session=session, shop_id=actor.shop_id)
    return [CategoryOut.model_validate(c) for c in categories]


@router.post("/categories", response_model=CategoryOut, status_code=201)
async def create_category(
    data: CategoryCreate, session: DbSession, actor: CatalogWriter
) -> CategoryOut:
    category = await service.create_category(session=session, shop_id=actor.shop_id, data=data)
    return CategoryOut.model_validate(category)


@router.get("/categories/{category_id}", response_model=CategoryOut)
async def get_category(category_id: int, session: DbSession, actor: CatalogReader) -> CategoryOut:
    category = await service.get_category(
        session=session, shop_id=actor.shop_id, category_id=category_id
    )
    return CategoryOut.model_validate(category)


@router.patch("/categories/{category_id}", response_model=CategoryOut)
async def update_category(
    category_id: int, data: CategoryUpdate, session: DbSession, actor: CatalogWriter
) -> CategoryOut:
    category = await service.update_category(
        session=session, shop_id=actor.shop_id, category_id=category_id, data=data
    )
    return CategoryOut.model_validate(category)


@router.delete("/categories/{category_id}", status_code=204)
async def delete_category(category_id: int, session: DbSession, actor: CatalogWriter) -> Response:
    await service.delete_category(session=session, actor=actor, category_id=category_id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------ products


@router.get("/products", response_model=PageOut[ProductOut])
async def search_products(
    session: DbSession,
    actor: CatalogReader,
    q: Annotated[str | None, Query(max_length=100)] = None,
    category_id: int | None = None,
    status: ProductStatus | None = None,
    min_price_fen: Annotated[int | None, Query(ge=0)] = None,
    max_price_fen: Annotated[int | None, Query(ge=0)] = None,
    in_stock: bool | None = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[ProductOut]:
    result = await service.search_products(
        session=session,
        shop_id=actor.shop_id,
        q=q,
        category_id=category_id,
        status=status,
        min_price_fen=min_price_fen,
        max_price_fen=max_price_fen,
        in_stock=in_stock,
        page=page,
        per_page=per_page,
    )
    return PageOut[ProductOut].of(result, ProductOut)


@router.post("/products", response_model=ProductOut, status_code=201)
async def create_product(
    data: ProductCreate, session: DbSession, actor: CatalogWriter
) -> ProductOut:
    product = await service.create_product(session=session, shop_id=actor.shop_id, data=data)
    return ProductOut.model_validate(product)


@router.get("/products/{product_id}", response_model=ProductOut)
async def get_product(product_id: int, session: DbSession, actor: CatalogReader) -> ProductOut:
    product = await service.get_product(
        session=session, shop_id=actor.shop_id, product_id=product_id
    )
    return ProductOut.model_validate(product)


@router.patch("/products/{product_id}", response_model=ProductOut)
async def update_product(
    product_id: int, data: ProductUpdate, session: DbSession, actor: CatalogWriter
) -> ProductOut:
    product = await service.update_product(
        session=session, shop_id=actor.shop_id, product_id=product_id, data=data
    )
    return ProductOut.model_validate(product)


@router.delete("/products/{product_id}", status_code=204)
async def delete_product(
    product_id: int, session: DbSession, actor: CatalogWriter, media: MediaDir
) -> Response:
    await service.delete_product(
        session=session, actor=actor, product_id=product_id, media_dir=media
    )
    return Response(status_code=204)


@router.post("/products/{product_id}/on-shelf", response_model=ProductOut)
async def put_on_shelf(product_id: int, session: DbSession, actor: CatalogWriter) -> ProductOut:
    product = await service.set_product_status(
        session=session, shop_id=actor.shop_id, product_id=product_id, status="on_shelf"
    )
    return ProductOut.model_validate(product)


@router.post("/products/{product_id}/off-shelf", response_model=ProductOut)
async def take_off_shelf(product_id: int, session: DbSession, actor: CatalogWriter) -> ProductOut:
    product = await service.set_product_status(
        session=session, shop_id=actor.shop_id, product_id=product_id, status="off_shelf"
    )
    return ProductOut.model_validate(product)


# -------------------------------------------------------------------------------------- images


@router.post("/products/{product_id}/images", response_model=ImageOut, status_code=201)
async def upload_product_image(
    product_id: int,
    session: DbSession,
    actor: CatalogWriter,
    media: MediaDir,
    file: Annotated[UploadFile, File(description="PNG, JPEG, WebP or GIF, at most 5 MB")],
) -> ImageOut:
    # One byte past the limit is enough to know the file is too large.
    content = await file.read(MAX_IMAGE_BYTES + 1)
    image = await service.add_product_image(
        session=session,
        shop_id=actor.shop_id,
        product_id=product_id,
        content=content,
        media_dir=media,
    )
    return ImageOut.model_validate(image)


@router.put("/products/{product_id}/images/order", response_model=list[ImageOut])
async def reorder_product_images(
    product_id: int, data: ImageOrder, session: DbSession, actor: CatalogWriter
) -> list[ImageOut]:
    images = await service.reorder_product_images(
        session=session, shop_id=actor.shop_id, product_id=product_id, image_ids=data.image_ids
    )
    return [ImageOut.model_validate(image) for image in images]


@router.delete("/products/{product_id}/images/{image_id}", status_code=204)
async def delete_product_image(
    product_id: int, image_id: int, session: DbSession, actor: CatalogWriter, media: MediaDir
) -> Response:
    await service.delete_product_image(
        session=session, actor=actor, product_id=product_id, image_id=image_id, media_dir=media
    )
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------- SKUs


@router.post("/products/{product_id}/skus", response_model=SkuOut, status_code=201)
async def add_sku(
    product_id: int, data: SkuCreate, session: DbSession, actor: CatalogWriter
) -> SkuOut:
    sku = await service.add_sku(
        session=session, shop_id=actor.shop_id, product_id=product_id, data=data
    )
    return SkuOut.model_validate(sku)


@router.get("/skus/{sku_id}", response_model=SkuOut)
async def get_sku(sku_id: int, session: DbSession, actor: CatalogReader) -> SkuOut:
    return SkuOut.model_validate(
        await service.get_sku(session=session, shop_id=actor.shop_id, sku_id=sku_id)
    )


@router.patch("/skus/{sku_id}", response_model=SkuOut)
async def update_sku(
    sku_id: int, data: SkuUpdate, session: DbSession, actor: CatalogWriter
) -> SkuOut:
    sku = await service.update_sku(session=session, shop_id=actor.shop_id, sku_id=sku_id, data=data)
    return SkuOut.model_validate(sku)


@router.post("/skus/{sku_id}/deactivate", response_model=SkuOut)
async def deactivate_sku(sku_id: int, session: DbSession, actor: CatalogWriter) -> SkuOut:
    sku = await service.set_sku_active(
        session=session, shop_id=actor.shop_id, sku_id=sku_id, active=False
    )
    return SkuOut.model_validate(sku)


@router.post("/skus/{sku_id}/activate", response_model=SkuOut)
async def activate_sku(sku_id: int, session: DbSession, actor: CatalogWriter) -> SkuOut:
    sku = await service.set_sku_active(
        session=session, shop_id=actor.shop_id, sku_id=sku_id, active=True
    )
    return SkuOut.model_validate(sku)


@router.post("/skus/{sku_id}/stock", response_model=SkuOut)
async def adjust_stock(
    sku_id: int, data: StockAdjust, session: DbSession, actor: CatalogWriter
) -> SkuOut:
    await service.adjust_stock(
        session=session,
        shop_id=actor.shop_id,
        sku_id=sku_id,
        delta=data.delta,
        reason=data.reason,
        actor_label=actor.label,
    )
    return SkuOut.model_validate(
        await service.get_sku(session=session, shop_id=actor.shop_id, sku_id=sku_id)
    )


@router.get("/skus/{sku_id}/movements", response_model=PageOut[StockMovementOut])
async def list_stock_movements(
    sku_id: int,
    session: DbSession,
    actor: CatalogReader,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[StockMovementOut]:
    result = await service.list_stock_movements(
        session=session, shop_id=actor.shop_id, sku_id=sku_id, page=page, per_page=per_page
    )
    return PageOut[StockMovementOut].of(result, StockMovementOut)
