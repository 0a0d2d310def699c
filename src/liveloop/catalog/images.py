"""Product images: upload (format by magic bytes, size limit), order, delete with the file.

Reach these through `catalog.service` (they are re-exported there). Files are written under
the media directory at upload and removed only after the deleting transaction commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog.media import (
    MAX_IMAGE_BYTES,
    MAX_IMAGES_PER_PRODUCT,
    remove_image_files,
    sniff_image_type,
    store_image_file,
)
from liveloop.catalog.models import Product, ProductImage
from liveloop.core.database import after_commit, get_scoped
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.shops import service as shops_service
from liveloop.shops.service import Actor


async def _get_product(session: AsyncSession, *, shop_id: int, product_id: int) -> Product:
    return await get_scoped(
        session, Product, shop_id=shop_id, record_id=product_id, label="product"
    )


async def add_product_image(
    *, session: AsyncSession, shop_id: int, product_id: int, content: bytes, media_dir: Path
) -> ProductImage:
    """Store an uploaded png/jpeg/webp/gif (≤ 5 MB) as the product's last image."""
    product = await _get_product(session, shop_id=shop_id, product_id=product_id)
    if len(content) > MAX_IMAGE_BYTES:
        raise InvalidInput(
            f"the image is {len(content) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_IMAGE_BYTES // 1024 // 1024} MB",
            code="image_too_large",
            field="file",
        )
    kind = sniff_image_type(content)
    if kind is None:
        raise InvalidInput(
            "the file is not a PNG, JPEG, WebP or GIF image", code="image_type", field="file"
        )
    if len(product.images) >= MAX_IMAGES_PER_PRODUCT:
        raise InvalidInput(
            f"a product has at most {MAX_IMAGES_PER_PRODUCT} images; delete one first",
            code="too_many_images",
            field="file",
        )
    content_type, extension = kind
    path = await asyncio.to_thread(
        store_image_file, media_dir, shop_id=shop_id, content=content, extension=extension
    )
    image = ProductImage(
        shop_id=shop_id,
        product_id=product.id,
        path=path,
        content_type=content_type,
        size_bytes=len(content),
        sort=max((i.sort for i in product.images), default=-1) + 1,
    )
    product.images.append(image)
    await session.flush()
    return image


async def reorder_product_images(
    *, session: AsyncSession, shop_id: int, product_id: int, image_ids: Sequence[int]
) -> list[ProductImage]:
    """`image_ids` lists every image of the product once, first image first."""
    product = await _get_product(session, shop_id=shop_id, product_id=product_id)
    current = {image.id: image for image in product.images}
    if sorted(image_ids) != sorted(current):
        raise InvalidInput(
            f"image_ids must list each of this product's {len(current)} images exactly once",
            code="image_order",
            field="image_ids",
        )
    for position, image_id in enumerate(image_ids):
        current[image_id].sort = position
    await session.flush()
    product.images.sort(key=lambda image: (image.sort, image.id))
    return list(product.images)


async def delete_product_image(
    *, session: AsyncSession, actor: Actor, product_id: int, image_id: int, media_dir: Path
) -> None:
    product = await _get_product(session, shop_id=actor.shop_id, product_id=product_id)
    image = next((i for i in product.images if i.id == image_id), None)
    if image is None:
        raise NotFound(f"image {image_id} was not found", code="image_not_found", field="id")
    product.images.remove(image)
    await session.flush()
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="product_image.delete",
        target_type="product",
        target_id=product.id,
        details={"image_id": image_id, "path": image.path},
    )
    path = image.path
    after_commit(session, lambda: remove_image_files(media_dir, [path]))
