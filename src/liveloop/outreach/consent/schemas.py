"""API shapes of outreach consent: the contact policy, do-not-contact blocks, a screening."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from liveloop.core.schemas import OutModel, StrictModel
from liveloop.outreach.contracts import ChannelKind

ChannelKey = Literal["*", "email", "webhook", "wecom", "sms"]
BlockReason = Literal["unsubscribed", "bounced", "complaint", "manual"]
Clock = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["22:00"])]


class CapIn(StrictModel):
    count: int = Field(ge=0, le=1000, description="messages at most; 0 = no cap")
    days: int = Field(ge=1, le=366)


class PolicyIn(StrictModel):
    """Fields left out keep their value; quiet_start/quiet_end null = no quiet hours."""

    caps: dict[ChannelKey, CapIn] | None = None
    quiet_start: Clock | None = None
    quiet_end: Clock | None = None
    reminders_enabled: bool | None = None
    reminder_early_minutes: int | None = Field(default=None, ge=1, le=1440)
    reminder_templates: dict[str, Annotated[int, Field(ge=1)]] | None = Field(
        default=None,
        description='saved template per reminder: {"start": 3, "early:email": 4, "welcome": 5}',
    )


class PolicyOut(OutModel):
    caps: dict[str, dict[str, int]]
    quiet_start: str | None
    quiet_end: str | None
    reminders_enabled: bool
    reminder_early_minutes: int | None
    reminder_templates: dict[str, int]
    saved: bool


class BlockIn(StrictModel):
    customer_id: int = Field(ge=1)
    channel_key: ChannelKey = "*"
    reason: BlockReason = "manual"
    note: str = Field(default="", max_length=500)


class BlockOut(OutModel):
    id: int
    customer_id: int
    customer_name: str | None = None
    channel_key: str
    reason: str
    note: str
    created_at: dt.datetime
    created_by: str


class ScreenIn(StrictModel):
    kind: ChannelKind
    customer_ids: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=1000)
    marketing: bool = True
    at: dt.datetime | None = Field(default=None, description="default: now")


class DecisionOut(OutModel):
    customer_id: int
    send_at: dt.datetime | None
    reason: str | None
