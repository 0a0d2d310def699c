"""Tables of analytics/attribution (none yet)."""

from __future__ import annotations
