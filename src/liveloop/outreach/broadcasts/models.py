"""Tables of outreach/broadcasts (none yet)."""

from __future__ import annotations
