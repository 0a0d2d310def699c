"""Tables of outreach/messages: saved message templates.

A template is written for one channel kind (its parts differ: an e-mail has a subject, html and
text; a WeCom message text, an image, a link card or a mini-program card) and for one purpose,
which says where the console offers it (a live invitation, a reminder, a channel code's welcome).
Its parts are compiled when it is saved, so a broken template never reaches a send.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin


class MessageTemplate(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "outreach_message_templates"
    __table_args__ = (
        UniqueConstraint("shop_id", "name", name="uq_outreach_message_templates_name"),
        Index("ix_outreach_message_templates_kind", "shop_id", "kind", "purpose"),
    )

    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(24))  # a ChannelKind value
    purpose: Mapped[str] = mapped_column(String(24), default="general")
    # {"text", "subject", "html", "image_url", "link_url", "link_title", "link_description",
    #  "miniprogram": {"appid", "pagepath", "title"}}: Jinja sources, checked at save time.
    parts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    marketing: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
