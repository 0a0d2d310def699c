"""Routes of analytics/cohorts (none yet)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
