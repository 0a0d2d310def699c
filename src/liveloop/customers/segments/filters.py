"""The segment filter language (人群圈选): a JSON tree of groups and conditions.

A node is a group (``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``) or a condition
with a ``kind`` (profile, tags, event, purchase, live, community, rfm, lifecycle, tier,
segment). ``docs/segments.md`` documents every kind, field and operator with examples.

Parse with ``SegmentFilter.model_validate(data)`` (a Pydantic ``ValidationError`` whose ``loc``
names the node) or ``parse_filter(data)``, which raises ``InvalidInput`` with ``field`` set to a
path such as ``filter.all[2].any[0].count``. The compiler (``compiler.compile_filter``) turns a
parsed filter into one SQL statement; values are only ever bound parameters.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from liveloop.core.errors import InvalidInput
from liveloop.customers.rfm.models import LIFECYCLE_STAGES

MAX_DEPTH = 8  # levels of nodes, the root being level 1
MAX_NODES = 200  # groups and conditions together
MAX_LIST = 500  # ids or values in one list
MAX_DAYS = 36_600  # 100 years
MAX_COUNT = 1_000_000
MAX_FEN = 10**13

STRING_FIELDS = ("display_name", "gender", "province", "city", "source_channel")
DATE_FIELDS = ("birthday",)
DATETIME_FIELDS = ("first_seen_at", "last_active_at", "created_at")
PROFILE_FIELDS = STRING_FIELDS + DATE_FIELDS + DATETIME_FIELDS

STRING_OPS = ("eq", "neq", "in", "not_in", "contains", "empty", "not_empty")
DATE_OPS = (
    "eq",
    "neq",
    "gte",
    "lte",
    "range",
    "empty",
    "not_empty",
    "within_last_days",
    "before_days_ago",
)
COUNT_OPS = ("at_least", "at_most", "exactly")
RFM_SEGMENTS = (
    "important_value",
    "important_keep",
    "important_develop",
    "important_retain",
    "general_value",
    "general_keep",
    "general_develop",
    "general_retain",
    "champions",
    "loyal",
    "potential",
    "new",
    "at_risk",
    "hibernating",
    "lost",
    "none",
)
PROPERTY_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

Id = Annotated[StrictInt, Field(ge=1, le=2**62)]
Days = Annotated[StrictInt, Field(ge=0, le=MAX_DAYS)]
IdList = Annotated[list[Id], Field(min_length=1, max_length=MAX_LIST)]
PropertyValue = StrictStr | StrictBool | StrictInt

_STRICT = ConfigDict(extra="forbid")


class _Node(BaseModel):
    model_config = _STRICT


def _parse_instant(value: Any) -> dt.date | dt.datetime:
    """A date (a whole day in the shop's time zone) or a timezone-aware datetime."""
    if isinstance(value, dt.datetime):
        parsed: dt.date | dt.datetime = value
    elif isinstance(value, dt.date):
        return value
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = (
                dt.date.fromisoformat(text)
                if len(text) == 10
                else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date (2026-11-23) or a date and time with a time zone"
            ) from None
    else:
        raise ValueError("expected a date (2026-11-23) or a date and time with a time zone")
    if isinstance(parsed, dt.datetime) and parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; add one, e.g. +08:00 or Z")
    return parsed


# Parsed by _parse_instant (a "before" validator), then kept as is: a date-time at midnight
# must not turn into a date (a date is a day in the shop's time zone).
Instant = Any


class Window(_Node):
    """When it happened: the last N days, or an absolute range [from, to)."""

    last_days: Annotated[StrictInt, Field(ge=1, le=MAX_DAYS)] | None = None
    from_: Instant | None = Field(default=None, alias="from")
    to: Instant | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> Any:
        return None if value is None else _parse_instant(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Window:
        if self.last_days is not None and (self.from_ is not None or self.to is not None):
            raise ValueError("give either last_days or from/to, not both")
        if self.last_days is None and self.from_ is None and self.to is None:
            raise ValueError("give last_days or from and/or to")
        if (
            self.from_ is not None
            and self.to is not None
            and type(self.from_) is type(self.to)
            and _sort_key(self.from_) >= _sort_key(self.to)
        ):
            raise ValueError("from must be before to (to is not included)")
        return self


class Count(_Node):
    """How many times: at_least / at_most / exactly N."""

    op: Literal["at_least", "at_most", "exactly"] = "at_least"
    value: Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)] = 1


