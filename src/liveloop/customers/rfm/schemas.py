"""API shapes of RFM and lifecycle."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class LifecycleRulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_days: int | None = Field(default=None, ge=1, le=3650)
    active_days: int | None = Field(default=None, ge=1, le=3650)
    churn_days: int | None = Field(default=None, ge=1, le=3650)
    recalled_days: int | None = Field(default=None, ge=1, le=3650)
    high_value_segments: list[str] | None = None
    high_value_spend_fen: int | None = Field(default=None, ge=0)


class RfmSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_days: int | None = Field(default=None, ge=1, le=3650)
    scoring: Literal["quintiles", "thresholds"] | None = None
    r_thresholds: list[int] | None = None
    f_thresholds: list[int] | None = None
    m_thresholds: list[int] | None = None
    lifecycle: LifecycleRulesIn | None = None


class RfmSettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    window_days: int
    scoring: str
    r_thresholds: list[int]
    f_thresholds: list[int]
    m_thresholds: list[int]
    lifecycle: dict[str, Any]
    rfm_computed_at: dt.datetime | None
    lifecycle_computed_at: dt.datetime | None


class CountOut(BaseModel):
    key: str
    label_zh: str
    label_en: str
    customers: int


class RfmDistributionOut(BaseModel):
    computed_at: dt.datetime | None
    segments: list[CountOut]


class FlowOut(BaseModel):
    from_stage: str | None
    to_stage: str
    customers: int


class LifecycleOut(BaseModel):
    computed_at: dt.datetime | None
    stages: list[CountOut]
    flows: list[FlowOut]
    flow_days: int


class RecomputeOut(BaseModel):
    customers: int
    buyers: int
    stage_changes: int
    computed_at: dt.datetime


class CustomerRfmOut(BaseModel):
    customer_id: int
    recency_days: int | None = None
    frequency: int = 0
    monetary_fen: int = 0
    r_score: int = 0
    f_score: int = 0
    m_score: int = 0
    segment: str | None = None
    computed_at: dt.datetime | None = None
    stage: str | None = None
    stage_since: dt.datetime | None = None


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_stage: str | None
    to_stage: str
    reason: str
    transitioned_at: dt.datetime
