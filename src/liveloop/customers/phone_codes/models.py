"""The table of one-time phone codes: one row per code sent, neither phone nor code in clear."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, IdMixin, ShopScoped, utcnow


class PhoneCode(IdMixin, ShopScoped, Base):
    __tablename__ = "phone_codes"
    __table_args__ = (
        # The newest code of a phone (verification, the 60 s and daily limits).
        Index("ix_phone_codes_shop_phone_sent", "shop_id", "phone_key", "sent_at"),
        # The daily limit of a device.
        Index("ix_phone_codes_shop_device_sent", "shop_id", "device_id", "sent_at"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    # Keyed hash of the normalised phone, the same blind index as customer_identities.key.
    phone_key: Mapped[str] = mapped_column(String(64))
    # HMAC of (phone key, code) under a key derived from the app secret.
    code_hash: Mapped[str] = mapped_column(String(64))
    # The device (viewer token) that asked for the code; only it may present the code.
    device_id: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # wrong codes presented
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    verified_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    uses: Mapped[int] = mapped_column(Integer, default=0)  # accepted presentations