class Amount(_Node):
    """A money amount in fen compared with gte / lte / eq / range (min and max)."""

    op: Literal["gte", "lte", "eq", "range"]
    value: Annotated[StrictInt, Field(ge=0, le=MAX_FEN)] | None = None
    min: Annotated[StrictInt, Field(ge=0, le=MAX_FEN)] | None = None
    max: Annotated[StrictInt, Field(ge=0, le=MAX_FEN)] | None = None

    @model_validator(mode="after")
    def _operands(self) -> Amount:
        _check_range_operands(self.op, self.value, self.min, self.max)
        return self


class IntRange(_Node):
    """A whole-number range: gte and/or lte."""

    gte: StrictInt | None = None
    lte: StrictInt | None = None

    @model_validator(mode="after")
    def _some(self) -> IntRange:
        if self.gte is None and self.lte is None:
            raise ValueError("give gte and/or lte")
        if self.gte is not None and self.lte is not None and self.gte > self.lte:
            raise ValueError("gte is greater than lte")
        return self


class LastPurchase(_Node):
    op: Literal["within_last_days", "before_days_ago", "gte", "lte", "range"]
    value: Any = None
    min: Any = None
    max: Any = None

    @model_validator(mode="after")
    def _operands(self) -> LastPurchase:
        _check_date_operands(self, self.op, datetime_field=True)
        return self


def _check_range_operands(op: str, value: Any, low: Any, high: Any) -> None:
    if op == "range":
        if low is None or high is None:
            raise ValueError("range needs min and max")
        if value is not None:
            raise ValueError("range takes min and max, not value")
        if low > high:
            raise ValueError("min is greater than max")
    else:
        if value is None:
            raise ValueError(f"{op} needs a value")
        if low is not None or high is not None:
            raise ValueError(f"{op} takes value, not min/max")


def _check_date_operands(node: Any, op: str, *, datetime_field: bool) -> None:
    """Check and normalise value/min/max of a date condition (sets parsed values)."""
    if op in ("within_last_days", "before_days_ago"):
        value = node.value
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DAYS:
            raise ValueError(f"{op} needs a whole number of days between 0 and {MAX_DAYS}")
        if node.min is not None or node.max is not None:
            raise ValueError(f"{op} takes value, not min/max")
        return
    if op in ("empty", "not_empty"):
        if node.value is not None or node.min is not None or node.max is not None:
            raise ValueError(f"{op} takes no value")
        return
    _check_range_operands(
        op, node.value, 0 if node.min is not None else None, 0 if node.max is not None else None
    )
    for name in ("value", "min", "max"):
        raw = getattr(node, name)
        if raw is None:
            continue
        parsed = _parse_instant(raw)
        if not datetime_field and isinstance(parsed, dt.datetime):
            raise ValueError(f"{name} must be a date such as 2026-11-23")
        object.__setattr__(node, name, parsed)
    if op == "range" and _sort_key(node.min) > _sort_key(node.max):
        raise ValueError("min is after max")


def _sort_key(value: dt.date | dt.datetime) -> tuple[dt.date, dt.time]:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC)
        return (value.date(), value.time().replace(tzinfo=None))
    return (value, dt.time(0))


