"""Routes of outreach/channels (none yet)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
