"""The customer timeline in words an operator reads: labels, product names, money, durations.

Pure functions over event rows (no database, no request): the page looks up product names and
SKU specs in one batch per page and passes them in with the request's `gettext`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from liveloop.web.i18n import N_
from liveloop.web.templating import format_money

Translate = Callable[[str], str]

# The types LiveLoop emits (events.models.KNOWN_TYPES); an integrator's own types show as-is.
EVENT_LABELS: dict[str, str] = {
    "view": N_("Visited"),
    "product_view": N_("Viewed a product"),
    "like": N_("Liked"),
    "comment": N_("Commented"),
    "share": N_("Shared"),
    "add_to_cart": N_("Added to cart"),
    "order": N_("Placed an order"),
    "pay": N_("Paid"),
    "join_group": N_("Joined a group"),
    "coupon_claim": N_("Claimed a coupon"),
    "live_enter": N_("Entered the live room"),
    "live_leave": N_("Left the live room"),
}
# A colour family per type, so money stands out from browsing at a glance.
EVENT_KINDS: dict[str, str] = {
    "view": "browse",
    "product_view": "browse",
    "like": "interact",
    "comment": "interact",
    "share": "interact",
    "add_to_cart": "buy",
    "order": "buy",
    "pay": "buy",
    "coupon_claim": "buy",
    "join_group": "community",
    "live_enter": "live",
    "live_leave": "live",
}

MONEY_LABELS = {
    "amount_fen": N_("Amount"),
    "price_fen": N_("Price"),
    "total_fen": N_("Total"),
    "discount_fen": N_("Discount"),
}
DURATION_LABELS = {"watched_seconds": N_("Watched"), "dwell_seconds": N_("Stayed")}
FIELD_LABELS = {
    "order_no": N_("Order no."),
    "method": N_("Paid with"),
    "to": N_("Shared to"),
    "page": N_("Page"),
    "source": N_("Source"),
}
VALUE_LABELS = {
    "wechat_pay": N_("WeChat Pay"),
    "alipay": N_("Alipay"),
    "balance": N_("Balance"),
    "wechat_group": N_("WeChat group"),
    "wechat_friend": N_("WeChat friend"),
    "moments": N_("WeChat Moments"),
    "mall_home": N_("Mall home"),
}
# Keys shown elsewhere in the entry (title, quote, product, lines), when their value has the
# expected shape; a value of another shape falls back to key=value.
FOLDED_KEYS: dict[str, Callable[[Any], bool]] = {
    "text": lambda value: isinstance(value, str),
    "live_title": lambda value: isinstance(value, str),
    "live_no": lambda value: _is_int(value),
    "sku_id": lambda value: _is_int(value),
    "lines": lambda value: isinstance(value, list),
    "first_visit": lambda value: isinstance(value, bool),
}
RAW_VALUE_LENGTH = 60


class EventRow(Protocol):
    id: int
    type: str
    customer_id: int | None
    product_id: int | None
    properties: dict[str, Any]
    occurred_at: dt.datetime


@dataclass(frozen=True)
class Detail:
    """One fact of an event: 'Amount ¥476.00'; `label` is empty for facts that read alone."""

    text: str
    label: str = ""


@dataclass(frozen=True)
class ProductRef:
    id: int
    name: str  # '#id' when the product was deleted
    exists: bool


@dataclass(frozen=True)
class OrderLine:
    text: str  # 'name · spec × quantity'
    money: str = ""  # the line's subtotal, when its price is known


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    occurred_at: dt.datetime
    type: str
    label: str
    kind: str  # browse, interact, buy, live, community or custom
    customer_id: int | None
    product: ProductRef | None = None
    live: str | None = None  # 'Live “title”' or 'Live #12'
    quote: str | None = None
    details: list[Detail] = field(default_factory=list)
    lines: list[OrderLine] = field(default_factory=list)

    @property
    def custom(self) -> bool:
        return self.kind == "custom"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _properties(event: EventRow) -> dict[str, Any]:
    return event.properties if isinstance(event.properties, dict) else {}


def _order_lines(properties: Mapping[str, Any]) -> list[dict[str, Any]]:
    lines = properties.get("lines")
    if not isinstance(lines, list):
        return []
    return [line for line in lines if isinstance(line, dict)]


def product_ids_of(events: Iterable[EventRow]) -> set[int]:
    """Every product an entry names: the event's own and those of an order's lines."""
    ids: set[int] = set()
    for event in events:
        if event.product_id:
            ids.add(event.product_id)
        ids.update(
            line["product_id"]
            for line in _order_lines(_properties(event))
            if _is_int(line.get("product_id"))
        )
    return ids


def sku_ids_of(events: Iterable[EventRow]) -> set[int]:
    ids: set[int] = set()
    for event in events:
        properties = _properties(event)
        if _is_int(properties.get("sku_id")):
            ids.add(properties["sku_id"])
        ids.update(
            line["sku_id"] for line in _order_lines(properties) if _is_int(line.get("sku_id"))
        )
    return ids


def format_duration(seconds: float, gettext: Translate) -> str:
    """200 -> '3m 20s' ('3 分 20 秒'); an hour and more drops the seconds."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return gettext(N_("%(hours)sh %(minutes)sm")) % {"hours": hours, "minutes": minutes}
    if minutes and secs:
        return gettext(N_("%(minutes)sm %(seconds)ss")) % {"minutes": minutes, "seconds": secs}
    if minutes:
        return gettext(N_("%(minutes)s min")) % {"minutes": minutes}
    return gettext(N_("%(seconds)ss")) % {"seconds": secs}


