"""Tables of tag rules: a tag applied and removed automatically, and the history of changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow

ACTION_ADDED = "added"
ACTION_REMOVED = "removed"


class TagRule(IdMixin, TimestampMixin, ShopScoped, Base):
    """The customers matching `condition` (a segment filter) carry `tag` (source "rule").

    One rule per tag: two rules writing the same tag would each remove the other's members.
    """

    __tablename__ = "tag_rules"
    __table_args__ = (UniqueConstraint("shop_id", "tag_id"), UniqueConstraint("shop_id", "name"))

    tag_id: Mapped[int] = mapped_column(BigId, ForeignKey("tags.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    condition: Mapped[dict[str, Any]] = mapped_column(default=dict)  # a SegmentFilter as JSON
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # {"members": n, "added": n, "removed": n} of the last full run.
    last_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str | None] = mapped_column(String(200), default=None)


class TagChange(IdMixin, ShopScoped, Base):
    """A tag added to or removed from a customer, and the rule that did it (append-only)."""

    __tablename__ = "tag_changes"
    __table_args__ = (Index("ix_tag_changes_shop_customer_at", "shop_id", "customer_id", "at"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    tag_id: Mapped[int] = mapped_column(BigId, ForeignKey("tags.id", ondelete="CASCADE"))
    rule_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("tag_rules.id", ondelete="SET NULL"), default=None, index=True
    )
    action: Mapped[str] = mapped_column(String(8))  # ACTION_ADDED or ACTION_REMOVED
    # Why, in words that outlive the rule: "rule 高活跃", "rule 高活跃 deleted".
    reason: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
