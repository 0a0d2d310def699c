"""Tables of mic requests (上麦/连麦): the room's mic settings and every viewer's request.

LiveLoop records the signalling only: who asked, when the anchor took or refused them, when
they left the mic. The audio and video of a guest go through the media server (its WebRTC or
RTMP co-streaming); nothing here carries media.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin


class MicStatus(StrEnum):
    REQUESTED = "requested"  # in the anchor's queue
    ACCEPTED = "accepted"  # on mic now, in `seat`
    REJECTED = "rejected"  # the anchor said no
    CANCELLED = "cancelled"  # the viewer withdrew before a decision
    ENDED = "ended"  # was on mic; the anchor or the viewer ended it (or the mic closed)
    EXPIRED = "expired"  # still waiting when the anchor closed the mic or the live ended


OPEN_STATUSES = (MicStatus.REQUESTED.value, MicStatus.ACCEPTED.value)


class MicRoom(IdMixin, TimestampMixin, ShopScoped, Base):
    """A live session's mic: whether it takes requests, and how many guests at once."""

    __tablename__ = "live_mic_rooms"
    __table_args__ = (
        UniqueConstraint("live_session_id", name="uq_live_mic_rooms_session"),
        CheckConstraint("max_guests >= 1", name="max_guests_positive"),
    )

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE")
    )
    is_open: Mapped[bool] = mapped_column(default=False)
    max_guests: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class MicRequest(IdMixin, TimestampMixin, ShopScoped, Base):
    """One request of one customer to go on mic, from asking to leaving.

    `open_customer_id` is the customer while the request is open (requested or accepted) and
    NULL after: the unique key allows one open request per customer per session. `seat` (1 …
    max_guests) is held while on mic, unique per session: two accepts cannot take one seat, so
    the room never has more guests than seats (NULLs never collide)."""

    __tablename__ = "live_mic_requests"
    __table_args__ = (
        UniqueConstraint(
            "live_session_id", "open_customer_id", name="uq_live_mic_requests_open_customer"
        ),
        UniqueConstraint("live_session_id", "seat", name="uq_live_mic_requests_seat"),
        Index("ix_live_mic_requests_session_status", "shop_id", "live_session_id", "status"),
        Index("ix_live_mic_requests_customer", "shop_id", "customer_id"),
    )

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    open_customer_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    status: Mapped[str] = mapped_column(String(16), default=MicStatus.REQUESTED.value)
    note: Mapped[str] = mapped_column(String(100), default="")  # what the viewer wants to say
    device_id: Mapped[str] = mapped_column(String(64), default="")
    seat: Mapped[int | None] = mapped_column(Integer, default=None)
    requested_at: Mapped[dt.datetime] = mapped_column()
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # accepted/rejected
    accepted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # any final state
    ended_by: Mapped[str] = mapped_column(String(16), default="")  # anchor, viewer, system
    reason: Mapped[str] = mapped_column(String(200), default="")  # of a rejection or an end
    decided_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )

    @property
    def wait_seconds(self) -> int | None:
        """From asking to the decision (or the withdrawal); None while waiting."""
        finished = self.decided_at or (self.ended_at if self.accepted_at is None else None)
        if finished is None:
            return None
        return max(0, int((finished - self.requested_at).total_seconds()))

    @property
    def on_mic_seconds(self) -> int | None:
        """Time on mic (so far, while on it: None); None when never accepted."""
        if self.accepted_at is None or self.ended_at is None:
            return None
        return max(0, int((self.ended_at - self.accepted_at).total_seconds()))
