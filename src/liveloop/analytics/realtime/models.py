"""Tables of analytics/realtime (none yet)."""

from __future__ import annotations