class ProfileCondition(_Node):
    kind: Literal["profile"]
    field: Literal[
        "display_name",
        "gender",
        "birthday",
        "province",
        "city",
        "source_channel",
        "first_seen_at",
        "last_active_at",
        "created_at",
    ]
    op: Literal[
        "eq",
        "neq",
        "in",
        "not_in",
        "contains",
        "empty",
        "not_empty",
        "gte",
        "lte",
        "range",
        "within_last_days",
        "before_days_ago",
    ]
    value: Any = None
    min: Any = None
    max: Any = None

    @model_validator(mode="after")
    def _operands(self) -> ProfileCondition:
        if self.field in STRING_FIELDS:
            if self.op not in STRING_OPS:
                raise ValueError(
                    f"op {self.op!r} does not apply to the text field {self.field!r}; "
                    f"use one of {', '.join(STRING_OPS)}"
                )
            if self.min is not None or self.max is not None:
                raise ValueError("min/max apply to dates only")
            if self.op in ("empty", "not_empty"):
                if self.value is not None:
                    raise ValueError(f"{self.op} takes no value")
            elif self.op in ("in", "not_in"):
                if (
                    not isinstance(self.value, list)
                    or not 1 <= len(self.value) <= MAX_LIST
                    or not all(isinstance(item, str) and len(item) <= 200 for item in self.value)
                ):
                    raise ValueError(f"{self.op} needs a list of 1 to {MAX_LIST} texts")
            elif not isinstance(self.value, str) or not 0 < len(self.value) <= 200:
                raise ValueError(f"{self.op} needs a text value of 1 to 200 characters")
        else:
            if self.op not in DATE_OPS:
                raise ValueError(
                    f"op {self.op!r} does not apply to the date field {self.field!r}; "
                    f"use one of {', '.join(DATE_OPS)}"
                )
            _check_date_operands(self, self.op, datetime_field=self.field in DATETIME_FIELDS)
        return self


class TagsCondition(_Node):
    kind: Literal["tags"]
    op: Literal["has_any", "has_all", "has_none"]
    tag_ids: IdList


class PropertyMatch(RootModel[dict[str, PropertyValue]]):
    """Event properties that must equal the given values (text, whole number or true/false)."""

    root: dict[str, PropertyValue]

    @field_validator("root")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > 20:
            raise ValueError("at most 20 properties")
        for key, item in value.items():
            if not PROPERTY_KEY.match(key):
                raise ValueError(f"property name {key!r} must be letters, digits or _ (at most 64)")
            if isinstance(item, str) and len(item) > 200:
                raise ValueError(f"property {key!r}: at most 200 characters")
        return value


class EventCondition(_Node):
    kind: Literal["event"]
    type: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_.]{1,63}$")]
    properties: PropertyMatch | None = None
    product_id: Id | None = None
    category_id: Id | None = None
    live_session_id: Id | None = None
    count: Count = Count()
    window: Window | None = None


