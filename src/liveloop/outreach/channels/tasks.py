"""Background jobs of outreach/channels (none yet)."""

from __future__ import annotations
