"""API shapes of outreach channels. Secrets go in, never out (`has_secret`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from liveloop.core.schemas import OutModel, StrictModel
from liveloop.outreach.contracts import ChannelKind

Rate = Field(default=10.0, gt=0, le=10_000)


class ChannelIn(StrictModel):
    kind: ChannelKind
    name: str = Field(min_length=1, max_length=80)
    config: dict[str, Any] = Field(default_factory=dict)
    secret: dict[str, str] | None = None
    rate_per_second: float = Rate
    enabled: bool = True


class ChannelPatch(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    config: dict[str, Any] | None = None
    # Merged into the stored secret; a key set to "" removes it.
    secret: dict[str, str] | None = None
    rate_per_second: float | None = Field(default=None, gt=0, le=10_000)
    enabled: bool | None = None


class ChannelOut(OutModel):
    id: int
    kind: str
    name: str
    config: dict[str, Any]
    has_secret: bool
    rate_per_second: float
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class TestSendIn(StrictModel):
    address: str = Field(min_length=1, max_length=254)
    text: str = Field(default="LiveLoop test message / 测试消息", min_length=1, max_length=1000)
    subject: str | None = Field(default=None, max_length=200)


class TestSendOut(OutModel):
    status: str
    reason: str | None
    provider_code: str | None
    provider_message_id: str | None