class PurchaseCondition(_Node):
    kind: Literal["purchase"]
    product_id: Id | None = None
    category_id: Id | None = None
    live_session_id: Id | None = None
    window: Window | None = None
    count: Count | None = None
    spend_fen: Amount | None = None
    avg_order_fen: Amount | None = None
    last_purchase: LastPurchase | None = None

    @model_validator(mode="after")
    def _one_measure(self) -> PurchaseCondition:
        given = [
            name
            for name in ("count", "spend_fen", "avg_order_fen", "last_purchase")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise ValueError(
                f"give one of count, spend_fen, avg_order_fen, last_purchase; got {given}"
            )
        return self

    @property
    def measure(self) -> str:
        for name in ("spend_fen", "avg_order_fen", "last_purchase"):
            if getattr(self, name) is not None:
                return name
        return "count"


class LiveCondition(_Node):
    kind: Literal["live"]
    action: Literal["watched", "commented", "bought"] = "watched"
    live_session_id: Id | None = None
    min_watch_seconds: Annotated[StrictInt, Field(ge=0, le=10**7)] | None = None
    window: Window | None = None
    count: Count = Count()

    @model_validator(mode="after")
    def _watch_only(self) -> LiveCondition:
        if self.min_watch_seconds is not None and self.action != "watched":
            raise ValueError("min_watch_seconds applies to action 'watched' only")
        return self


class CommunityCondition(_Node):
    kind: Literal["community"]
    community_ids: Annotated[list[Id], Field(max_length=MAX_LIST)] = []
    when: Literal["now", "ever"] = "now"


class RfmCondition(_Node):
    kind: Literal["rfm"]
    segments: Annotated[list[StrictStr], Field(min_length=1, max_length=50)] | None = None
    r_score: IntRange | None = None
    f_score: IntRange | None = None
    m_score: IntRange | None = None

    @field_validator("segments")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if item not in RFM_SEGMENTS:
                raise ValueError(
                    f"unknown RFM segment {item!r}; use one of {', '.join(RFM_SEGMENTS)}"
                )
        return value

    @model_validator(mode="after")
    def _some(self) -> RfmCondition:
        if not (self.segments or self.r_score or self.f_score or self.m_score):
            raise ValueError("give segments and/or r_score, f_score, m_score")
        return self


class LifecycleCondition(_Node):
    kind: Literal["lifecycle"]
    stages: Annotated[list[StrictStr], Field(min_length=1, max_length=len(LIFECYCLE_STAGES))]

    @field_validator("stages")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for item in value:
            if item not in LIFECYCLE_STAGES:
                raise ValueError(
                    f"unknown lifecycle stage {item!r}; use one of {', '.join(LIFECYCLE_STAGES)}"
                )
        return value


class TierCondition(_Node):
    kind: Literal["tier"]
    tier_ids: IdList | None = None
    min_level: StrictInt | None = None
    points: IntRange | None = None

    @model_validator(mode="after")
    def _some(self) -> TierCondition:
        if self.tier_ids is None and self.min_level is None and self.points is None:
            raise ValueError("give tier_ids, min_level and/or points")
        return self


class SegmentCondition(_Node):
    kind: Literal["segment"]
    segment_id: Id


class AllGroup(_Node):
    all: Annotated[list[Node], Field(max_length=MAX_NODES)]


class AnyGroup(_Node):
    any: Annotated[list[Node], Field(max_length=MAX_NODES)]


class NotGroup(_Node):
    not_: Node = Field(alias="not")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


GROUP_KEYS = ("all", "any", "not")
CONDITION_KINDS = (
    "profile",
    "tags",
    "event",
    "purchase",
    "live",
    "community",
    "rfm",
    "lifecycle",
    "tier",
    "segment",
)


def _node_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        if isinstance(value, AllGroup | AnyGroup):
            return "all" if isinstance(value, AllGroup) else "any"
        if isinstance(value, NotGroup):
            return "not"
        return getattr(value, "kind", None)
    if not isinstance(value, dict):
        return None
    for key in GROUP_KEYS:
        if key in value:
            return key
    kind = value.get("kind")
    return kind if isinstance(kind, str) else None


Condition = (
    ProfileCondition
    | TagsCondition
    | EventCondition
    | PurchaseCondition
    | LiveCondition
    | CommunityCondition
    | RfmCondition
    | LifecycleCondition
    | TierCondition
    | SegmentCondition
)

Node = Annotated[
    Union[  # noqa: UP007  (a tagged union needs the Annotated members)
        Annotated[AllGroup, Tag("all")],
        Annotated[AnyGroup, Tag("any")],
        Annotated[NotGroup, Tag("not")],
        Annotated[ProfileCondition, Tag("profile")],
        Annotated[TagsCondition, Tag("tags")],
        Annotated[EventCondition, Tag("event")],
        Annotated[PurchaseCondition, Tag("purchase")],
        Annotated[LiveCondition, Tag("live")],
        Annotated[CommunityCondition, Tag("community")],
        Annotated[RfmCondition, Tag("rfm")],
        Annotated[LifecycleCondition, Tag("lifecycle")],
        Annotated[TierCondition, Tag("tier")],
        Annotated[SegmentCondition, Tag("segment")],
    ],
    Discriminator(
        _node_tag,
        custom_error_type="invalid_node",
        custom_error_message=(
            "a node is a group (all, any, not) or a condition with a kind: "
            + ", ".join(CONDITION_KINDS)
        ),
    ),
]

AllGroup.model_rebuild()
AnyGroup.model_rebuild()
NotGroup.model_rebuild()


def _check_shape(value: Any) -> None:
    """Depth and size limits, checked on the raw JSON before anything else (cheap, bounded)."""
    count = 0
    stack: list[tuple[Any, str, int]] = [(value, "filter", 1)]
    while stack:
        node, path, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise _ShapeError(path, f"the filter has more than {MAX_NODES} nodes")
        if not isinstance(node, dict):
            continue
        for key in ("all", "any"):
            children = node.get(key)
            if isinstance(children, list):
                if depth + 1 > MAX_DEPTH and children:
                    raise _ShapeError(
                        f"{path}.{key}[0]", f"nodes are nested deeper than {MAX_DEPTH} levels"
                    )
                for index in reversed(range(len(children))):
                    stack.append((children[index], f"{path}.{key}[{index}]", depth + 1))
        child = node.get("not")
        if isinstance(child, dict):
            if depth + 1 > MAX_DEPTH:
                raise _ShapeError(f"{path}.not", f"nodes are nested deeper than {MAX_DEPTH} levels")
            stack.append((child, f"{path}.not", depth + 1))


class _ShapeError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class SegmentFilter(RootModel[Node]):
    """The root node of a segment filter."""

    root: Node

    @model_validator(mode="before")
    @classmethod
    def _limits(cls, value: Any) -> Any:
        _check_shape(value)
        if not isinstance(value, dict):
            raise ValueError('a filter is a JSON object such as {"all": [...]}')
        return value

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def everyone() -> SegmentFilter:
    return SegmentFilter.model_validate({"all": []})


def format_path(loc: tuple[Any, ...] | list[Any], *, root: str = "filter") -> str:
    """Pydantic's loc -> 'filter.all[2].any[0].count' (union tags and wrappers left out)."""
    parts = [root]
    items = list(loc)
    # The node after the root, a list index or "not" is tagged by the discriminator: drop it.
    expect_tag = True
    for item in items:
        if expect_tag and isinstance(item, str) and (item in GROUP_KEYS or item in CONDITION_KINDS):
            expect_tag = False
            continue
        expect_tag = False
        if isinstance(item, int):
            parts[-1] += f"[{item}]"
            expect_tag = True
        elif item == "not":
            parts.append("not")
            expect_tag = True
        elif item in ("root", "[key]"):
            continue
        else:
            parts.append(str(item))
    return ".".join(parts)


def parse_filter(data: Any, *, root: str = "filter") -> SegmentFilter:
    """Parse a filter or raise InvalidInput naming the bad node (422)."""
    try:
        return SegmentFilter.model_validate(data)
    except ValidationError as error:
        details = []
        for item in error.errors():
            message = str(item.get("msg", "invalid"))
            path = format_path(item.get("loc", ()), root=root)
            shape = (item.get("ctx") or {}).get("error")
            if isinstance(shape, _ShapeError):
                path = shape.path if root == "filter" else shape.path.replace("filter", root, 1)
                message = shape.message
            message = message.removeprefix("Value error, ")
            details.append({"field": path, "message": message, "type": item.get("type")})
        first = details[0] if details else {"field": root, "message": "invalid filter"}
        raise InvalidInput(
            f"{first['field']}: {first['message']}",
            code="invalid_filter",
            field=first["field"],
            details=details,
        ) from None


def walk(node: Any, path: str = "filter") -> list[tuple[str, Any]]:
    """Every node of a parsed filter with its path (depth first)."""
    if isinstance(node, SegmentFilter):
        node = node.root
    found: list[tuple[str, Any]] = [(path, node)]
    if isinstance(node, AllGroup):
        for index, child in enumerate(node.all):
            found += walk(child, f"{path}.all[{index}]")
    elif isinstance(node, AnyGroup):
        for index, child in enumerate(node.any):
            found += walk(child, f"{path}.any[{index}]")
    elif isinstance(node, NotGroup):
        found += walk(node.not_, f"{path}.not")
    return found
