"""API shapes of segments. The filter travels as JSON and is parsed by the service (422 paths)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    filter: dict[str, Any]
    kind: Literal["dynamic", "static"] = "dynamic"


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    filter: dict[str, Any] | None = None


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    filter: dict[str, Any]
    kind: str
    cached_count: int | None
    counted_at: dt.datetime | None
    frozen_at: dt.datetime | None
    created_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: dict[str, Any]
    sample_size: int = Field(default=10, ge=0, le=50)


class MemberOut(BaseModel):
    """A member as the builder and lists show it: display fields masked (no PII)."""

    id: int
    name: str
    city: str | None
    province: str | None
    last_active_at: dt.datetime | None


class PreviewOut(BaseModel):
    count: int
    sample: list[MemberOut]
    filter: dict[str, Any]  # the filter as understood (normalised)


class CountOut(BaseModel):
    segment_id: int
    count: int
    counted_at: dt.datetime
