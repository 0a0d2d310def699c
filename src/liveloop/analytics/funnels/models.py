"""Tables of analytics/funnels (none yet)."""

from __future__ import annotations
