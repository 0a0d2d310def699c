"""API shapes of red packets: console (budget, packets, grabs) and viewer (card, grab)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from liveloop.live.conditions import EntryCondition

MIN_DURATION_S = 10  # a rain shorter than this is over before a phone has drawn it
MAX_DURATION_S = 300  # five minutes: a red packet is a moment, not a campaign
MAX_DELAY_S = 3600  # a countdown up to an hour ahead
MAX_COUNT = 2000  # shares are rows made at creation
MAX_TOTAL_FEN = 20_000_000  # ¥200,000 in one packet
MAX_TOP_UP_FEN = 100_000_000  # ¥1,000,000 in one top-up


class BudgetTopUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_fen: int = Field(ge=1, le=MAX_TOP_UP_FEN)
    note: str = Field(default="", max_length=200)


class BudgetEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    amount_fen: int
    balance_after_fen: int
    red_packet_id: int | None
    note: str
    actor_label: str
    created_at: dt.datetime


class BudgetOut(BaseModel):
    balance_fen: int
    entries: list[BudgetEntryOut]


class RedPacketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total_fen: int = Field(ge=1, le=MAX_TOTAL_FEN)
    count: int = Field(ge=1, le=MAX_COUNT)
    split: Literal["lucky", "equal"] = "lucky"
    duration_seconds: int = Field(default=30, ge=MIN_DURATION_S, le=MAX_DURATION_S)
    starts_in_seconds: int = Field(default=0, ge=0, le=MAX_DELAY_S)
    greeting: str = Field(default="", max_length=40)
    condition: EntryCondition = Field(default_factory=EntryCondition)


class RedPacketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    live_session_id: int
    greeting: str
    total_fen: int
    count: int
    split: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    condition: dict[str, Any]
    status: str
    state: str = ""
    closed_at: dt.datetime | None
    returned_fen: int
    created_by: str
    created_at: dt.datetime
    grabbed_count: int = 0
    grabbed_fen: int = 0


class GrabOut(BaseModel):
    customer_id: int
    customer_name: str  # masked: 张**
    amount_fen: int
    grabbed_at: dt.datetime


class RedPacketDetailOut(RedPacketOut):
    grabs: list[GrabOut] = Field(default_factory=list)


class RedPacketListOut(BaseModel):
    items: list[RedPacketOut]


class GrabResultOut(BaseModel):
    red_packet_id: int
    amount_fen: int
    balance_fen: int
    card: dict[str, Any]


class BalanceEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    amount_fen: int
    balance_after_fen: int
    red_packet_id: int | None
    created_at: dt.datetime


class BalanceOut(BaseModel):
    balance_fen: int
    entries: list[BalanceEntryOut]
