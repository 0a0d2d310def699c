"""Filter validation: unknown fields and ops, wrong types, limits — each a 422 naming the node."""

from __future__ import annotations

from typing import Any

import pytest

from liveloop.core.errors import InvalidInput
from liveloop.customers.segments.filters import MAX_DEPTH, MAX_NODES, SegmentFilter, parse_filter


def error_of(data: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_filter(data)
    assert caught.value.code == "invalid_filter"
    return caught.value


def nest(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"kind": "lifecycle", "stages": ["new"]}
    for _ in range(depth):
        node = {"all": [node]}
    return node


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"all": [{"kind": "astrology"}]}, "filter.all[0]", "a condition with a kind"),
        ({"every": []}, "filter", "a condition with a kind"),
        ([1, 2], "filter", "JSON object"),
        (
            {"all": [{"kind": "profile", "field": "salary", "op": "eq", "value": "1"}]},
            "filter.all[0].field",
            "Input should be",
        ),
        (
            {"all": [{"kind": "profile", "field": "city", "op": "gte", "value": "上海"}]},
            "filter.all[0]",
            "does not apply to the text field",
        ),
        (
            {"all": [{"kind": "profile", "field": "city", "op": "in", "value": "上海"}]},
            "filter.all[0]",
            "list",
        ),
        (
            {
                "any": [
                    {
                        "kind": "profile",
                        "field": "created_at",
                        "op": "gte",
                        "value": "2026-11-01T08:00",
                    }
                ]
            },
            "filter.any[0]",
            "no time zone",
        ),
        (
            {"not": {"kind": "tags", "op": "has_any", "tag_ids": ["1 OR 1=1"]}},
            "filter.not.tag_ids[0]",
            "integer",
        ),
        (
            {"all": [{"kind": "tags", "op": "has_some", "tag_ids": [1]}]},
            "filter.all[0].op",
            "Input should be",
        ),
        (
            {
                "all": [
                    {"kind": "lifecycle", "stages": ["new"]},
                    {
                        "all": [
                            {"any": [{"kind": "event", "type": "like", "count": {"op": "lots"}}]}
                        ]
                    },
                ]
            },
            "filter.all[1].all[0].any[0].count.op",
            "Input should be",
        ),
        (
            {"all": [{"kind": "event", "type": "like", "count": {"op": "at_least", "value": -1}}]},
            "filter.all[0].count.value",
            "greater than or equal",
        ),
        (
            {"all": [{"kind": "event", "type": "DROP TABLE", "count": {"value": 1}}]},
            "filter.all[0].type",
            "pattern",
        ),
        (
            {"all": [{"kind": "event", "type": "like", "properties": {"a'b": "x"}}]},
            "filter.all[0].properties",
            "property name",
        ),
        (
            {
                "all": [
                    {
                        "kind": "event",
                        "type": "like",
                        "window": {"last_days": 3, "from": "2026-01-01"},
                    }
                ]
            },
            "filter.all[0].window",
            "not both",
        ),
        (
            {
                "all": [
                    {
                        "kind": "purchase",
                        "count": {"value": 1},
                        "spend_fen": {"op": "gte", "value": 1},
                    }
                ]
            },
            "filter.all[0]",
            "give one of",
        ),
        (
            {"all": [{"kind": "live", "action": "commented", "min_watch_seconds": 60}]},
            "filter.all[0]",
            "watched",
        ),
        ({"all": [{"kind": "rfm", "segments": ["vip"]}]}, "filter.all[0].segments", "unknown RFM"),
        ({"all": [{"kind": "lifecycle", "stages": ["zombie"]}]}, "filter.all[0].stages", "unknown"),
        ({"all": [{"kind": "tier"}]}, "filter.all[0]", "tier_ids"),
        ({"all": [{"kind": "segment", "segment_id": "x"}]}, "filter.all[0].segment_id", "integer"),
        (
            {"all": [{"kind": "lifecycle", "stages": ["new"], "sql": "1=1"}]},
            "filter.all[0].sql",
            "Extra inputs",
        ),
    ],
)
def test_bad_filters_name_the_node(data: Any, field: str, words: str) -> None:
    error = error_of(data)
    assert error.field == field, error.details
    assert words in error.message, error.message
    assert error.message.startswith(field)


def test_nesting_deeper_than_the_limit_names_the_first_node_too_deep() -> None:
    parse_filter(nest(MAX_DEPTH - 1))  # the condition on level MAX_DEPTH (the root is 1): fine
    error = error_of(nest(MAX_DEPTH))
    assert error.field == "filter" + ".all[0]" * MAX_DEPTH
    assert "deeper" in error.message


def test_too_many_nodes() -> None:
    parse_filter({"any": [{"kind": "lifecycle", "stages": ["new"]}] * (MAX_NODES - 1)})
    error = error_of({"any": [{"kind": "lifecycle", "stages": ["new"]}] * MAX_NODES})
    assert error.field == f"filter.any[{MAX_NODES - 1}]"
    assert "more than" in error.message


def test_a_parsed_filter_round_trips_through_json() -> None:
    data = {
        "all": [
            {"kind": "profile", "field": "city", "op": "eq", "value": "上海"},
            {"not": {"kind": "purchase", "window": {"from": "2026-11-01", "to": "2026-11-20"}}},
            {
                "any": [
                    {
                        "kind": "event",
                        "type": "product_view",
                        "properties": {"category": "茶叶"},
                        "count": {"op": "at_least", "value": 3},
                        "window": {"last_days": 14},
                    },
                    {"kind": "tier", "min_level": 2},
                ]
            },
        ]
    }
    parsed = parse_filter(data)
    again = SegmentFilter.model_validate(parsed.to_json())
    assert again == parsed
    assert parsed.to_json()["all"][1]["not"]["window"] == {"from": "2026-11-01", "to": "2026-11-20"}


def test_sql_looking_values_are_only_values() -> None:
    parsed = parse_filter(
        {"kind": "profile", "field": "city", "op": "eq", "value": "'; DROP TABLE customers; --"}
    )
    assert parsed.root.value == "'; DROP TABLE customers; --"


def test_a_midnight_date_time_stays_an_instant_and_windows_run_forwards() -> None:
    parsed = parse_filter(
        {"kind": "event", "type": "like", "window": {"from": "2026-11-20T00:00:00Z"}}
    )
    assert parsed.to_json()["window"] == {"from": "2026-11-20T00:00:00Z"}  # not the day 11-20
    error = error_of(
        {"kind": "event", "type": "like", "window": {"from": "2026-11-20", "to": "2026-11-20"}}
    )
    assert error.field == "filter.window" and "before" in error.message
