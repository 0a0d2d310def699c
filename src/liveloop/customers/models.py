"""Tables of the customers domain: customers, channel identities, tags, merges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow

# Channels a customer can be known by. Phone and e-mail are personal data: stored encrypted,
# looked up through a keyed hash; the others are opaque ids issued by the platform.
CHANNELS: tuple[str, ...] = (
    "wecom",
    "wechat_openid",
    "wechat_unionid",
    "douyin",
    "miniprogram",
    "phone",
    "email",
)
PII_CHANNELS: frozenset[str] = frozenset({"phone", "email"})

STATUS_ACTIVE = "active"
STATUS_MERGED = "merged"
STATUS_DELETED = "deleted"
STATUSES = (STATUS_ACTIVE, STATUS_MERGED, STATUS_DELETED)

GENDERS = ("male", "female", "other")

TAG_SOURCES = ("manual", "import", "rule")

# Profile columns that a merge fills and an unmerge restores.
PROFILE_FIELDS: tuple[str, ...] = (
    "display_name",
    "gender",
    "birthday",
    "province",
    "city",
    "source_channel",
    "first_seen_at",
    "last_active_at",
    "consent",
    "notes",
)


class Customer(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_shop_status_id", "shop_id", "status", "id"),
        Index("ix_customers_shop_last_active", "shop_id", "last_active_at"),
        # The self-reference's ON DELETE SET NULL looks rows up by it: without this index,
        # deleting a shop's 100,000 customers scanned the table once per customer.
        Index("ix_customers_merged_into_id", "merged_into_id"),
    )

    display_name: Mapped[str | None] = mapped_column(String(100), default=None)
    gender: Mapped[str | None] = mapped_column(String(8), default=None)
    birthday: Mapped[dt.date | None] = mapped_column(Date, default=None)
    province: Mapped[str | None] = mapped_column(String(32), default=None)
    city: Mapped[str | None] = mapped_column(String(32), default=None)
    source_channel: Mapped[str | None] = mapped_column(String(32), default=None)
    first_seen_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_active_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Marketing consent per channel, e.g. {"sms": true, "email": false, "wecom": true}.
    consent: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_ACTIVE)
    merged_into_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    identities: Mapped[list[CustomerIdentity]] = relationship(
        back_populates="customer", lazy="raise", order_by="CustomerIdentity.id"
    )
    tag_links: Mapped[list[CustomerTag]] = relationship(
        lazy="raise", order_by="CustomerTag.tag_id", viewonly=True
    )


class CustomerIdentity(IdMixin, ShopScoped, Base):
    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("shop_id", "channel", "key"),)

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(24))
    # The external id itself, or for phone/e-mail a keyed hash of the normalised value.
    key: Mapped[str] = mapped_column(String(128))
    # AES-GCM ciphertext of the normalised phone/e-mail; None for the other channels.
    secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # What the console may show without a reveal: '138****5678', 'z***i@example.com'.
    masked: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities", lazy="raise")

    @property
    def display_value(self) -> str:
        return self.masked if self.masked is not None else self.key


class TagGroup(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "tag_groups"
    __table_args__ = (UniqueConstraint("shop_id", "name"),)

    name: Mapped[str] = mapped_column(String(50))
    color: Mapped[str | None] = mapped_column(String(16), default=None)
    position: Mapped[int] = mapped_column(default=0)


class Tag(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("shop_id", "name"),)

    group_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("tag_groups.id", ondelete="SET NULL"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    color: Mapped[str | None] = mapped_column(String(16), default=None)


class CustomerTag(ShopScoped, Base):
    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_tag_customer", "tag_id", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(16), default="manual")
    tagged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    tagged_by: Mapped[str | None] = mapped_column(String(200), default=None)

    tag: Mapped[Tag] = relationship(lazy="raise")


class CustomerMerge(IdMixin, ShopScoped, Base):
    """One merge of `source` into `target`, with what an exact unmerge needs."""

    __tablename__ = "customer_merges"

    target_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    # {"target_before": {...}, "source_before": {...}, "filled": [...],
    #  "moved_identity_ids": [...], "added_tag_ids": [...], "source_tags": [...]}
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    merged_by: Mapped[str | None] = mapped_column(String(200), default=None)
    undone_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    undone_by: Mapped[str | None] = mapped_column(String(200), default=None)