def _raw(value: Any) -> str:
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return text if len(text) <= RAW_VALUE_LENGTH else text[: RAW_VALUE_LENGTH - 1] + "…"


def _value_label(value: Any, gettext: Translate) -> str:
    if isinstance(value, str) and value in VALUE_LABELS:
        return gettext(VALUE_LABELS[value])
    return _raw(value)


def _detail(key: str, value: Any, gettext: Translate) -> Detail:
    if key.endswith("_fen") and _is_int(value):
        label = MONEY_LABELS.get(key)
        if label is None:
            return Detail(f"{key.removesuffix('_fen')}={format_money(value)}")
        return Detail(format_money(value), gettext(label))
    if key in DURATION_LABELS and _is_number(value):
        return Detail(format_duration(value, gettext), gettext(DURATION_LABELS[key]))
    if key == "count" and _is_int(value):
        return Detail(gettext(N_("%(count)s times")) % {"count": value})
    if key == "quantity" and _is_int(value):
        return Detail(f"× {value}")
    if key in FIELD_LABELS and isinstance(value, str | int) and not isinstance(value, bool):
        return Detail(_value_label(value, gettext), gettext(FIELD_LABELS[key]))
    return Detail(f"{key}={_raw(value)}")


def _product_name(
    product_id: int, sku_id: Any, names: Mapping[int, str], skus: Mapping[int, str]
) -> str:
    name = names.get(product_id, f"#{product_id}")
    spec = skus.get(sku_id) if _is_int(sku_id) else None
    return f"{name} · {spec}" if spec else name


def _order_line(
    line: Mapping[str, Any], gettext: Translate, names: Mapping[int, str], skus: Mapping[int, str]
) -> OrderLine:
    product_id = line.get("product_id")
    if _is_int(product_id):
        name = _product_name(product_id, line.get("sku_id"), names, skus)
    elif _is_int(line.get("sku_id")):
        name = skus.get(line["sku_id"]) or f"SKU #{line['sku_id']}"
    else:
        name = gettext(N_("Item"))
    quantity = line.get("quantity")
    price = line.get("price_fen")
    if not _is_int(quantity):
        return OrderLine(name, format_money(price) if _is_int(price) else "")
    return OrderLine(
        f"{name} × {quantity}", format_money(price * quantity) if _is_int(price) else ""
    )


def describe_event(
    event: EventRow,
    *,
    gettext: Translate,
    product_names: Mapping[int, str],
    sku_labels: Mapping[int, str] | None = None,
) -> TimelineEntry:
    """One event as the timeline shows it; unknown properties fall back to key=value."""
    properties = _properties(event)
    skus = sku_labels or {}
    label = EVENT_LABELS.get(event.type)
    product = None
    if event.product_id:
        product = ProductRef(
            id=event.product_id,
            name=_product_name(event.product_id, properties.get("sku_id"), product_names, skus),
            exists=event.product_id in product_names,
        )
    text = properties.get("text")
    title = properties.get("live_title")
    live_no = properties.get("live_no")
    live = None
    if isinstance(title, str) and title.strip():
        live = gettext(N_("Live “%(title)s”")) % {"title": title.strip()}
    elif _is_int(live_no):
        live = gettext(N_("Live #%(number)s")) % {"number": live_no}
    details = []
    if properties.get("first_visit") is True:
        details.append(Detail(gettext(N_("First visit"))))
    for key, value in properties.items():
        folded = FOLDED_KEYS.get(key)
        if (folded is not None and folded(value)) or value is None or value == "":
            continue
        details.append(_detail(key, value, gettext))
    return TimelineEntry(
        id=event.id,
        occurred_at=event.occurred_at,
        type=event.type,
        label=gettext(label) if label else event.type,
        kind=EVENT_KINDS.get(event.type, "custom"),
        customer_id=event.customer_id,
        product=product,
        live=live,
        quote=f"“{text.strip()}”" if isinstance(text, str) and text.strip() else None,
        details=details,
        lines=[
            _order_line(line, gettext, product_names, skus) for line in _order_lines(properties)
        ],
    )


def describe_events(
    events: Iterable[EventRow],
    *,
    gettext: Translate,
    product_names: Mapping[int, str],
    sku_labels: Mapping[int, str] | None = None,
) -> list[TimelineEntry]:
    return [
        describe_event(event, gettext=gettext, product_names=product_names, sku_labels=sku_labels)
        for event in events
    ]
