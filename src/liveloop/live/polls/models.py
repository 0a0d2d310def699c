"""Tables of the room's polls (投票) with their votes, viewers' questions (提问) and quizzes
(答题) with their answers.

Every vote and answer is one row under a unique key (the poll or quiz and the voter), so a
second vote is refused by the database, not by a check before the insert; a poll's counts are
counted from its vote choices."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import (
    Base,
    BigId,
    IdMixin,
    JSONType,
    ShopScoped,
    TimestampMixin,
    UTCDateTime,
    utcnow,
)


class PollStatus(StrEnum):
    OPEN = "open"  # taking votes (until ends_at when it has one)
    CLOSED = "closed"  # closed by the anchor or at ends_at; counts frozen in `results`


class Poll(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "live_polls"
    __table_args__ = (
        # One open poll per room (the room shows one poll card): the key is the live session
        # while the poll is open and NULL once closed (NULLs never collide).
        UniqueConstraint("open_room_key", name="uq_live_polls_open_room"),
        CheckConstraint("max_choices >= 1", name="max_choices_positive"),
        Index("ix_live_polls_session", "shop_id", "live_session_id", "id"),
    )

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE")
    )
    question: Mapped[str] = mapped_column(String(200))
    options: Mapped[list[str]] = mapped_column(JSONType)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    max_choices: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default=PollStatus.OPEN.value)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Written at the close from the votes: {"counts": [..per option..], "voters": n}.
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    open_room_key: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_by: Mapped[int | None] = mapped_column(BigId, default=None)

    def is_open_at(self, now: dt.datetime) -> bool:
        return self.status == PollStatus.OPEN.value and (self.ends_at is None or now < self.ends_at)


class PollVote(IdMixin, ShopScoped, Base):
    """One viewer's ballot: a customer votes once; a guest once per device."""

    __tablename__ = "live_poll_votes"
    __table_args__ = (UniqueConstraint("poll_id", "voter_key", name="uq_live_poll_votes_voter"),)

    poll_id: Mapped[int] = mapped_column(BigId, ForeignKey("live_polls.id", ondelete="CASCADE"))
    voter_key: Mapped[str] = mapped_column(String(80))  # c:<customer id> or d:<device id>
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    name: Mapped[str] = mapped_column(String(64), default="")
    choices: Mapped[list[int]] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PollChoice(ShopScoped, Base):
    """One option chosen on one ballot (the counts are counted from these rows)."""

    __tablename__ = "live_poll_choices"
    __table_args__ = (Index("ix_live_poll_choices_poll", "poll_id", "option_index"),)

    vote_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_poll_votes.id", ondelete="CASCADE"), primary_key=True
    )
    option_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(BigId, ForeignKey("live_polls.id", ondelete="CASCADE"))


class QuestionStatus(StrEnum):
    PENDING = "pending"  # in the anchor's queue
    ANSWERED = "answered"
    DISMISSED = "dismissed"


class LiveQuestion(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "live_questions"
    __table_args__ = (
        Index("ix_live_questions_session", "shop_id", "live_session_id", "status", "id"),
        Index("ix_live_questions_asker", "live_session_id", "voter_key", "created_at"),
    )

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE")
    )
    voter_key: Mapped[str] = mapped_column(String(80))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    name: Mapped[str] = mapped_column(String(64), default="")
    text: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=QuestionStatus.PENDING.value)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    # At most one question per session is on screen (the "qa" card); set by the anchor.
    on_screen: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_by: Mapped[int | None] = mapped_column(BigId, default=None)


class QuizStatus(StrEnum):
    OPEN = "open"  # taking answers until ends_at
    CLOSED = "closed"  # correct answer and winners published, rewards granted


class RewardKind(StrEnum):
    NONE = "none"
    POINTS = "points"
    COUPON = "coupon"


class Quiz(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "live_quizzes"
    __table_args__ = (
        # One running quiz per room, as for polls (set while open, NULL once closed).
        UniqueConstraint("open_room_key", name="uq_live_quizzes_open_room"),
        CheckConstraint("winner_count >= 0", name="winner_count_not_negative"),
        Index("ix_live_quizzes_session", "shop_id", "live_session_id", "id"),
    )

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE")
    )
    question: Mapped[str] = mapped_column(String(200))
    options: Mapped[list[str]] = mapped_column(JSONType)
    correct_index: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=QuizStatus.OPEN.value)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    show_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    reward_kind: Mapped[str] = mapped_column(String(16), default=RewardKind.NONE.value)
    reward_points: Mapped[int] = mapped_column(Integer, default=0)
    reward_coupon_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("coupons.id", ondelete="SET NULL"), default=None
    )
    winner_count: Mapped[int] = mapped_column(Integer, default=0)
    # Written at the close: {"counts": [...], "answers": n, "correct": n}.
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    open_room_key: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_by: Mapped[int | None] = mapped_column(BigId, default=None)


class QuizAnswer(IdMixin, ShopScoped, Base):
    __tablename__ = "live_quiz_answers"
    __table_args__ = (
        UniqueConstraint("quiz_id", "voter_key", name="uq_live_quiz_answers_voter"),
        Index("ix_live_quiz_answers_order", "quiz_id", "is_correct", "received_at", "id"),
    )

    quiz_id: Mapped[int] = mapped_column(BigId, ForeignKey("live_quizzes.id", ondelete="CASCADE"))
    voter_key: Mapped[str] = mapped_column(String(80))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    name: Mapped[str] = mapped_column(String(64), default="")
    option_index: Mapped[int] = mapped_column(Integer)
    is_correct: Mapped[bool] = mapped_column(Boolean)
    # The server's receive time: "fastest" is by this, ties by id.
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rank: Mapped[int | None] = mapped_column(Integer, default=None)  # 1.. for the winners
    # none / granted / failed (winners only); note holds why a grant failed.
    reward_status: Mapped[str] = mapped_column(String(16), default="none")
    reward_note: Mapped[str] = mapped_column(String(200), default="")
