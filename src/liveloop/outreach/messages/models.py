"""Tables of outreach/messages (none yet)."""

from __future__ import annotations
