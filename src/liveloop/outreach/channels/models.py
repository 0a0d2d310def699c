"""Tables of outreach/channels: one configured channel of a shop (e-mail, webhook, WeCom, SMS).

`config` holds what may be shown (host, URL, corp id...); `secret` the AES-GCM ciphertext of a
JSON object of what may not (SMTP password, signing secret, corpsecret, API key). The API never
returns the secret, only whether there is one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, IdMixin, ShopScoped, TimestampMixin


class ShopChannel(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "outreach_channels"
    __table_args__ = (Index("ix_outreach_channels_shop_kind", "shop_id", "kind"),)

    kind: Mapped[str] = mapped_column(String(24))  # a ChannelKind value
    name: Mapped[str] = mapped_column(String(80))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    rate_per_second: Mapped[float] = mapped_column(Float, default=10.0)
    enabled: Mapped[bool] = mapped_column(default=True)

    @property
    def has_secret(self) -> bool:
        return self.secret is not None
