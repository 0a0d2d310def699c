"""API shapes of channel codes (活码), their staff, statistics and WeCom callback settings."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from liveloop.core.schemas import OutModel, StrictModel
from liveloop.customers.channel_codes.models import CODE_KINDS, ROUTINGS

Kind = Literal["staff", "store", "kol", "channel"]
assert set(Kind.__args__) == set(CODE_KINDS)  # type: ignore[attr-defined]
Routing = Literal["single", "round_robin", "capacity", "time_of_day"]
assert set(Routing.__args__) == set(ROUTINGS)  # type: ignore[attr-defined]
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class StaffLinkIn(StrictModel):
    staff_id: int
    contact_url: str = Field(min_length=1, max_length=2000, description="WeCom contact way URL")
    daily_cap: int | None = Field(None, ge=1, le=100_000)
    windows: list[tuple[str, str]] = Field(
        default_factory=list, max_length=12, description='[["09:00", "18:00"]], shop time'
    )
    is_backup: bool = False

    @field_validator("contact_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://", "weixin://", "wxwork://")):
            raise ValueError("give a link starting with https:// (or weixin:// / wxwork://)")
        return value

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for start, end in value:
            if not _CLOCK.match(start) or not _CLOCK.match(end) or start == end:
                raise ValueError(f"window {start}-{end}: give two different HH:MM times")
        return value


class ChannelCodeIn(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    kind: Kind = "staff"
    routing: Routing = "single"
    staff: list[StaffLinkIn] = Field(default_factory=list, max_length=50)
    tag_ids: list[int] = Field(default_factory=list, max_length=20)
    welcome_message: str | None = Field(None, max_length=2000)
    daily_limit: int | None = Field(None, ge=1, le=1_000_000)
    community_id: int | None = None

    @model_validator(mode="after")
    def _staff(self) -> ChannelCodeIn:
        check_staff(self.routing, self.staff, self.community_id)
        return self


def check_staff(routing: str, staff: list[StaffLinkIn], community_id: int | None) -> None:
    regular = [s for s in staff if not s.is_backup]
    if len({s.staff_id for s in staff}) != len(staff):
        raise ValueError("a staff member appears twice")
    if sum(1 for s in staff if s.is_backup) > 1:
        raise ValueError("give at most one backup staff")
    if not regular and community_id is None:
        raise ValueError("give at least one (non-backup) staff, or a community to join")
    if routing == "capacity" and any(s.daily_cap is None for s in regular):
        raise ValueError("capacity routing needs a daily_cap on every staff")
    if routing == "time_of_day" and any(not s.windows for s in regular):
        raise ValueError("time-of-day routing needs windows on every staff")


class ChannelCodeUpdate(StrictModel):
    """Only the fields sent change; `staff`, when sent, replaces the whole list."""

    name: str | None = Field(None, min_length=1, max_length=100)
    kind: Kind | None = None
    routing: Routing | None = None
    staff: list[StaffLinkIn] | None = Field(None, max_length=50)
    tag_ids: list[int] | None = Field(None, max_length=20)
    welcome_message: str | None = Field(None, max_length=2000)
    daily_limit: int | None = Field(None, ge=1, le=1_000_000)
    community_id: int | None = None


class StaffLinkOut(OutModel):
    id: int
    staff_id: int
    contact_url: str
    daily_cap: int | None
    windows: list[list[str]]
    position: int
    is_backup: bool


class StatsOut(OutModel):
    scans: int = 0
    routed: int = 0
    arrivals: int = 0
    conversions: int = 0


class ChannelCodeOut(OutModel):
    id: int
    name: str
    code: str
    kind: str
    routing: str
    tag_ids: list[int]
    welcome_message: str | None
    daily_limit: int | None
    community_id: int | None
    archived_at: dt.datetime | None
    created_at: dt.datetime
    staff: list[StaffLinkOut] = Field(default_factory=list)
    landing_path: str = ""
    stats: StatsOut | None = None


class DayStatsOut(OutModel):
    day: dt.date
    scans: int
    routed: int
    arrivals: int
    conversions: int


class WecomSettingsIn(StrictModel):
    corp_id: str = Field(min_length=1, max_length=64)
    token: str = Field(min_length=1, max_length=64)
    encoding_aes_key: str = Field(min_length=43, max_length=43)


class WecomSettingsOut(OutModel):
    corp_id: str
    token: str
    callback_path: str
