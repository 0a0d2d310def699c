"""Tables of the catalog domain: categories, products, their images and SKUs, stock movements."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow

# Far above any real shelf, far below the 32-bit column limit that PostgreSQL enforces.
MAX_STOCK = 100_000_000


class ProductStatus(StrEnum):
    ON_SHELF = "on_shelf"
    OFF_SHELF = "off_shelf"


class Category(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "categories"

    parent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("categories.id", ondelete="RESTRICT"), index=True, default=None
    )
    name: Mapped[str] = mapped_column(String(100))
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Product(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_shop_status", "shop_id", "status", "id"),)

    name: Mapped[str] = mapped_column(String(200))
    subtitle: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("categories.id", ondelete="SET NULL"), index=True, default=None
    )
    status: Mapped[str] = mapped_column(String(16), default=ProductStatus.ON_SHELF.value)

    skus: Mapped[list[Sku]] = relationship(
        back_populates="product",
        order_by="Sku.id",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    images: Mapped[list[ProductImage]] = relationship(
        order_by="(ProductImage.sort, ProductImage.id)",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def active_skus(self) -> list[Sku]:
        return [sku for sku in self.skus if sku.is_active]

    @property
    def price_min_fen(self) -> int | None:
        """Lowest price among active SKUs: the 'from ¥x' a viewer sees."""
        prices = [sku.price_fen for sku in self.active_skus]
        return min(prices) if prices else None

    @property
    def price_max_fen(self) -> int | None:
        prices = [sku.price_fen for sku in self.active_skus]
        return max(prices) if prices else None

    @property
    def total_stock(self) -> int:
        return sum(sku.stock for sku in self.active_skus)


class ProductImage(IdMixin, ShopScoped, Base):
    __tablename__ = "product_images"

    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    # Relative to the media directory, e.g. "shop3/9f2c…e1.webp"; served at /media/<path>.
    path: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def url(self) -> str:
        return f"/media/{self.path}"


class Sku(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "skus"
    __table_args__ = (
        UniqueConstraint("shop_id", "code"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
        CheckConstraint(
            "list_price_fen IS NULL OR list_price_fen >= price_fen", name="list_price_not_below"
        ),
        CheckConstraint("sold_count >= 0", name="sold_not_negative"),
    )

    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    # Spec name → value, e.g. {"规格": "250g", "口味": "原味"}.
    specs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    list_price_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Changed only by conditional UPDATEs in catalog.service (never read-modify-write).
    stock: Mapped[int] = mapped_column(Integer, default=0)
    sold_count: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(default=True)

    product: Mapped[Product] = relationship(back_populates="skus", lazy="raise")

    @property
    def spec_label(self) -> str:
        """'250g / 原味': how a SKU is named next to its product."""
        return " / ".join(str(value) for value in self.specs.values())


class StockMovement(IdMixin, ShopScoped, Base):
    """Append-only record of every stock change, with the stock it left behind."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_shop_sku", "shop_id", "sku_id", "id"),)

    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id", ondelete="CASCADE"))
    delta: Mapped[int] = mapped_column(Integer)
    stock_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(64))
    actor_label: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
