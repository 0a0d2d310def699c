"""API shapes of tag rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TagRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50)
    tag_id: int = Field(ge=1)
    condition: dict[str, Any]  # a segment filter (docs/segments.md)
    enabled: bool = True
    # A condition every customer matches is refused unless this is true.
    confirm_all: bool = False


class TagRuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=50)
    condition: dict[str, Any] | None = None
    enabled: bool | None = None
    confirm_all: bool = False


class TagRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    tag_id: int
    condition: dict[str, Any]
    enabled: bool
    last_run_at: dt.datetime | None
    last_counts: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class ConditionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    condition: dict[str, Any]


class PreviewOut(BaseModel):
    matching: int
    customers: int
    matches_everyone: bool
    sample_ids: list[int]


class RunOut(BaseModel):
    rule_id: int
    members: int
    added: int
    removed: int


class TagChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    tag_id: int
    rule_id: int | None
    action: str
    reason: str
    at: dt.datetime
