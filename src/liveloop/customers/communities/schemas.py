"""API shapes of communities, their members, health figures and promotion rules."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from liveloop.core.schemas import OutModel, StrictModel
from liveloop.customers.communities.models import COMMUNITY_CHANNELS, COMMUNITY_KINDS
from liveloop.customers.schemas import IdentityIn

Kind = Literal["newcomer", "vip", "incubation", "interest", "other"]
assert set(Kind.__args__) == set(COMMUNITY_KINDS)  # type: ignore[attr-defined]
ChannelName = Literal["wecom_group", "wechat_group", "miniprogram", "other"]
assert set(ChannelName.__args__) == set(COMMUNITY_CHANNELS)  # type: ignore[attr-defined]
MemberSource = Literal[
    "manual", "import", "channel_code", "join_link", "live_welfare", "fission", "promotion"
]


def _check_url(value: str | None) -> str | None:
    if value and not value.startswith(("https://", "http://", "weixin://", "wxwork://")):
        raise ValueError("give a link starting with https:// (or weixin:// / wxwork://)")
    return value or None


class CommunityIn(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    kind: Kind = "other"
    channel: ChannelName = "other"
    external_id: str | None = Field(None, max_length=128, description="e.g. the WeCom chat_id")
    owner_staff_id: int | None = None
    capacity: int = Field(500, ge=1, le=100_000)
    join_url: str | None = Field(None, max_length=2000)
    description: str | None = Field(None, max_length=2000)
    tier_level: int = Field(0, ge=0, le=100, description="group tier: higher is better")

    _url = field_validator("join_url")(_check_url)


class CommunityUpdate(StrictModel):
    """Only the fields sent change."""

    name: str | None = Field(None, min_length=1, max_length=100)
    kind: Kind | None = None
    channel: ChannelName | None = None
    external_id: str | None = Field(None, max_length=128)
    owner_staff_id: int | None = None
    capacity: int | None = Field(None, ge=1, le=100_000)
    join_url: str | None = Field(None, max_length=2000)
    description: str | None = Field(None, max_length=2000)
    tier_level: int | None = Field(None, ge=0, le=100)

    _url = field_validator("join_url")(_check_url)


class CommunityOut(OutModel):
    id: int
    name: str
    kind: str
    channel: str
    external_id: str | None
    owner_staff_id: int | None
    capacity: int
    join_url: str | None
    description: str | None
    tier_level: int
    archived_at: dt.datetime | None
    created_at: dt.datetime


class HealthOut(OutModel):
    members: int = 0
    joins_7d: int = 0
    joins_30d: int = 0
    leaves_7d: int = 0
    leaves_30d: int = 0
    active_7d: int = 0
    messages_7d: int = 0
    orders: int = 0
    gmv_fen: int = 0


class CommunityWithHealthOut(CommunityOut):
    health: HealthOut


class MemberIn(StrictModel):
    customer_id: int
    source: MemberSource = "manual"
    live_session_id: int | None = None
    trigger: str | None = Field(None, max_length=64)


class MemberOut(OutModel):
    id: int
    community_id: int
    customer_id: int
    joined_at: dt.datetime
    left_at: dt.datetime | None
    source: str
    live_session_id: int | None
    trigger: str | None


class PromotionRuleIn(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    from_community_id: int
    to_community_id: int
    min_paid_orders: int = Field(1, ge=1, le=1000)
    window_days: int = Field(30, ge=1, le=3650)
    leave_from: bool = False
    is_active: bool = True

    @model_validator(mode="after")
    def _different(self) -> PromotionRuleIn:
        if self.from_community_id == self.to_community_id:
            raise ValueError("a rule promotes into another community, not the same one")
        return self


class PromotionRuleOut(OutModel):
    id: int
    name: str
    from_community_id: int
    to_community_id: int
    min_paid_orders: int
    window_days: int
    leave_from: bool
    is_active: bool


class JoinCallbackIn(StrictModel):
    """The body of the signed join callback (see docs/private-domain.md)."""

    community_id: int | None = None
    external_id: str | None = Field(None, max_length=128)
    identity: IdentityIn
    joined_at: dt.datetime | None = None
    state: str | None = Field(None, max_length=64)
    event: Literal["join", "leave"] = "join"

    @model_validator(mode="after")
    def _names_a_community(self) -> JoinCallbackIn:
        if self.community_id is None and not self.external_id:
            raise ValueError("give community_id or external_id")
        if self.joined_at is not None and self.joined_at.tzinfo is None:
            raise ValueError("joined_at needs a time zone, e.g. 2026-11-23T20:00:00+08:00")
        return self
