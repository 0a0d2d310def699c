"""Tables of the script library (话术库): categories, entries and the search index of entries.

An entry is shop-wide (`owner_staff_id` NULL, kept by operators) or personal to one staff
member (only they see it). Search goes through `script_entry_tokens`: the jieba words of an
entry's title, text and keywords, one row each, so a question is answered by equality lookups
on an index that behave the same on SQLite and PostgreSQL (a LIKE over a tokens column could not
use an index, would match inside longer words and could not count matches per entry).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin


class ScriptCategory(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "script_categories"
    __table_args__ = (UniqueConstraint("shop_id", "name", name="uq_script_categories_name"),)

    name: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0)


class ScriptEntry(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "script_entries"
    __table_args__ = (Index("ix_script_entries_owner", "shop_id", "owner_staff_id"),)

    category_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("script_categories.id", ondelete="SET NULL"), default=None, index=True
    )
    # NULL: shop-wide; otherwise the one staff member who sees it.
    owner_staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="CASCADE"), default=None
    )
    title: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    images: Mapped[list[str]] = mapped_column(default=list)  # URLs
    links: Mapped[list[Any]] = mapped_column(default=list)  # [{"title", "url"}]
    # Moved only by `UPDATE ... SET usage_count = usage_count + 1` (never read-then-write).
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )


class ScriptEntryToken(ShopScoped, Base):
    """One search word of one entry (lower-cased jieba word)."""

    __tablename__ = "script_entry_tokens"
    __table_args__ = (Index("ix_script_entry_tokens_lookup", "shop_id", "token"),)

    entry_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("script_entries.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(40), primary_key=True)
