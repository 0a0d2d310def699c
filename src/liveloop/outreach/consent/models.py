"""Tables of outreach/consent (none yet)."""

from __future__ import annotations
