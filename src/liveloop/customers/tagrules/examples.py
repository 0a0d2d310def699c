"""Example tag-rule conditions: the four rules of the issue, offered in the console and demo."""

from __future__ import annotations

from typing import Any

# "高活跃" reads "≥ 10 interactions in 30 days" as ten of one kind: a filter counts one event type.
EXAMPLES: dict[str, dict[str, Any]] = {
    "高活跃": {
        "any": [
            {"kind": "event", "type": kind, "count": {"op": "at_least", "value": 10},
             "window": {"last_days": 30}}
            for kind in ("comment", "like", "share", "product_view")
        ]
    },
    "直播常客": {
        "kind": "live", "action": "watched", "min_watch_seconds": 600,
        "count": {"op": "at_least", "value": 3}, "window": {"last_days": 60},
    },
    "高客单": {"kind": "purchase", "avg_order_fen": {"op": "gte", "value": 30000}},
    "沉睡": {"kind": "profile", "field": "last_active_at", "op": "before_days_ago", "value": 90},
}  # fmt: skip
