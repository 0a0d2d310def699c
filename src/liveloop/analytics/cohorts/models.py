"""Tables of analytics/cohorts (none yet)."""

from __future__ import annotations
