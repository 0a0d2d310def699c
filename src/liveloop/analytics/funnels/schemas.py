"""Request bodies of the funnel routes (the figures themselves are plain dicts, see service)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DropoffSegmentIn(BaseModel):
    """Turn the drop-off list of one step into a static segment."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    step: str = Field(min_length=1, max_length=32)
    steps: str | list[str] | None = None
    window_seconds: int | None = None
    name: str | None = Field(default=None, max_length=100)


class RangeDropoffSegmentIn(DropoffSegmentIn):
    date_from: str = Field(alias="from", max_length=10)
    date_to: str = Field(alias="to", max_length=10)


class GroupSegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str = Field(max_length=16)
    name: str | None = Field(default=None, max_length=100)


class SegmentMade(BaseModel):
    segment_id: int
    name: str
    count: int
