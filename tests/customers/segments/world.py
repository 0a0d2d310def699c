"""A small random customer base, stored as rows and evaluated by a plain-Python reference.

The reference re-states the documented meaning of every condition (docs/segments.md) without
SQL, so the property test can compare it with the compiled statement.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.models import Order, OrderLine
from liveloop.customers.communities.models import Community, CommunityMember
from liveloop.customers.models import Customer, CustomerTag, Tag
from liveloop.customers.points.models import CustomerPoints, MemberTier
from liveloop.customers.rfm.models import CustomerLifecycle, CustomerRfm
from liveloop.customers.segments import filters as f
from liveloop.customers.segments.models import Segment, SegmentMember
from liveloop.events.models import Event
from liveloop.live.models import LiveSession, LiveViewer
from tests import factories

NOW = dt.datetime(2026, 11, 20, 4, 30, tzinfo=dt.UTC)  # 12:30 in Shanghai
ZONE = ZoneInfo("Asia/Shanghai")
PAID = {"paid", "shipped", "completed", "partially_refunded"}
ORDER_STATUSES = ["paid", "completed", "pending_payment", "cancelled", "refunded", "shipped"]
TEXTS = ["上海", "北京", "Shang", "shanghai", "", "a%b", "x_y", "c/d", "'; DROP TABLE customers;--"]
EVENT_TYPES = ["product_view", "comment", "like"]
PROPERTY_VALUES: list[Any] = ["茶叶", "茶具", 3, 1, True, False, "3"]
RFM_SEGMENTS = ["important_value", "at_risk", "hibernating"]
STAGES = ["new", "active", "at_risk", "churned"]
_codes = itertools.count(1)

# Indices into the per-example scaffolding (tags, products, categories, sessions...).
N_TAGS, N_PRODUCTS, N_CATEGORIES, N_SESSIONS, N_COMMUNITIES, N_TIERS = 3, 3, 2, 2, 2, 3


def moment(days: int, hours: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days, hours=hours)


moments = st.builds(moment, st.integers(-1, 40), st.integers(0, 23))
maybe_moments = st.none() | moments


@st.composite
def customers(draw: Any) -> dict[str, Any]:
    return {
        "status": draw(st.sampled_from(["active"] * 5 + ["merged", "deleted"])),
        "display_name": draw(st.none() | st.sampled_from(TEXTS)),
        "gender": draw(st.none() | st.sampled_from(["male", "female"])),
        "city": draw(st.none() | st.sampled_from(TEXTS)),
        "province": draw(st.none() | st.sampled_from(["上海", "浙江"])),
        "source_channel": draw(st.none() | st.sampled_from(["wecom", "douyin"])),
        "birthday": draw(
            st.none()
            | st.builds(lambda d: dt.date(2026, 11, 20) - dt.timedelta(days=d), st.integers(-2, 40))
        ),
        "first_seen_at": draw(maybe_moments),
        "last_active_at": draw(maybe_moments),
        "created_at": draw(moments),
        "tags": draw(st.sets(st.integers(0, N_TAGS - 1))),
        "events": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(EVENT_TYPES),
                        "at": moments,
                        "product": st.none() | st.integers(0, N_PRODUCTS - 1),
                        "session": st.none() | st.integers(0, N_SESSIONS - 1),
                        "properties": st.dictionaries(
                            st.sampled_from(["category", "n"]),
                            st.sampled_from(PROPERTY_VALUES),
                            max_size=2,
                        ),
                    }
                ),
                max_size=5,
            )
        ),
        "orders": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "status": st.sampled_from(ORDER_STATUSES),
                        "paid_fen": st.sampled_from([0, 100, 5000, 30000]),
                        "refund_part": st.sampled_from([0, 0, 2]),
                        "paid_at": moments,
                        "session": st.none() | st.integers(0, N_SESSIONS - 1),
                        "products": st.lists(st.integers(0, N_PRODUCTS - 1), max_size=2),
                    }
                ),
                max_size=3,
            )
        ),
        "viewers": draw(
            st.dictionaries(
                st.integers(0, N_SESSIONS - 1),
                st.fixed_dictionaries(
                    {
                        "watch_seconds": st.sampled_from([0, 300, 600, 3600]),
                        "comments": st.sampled_from([0, 2]),
                        "at": moments,
                    }
                ),
                max_size=N_SESSIONS,
            )
        ),
        "communities": draw(
            st.lists(st.tuples(st.integers(0, N_COMMUNITIES - 1), st.booleans()), max_size=2)
        ),
        "rfm": draw(
            st.none()
            | st.fixed_dictionaries(
                {
                    "segment": st.sampled_from(RFM_SEGMENTS),
                    "r_score": st.integers(0, 5),
                    "f_score": st.integers(0, 5),
                    "m_score": st.integers(0, 5),
                }
            )
        ),
        "stage": draw(st.none() | st.sampled_from(STAGES)),
        "points": draw(
            st.none()
            | st.tuples(st.sampled_from([0, 50, 500]), st.none() | st.integers(0, N_TIERS - 1))
        ),
    }


# ---- filters -----------------------------------------------------------------------------------

days = st.sampled_from([0, 1, 7, 14, 30])


def _window_ok(window: dict[str, Any]) -> bool:
    """Windows the language accepts (an empty one, or from after to, is refused)."""
    try:
        f.Window.model_validate(window)
    except ValueError:
        return False
    return True


instants = st.sampled_from(
    [
        "2026-11-01",
        "2026-11-19",
        "2026-11-20",
        "2026-11-20T04:30:00Z",
        "2026-11-10T00:00:00+08:00",
        "2026-11-19T00:00:00Z",
    ]
)
dates = st.sampled_from(["2026-11-01", "2026-11-19", "2026-11-20", "2026-10-25"])
windows = (
    st.none()
    | st.builds(lambda n: {"last_days": n}, st.sampled_from([1, 7, 14, 30]))
    | (st.fixed_dictionaries({}, optional={"from": instants, "to": instants}).filter(_window_ok))
)
counts = st.fixed_dictionaries(
    {"op": st.sampled_from(["at_least", "at_most", "exactly"]), "value": st.integers(0, 3)}
)


@st.composite
def profile_leaves(draw: Any) -> dict[str, Any]:
    name = draw(st.sampled_from(f.PROFILE_FIELDS))
    if name in f.STRING_FIELDS:
        op = draw(st.sampled_from(f.STRING_OPS))
        leaf: dict[str, Any] = {"kind": "profile", "field": name, "op": op}
        texts = [t for t in TEXTS if t] + ["海", "SHANG", "%", "_"]
        if op in ("in", "not_in"):
            leaf["value"] = draw(st.lists(st.sampled_from(texts), min_size=1, max_size=3))
        elif op not in ("empty", "not_empty"):
            leaf["value"] = draw(st.sampled_from(texts))
        return leaf
    op = draw(st.sampled_from(f.DATE_OPS))
    leaf = {"kind": "profile", "field": name, "op": op}
    values = dates if name in f.DATE_FIELDS else instants
    if op in ("within_last_days", "before_days_ago"):
        leaf["value"] = draw(days)
    elif op == "range":
        low, high = sorted(draw(st.lists(values, min_size=2, max_size=2)), key=_instant_key)
        leaf["min"], leaf["max"] = low, high
    elif op not in ("empty", "not_empty"):
        leaf["value"] = draw(values)
    return leaf


def _instant_key(text: str) -> dt.datetime:
    parsed = f._parse_instant(text)
    if isinstance(parsed, dt.datetime):
        return parsed.astimezone(dt.UTC)
    return dt.datetime.combine(parsed, dt.time(0), tzinfo=ZONE).astimezone(dt.UTC)


def _optional(**strategies: Any) -> Any:
    return st.fixed_dictionaries({}, optional=strategies)


@st.composite
def leaves(draw: Any) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "profile",
                "tags",
                "event",
                "purchase",
                "live",
                "community",
                "rfm",
                "lifecycle",
                "tier",
            ]
        )
    )
    if kind == "profile":
        return draw(profile_leaves())
    if kind == "tags":
        return {
            "kind": "tags",
            "op": draw(st.sampled_from(["has_any", "has_all", "has_none"])),
            "tag_ids": draw(st.lists(st.integers(0, N_TAGS - 1), min_size=1, max_size=3)),
        }
    if kind == "event":
        leaf = {"kind": "event", "type": draw(st.sampled_from(EVENT_TYPES))}
        leaf |= draw(
            _optional(
                properties=st.dictionaries(
                    st.sampled_from(["category", "n"]), st.sampled_from(PROPERTY_VALUES), max_size=2
                ),
                product_id=st.integers(0, N_PRODUCTS - 1),
                category_id=st.integers(0, N_CATEGORIES - 1),
                live_session_id=st.integers(0, N_SESSIONS - 1),
                count=counts,
                window=windows.filter(bool),
            )
        )
        return leaf
    if kind == "purchase":
        leaf = {"kind": "purchase"}
        leaf |= draw(
            _optional(
                product_id=st.integers(0, N_PRODUCTS - 1),
                category_id=st.integers(0, N_CATEGORIES - 1),
                live_session_id=st.integers(0, N_SESSIONS - 1),
                window=windows.filter(bool),
            )
        )
        measure = draw(
            st.sampled_from(["count", "spend_fen", "avg_order_fen", "last_purchase", None])
        )
        if measure == "count":
            leaf["count"] = draw(counts)
        elif measure in ("spend_fen", "avg_order_fen"):
            op = draw(st.sampled_from(["gte", "lte", "eq", "range"]))
            amounts = st.sampled_from([0, 100, 5000, 15000, 30000, 35000])
            if op == "range":
                low, high = sorted(draw(st.lists(amounts, min_size=2, max_size=2)))
                leaf[measure] = {"op": op, "min": low, "max": high}
            else:
                leaf[measure] = {"op": op, "value": draw(amounts)}
        elif measure == "last_purchase":
            op = draw(
                st.sampled_from(["within_last_days", "before_days_ago", "gte", "lte", "range"])
            )
            if op in ("within_last_days", "before_days_ago"):
                leaf[measure] = {"op": op, "value": draw(days)}
            elif op == "range":
                low, high = sorted(
                    draw(st.lists(instants, min_size=2, max_size=2)), key=_instant_key
                )
                leaf[measure] = {"op": op, "min": low, "max": high}
            else:
                leaf[measure] = {"op": op, "value": draw(instants)}
        return leaf
    if kind == "live":
        action = draw(st.sampled_from(["watched", "commented", "bought"]))
        leaf = {"kind": "live", "action": action}
        optional: dict[str, Any] = {
            "live_session_id": st.integers(0, N_SESSIONS - 1),
            "window": windows.filter(bool),
            "count": counts,
        }
        if action == "watched":
            optional["min_watch_seconds"] = st.sampled_from([0, 600, 1000])
        leaf |= draw(_optional(**optional))
        return leaf
    if kind == "community":
        return {
            "kind": "community",
            "community_ids": draw(st.lists(st.integers(0, N_COMMUNITIES - 1), max_size=2)),
            "when": draw(st.sampled_from(["now", "ever"])),
        }
    if kind == "rfm":
        ranges = st.fixed_dictionaries(
            {}, optional={"gte": st.integers(0, 5), "lte": st.integers(0, 5)}
        )
        ranges = ranges.filter(lambda r: r and r.get("gte", 0) <= r.get("lte", 5))
        leaf = {"kind": "rfm"}
        leaf |= draw(
            _optional(
                segments=st.lists(st.sampled_from(RFM_SEGMENTS), min_size=1, max_size=2),
                r_score=ranges,
                f_score=ranges,
                m_score=ranges,
            ).filter(bool)
        )
        return leaf
    if kind == "lifecycle":
        return {
            "kind": "lifecycle",
            "stages": draw(st.lists(st.sampled_from(STAGES), min_size=1, max_size=2)),
        }
    ranges = st.fixed_dictionaries(
        {},
        optional={
            "gte": st.sampled_from([0, 1, 50, 100]),
            "lte": st.sampled_from([0, 50, 499, 1000]),
        },
    )
    ranges = ranges.filter(lambda r: r and r.get("gte", 0) <= r.get("lte", 10**6))
    leaf = {"kind": "tier"}
    leaf |= draw(
        _optional(
            tier_ids=st.lists(st.integers(0, N_TIERS - 1), min_size=1, max_size=2),
            min_level=st.integers(0, 4),
            points=ranges,
        ).filter(bool)
    )
    return leaf


def segment_leaves() -> Any:
    return st.builds(lambda n: {"kind": "segment", "segment_id": n}, st.sampled_from([0, 1]))


def trees(with_segments: bool) -> Any:
    base = leaves() | segment_leaves() if with_segments else leaves()
    return st.recursive(
        base,
        lambda children: (
            st.builds(lambda xs: {"all": xs}, st.lists(children, max_size=3))
            | st.builds(lambda xs: {"any": xs}, st.lists(children, max_size=3))
            | st.builds(lambda x: {"not": x}, children)
        ),
        max_leaves=6,
    )


# ---- the stored world --------------------------------------------------------------------------


@dataclass
class Scaffold:
    tags: list[int] = field(default_factory=list)
    products: list[int] = field(default_factory=list)
    product_category: dict[int, int] = field(default_factory=dict)  # product id -> category id
    categories: list[int] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)
    communities: list[int] = field(default_factory=list)
    tiers: list[int] = field(default_factory=list)  # id by index; level = index + 1
    segments: list[int] = field(default_factory=list)

    def resolve(self, node: Any) -> Any:
        """Replace the indices a generated filter uses by the stored ids."""
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            pool = {
                "tag_ids": self.tags,
                "product_id": self.products,
                "category_id": self.categories,
                "live_session_id": self.sessions,
                "community_ids": self.communities,
                "tier_ids": self.tiers,
                "segment_id": self.segments,
            }.get(key)
            if pool is not None:
                out[key] = [pool[i] for i in value] if isinstance(value, list) else pool[value]
            else:
                out[key] = self.resolve(value)
        return out


async def build_scaffold(session: AsyncSession, shop_id: int) -> Scaffold:
    scaffold = Scaffold()
    for n in range(N_TAGS):
        tag = Tag(shop_id=shop_id, name=f"t{n}")
        session.add(tag)
        await session.flush()
        scaffold.tags.append(tag.id)
    for n in range(N_CATEGORIES):
        category = await factories.make_category(session, shop_id=shop_id, name=f"cat{n}")
        scaffold.categories.append(category.id)
    for n in range(N_PRODUCTS):
        category_id = scaffold.categories[n % N_CATEGORIES]
        product = await factories.make_product(
            session, shop_id=shop_id, name=f"p{n}", category_id=category_id
        )
        scaffold.products.append(product.id)
        scaffold.product_category[product.id] = category_id
    for n in range(N_SESSIONS):
        live = LiveSession(
            shop_id=shop_id, code=f"seg{next(_codes)}x{n}", title=f"s{n}", planned_start=NOW
        )
        session.add(live)
        await session.flush()
        scaffold.sessions.append(live.id)
    for n in range(N_COMMUNITIES):
        community = Community(shop_id=shop_id, name=f"c{n}")
        session.add(community)
        await session.flush()
        scaffold.communities.append(community.id)
    for n in range(N_TIERS):
        tier = MemberTier(shop_id=shop_id, name=f"tier{n}", level=n + 1)
        session.add(tier)
        await session.flush()
        scaffold.tiers.append(tier.id)
    return scaffold


async def store(
    session: AsyncSession, shop_id: int, scaffold: Scaffold, people: list[dict[str, Any]]
) -> list[int]:
    """Insert the customers and everything about them; returns their ids."""
    ids = []
    for number, person in enumerate(people):
        customer = Customer(
            shop_id=shop_id,
            **{
                key: person[key]
                for key in (
                    "status",
                    "display_name",
                    "gender",
                    "city",
                    "province",
                    "source_channel",
                    "birthday",
                    "first_seen_at",
                    "last_active_at",
                    "created_at",
                )
            },
        )
        session.add(customer)
        await session.flush()
        ids.append(customer.id)
        person["id"] = customer.id
        for tag in sorted(person["tags"]):
            session.add(
                CustomerTag(shop_id=shop_id, customer_id=customer.id, tag_id=scaffold.tags[tag])
            )
        for event in person["events"]:
            session.add(
                Event(
                    shop_id=shop_id,
                    type=event["type"],
                    customer_id=customer.id,
                    product_id=None
                    if event["product"] is None
                    else scaffold.products[event["product"]],
                    live_session_id=None
                    if event["session"] is None
                    else scaffold.sessions[event["session"]],
                    properties=event["properties"],
                    occurred_at=event["at"],
                )
            )
        for index, order in enumerate(person["orders"]):
            refunded = order["paid_fen"] // order["refund_part"] if order["refund_part"] else 0
            row = Order(
                shop_id=shop_id,
                number=f"T{customer.id}-{index}-{next(_codes)}",
                customer_id=customer.id,
                status=order["status"],
                items_total_fen=order["paid_fen"],
                total_fen=order["paid_fen"],
                paid_fen=order["paid_fen"],
                refunded_fen=refunded,
                paid_at=order["paid_at"],
                live_session_id=None
                if order["session"] is None
                else scaffold.sessions[order["session"]],
            )
            row.lines = [
                OrderLine(
                    shop_id=shop_id,
                    product_id=scaffold.products[p],
                    category_id=scaffold.product_category[scaffold.products[p]],
                    product_name=f"p{p}",
                    unit_price_fen=100,
                    quantity=1,
                    line_total_fen=100,
                )
                for p in order["products"]
            ]
            session.add(row)
        for session_index, viewer in sorted(person["viewers"].items()):
            session.add(
                LiveViewer(
                    shop_id=shop_id,
                    live_session_id=scaffold.sessions[session_index],
                    viewer_key=f"c:{customer.id}",
                    customer_id=customer.id,
                    watch_seconds=viewer["watch_seconds"],
                    comments=viewer["comments"],
                    first_entered_at=viewer["at"],
                )
            )
        for community, left in person["communities"]:
            session.add(
                CommunityMember(
                    shop_id=shop_id,
                    community_id=scaffold.communities[community],
                    customer_id=customer.id,
                    joined_at=NOW - dt.timedelta(days=3),
                    left_at=NOW - dt.timedelta(days=1) if left else None,
                )
            )
        if person["rfm"] is not None:
            session.add(CustomerRfm(shop_id=shop_id, customer_id=customer.id, **person["rfm"]))
        if person["stage"] is not None:
            session.add(
                CustomerLifecycle(shop_id=shop_id, customer_id=customer.id, stage=person["stage"])
            )
        if person["points"] is not None:
            balance, tier = person["points"]
            session.add(
                CustomerPoints(
                    shop_id=shop_id,
                    customer_id=customer.id,
                    balance=balance,
                    tier_id=None if tier is None else scaffold.tiers[tier],
                )
            )
        del number
    await session.flush()
    return ids


async def store_segments(
    session: AsyncSession,
    shop_id: int,
    scaffold: Scaffold,
    dynamic_filter: dict[str, Any],
    static_members: list[int],
) -> None:
    """Segment 0: dynamic with a filter; segment 1: static with a frozen member list."""
    dynamic = Segment(shop_id=shop_id, name="dyn", filter=dynamic_filter, kind="dynamic")
    static = Segment(shop_id=shop_id, name="static", filter={"all": []}, kind="static")
    session.add_all([dynamic, static])
    await session.flush()
    scaffold.segments = [dynamic.id, static.id]
    for customer_id in static_members:
        session.add(SegmentMember(shop_id=shop_id, segment_id=static.id, customer_id=customer_id))
    await session.flush()


# ---- the reference -----------------------------------------------------------------------------


def _start(value: str) -> dt.datetime:
    return _instant_key(value)


def _end(value: str) -> tuple[dt.datetime, bool]:
    parsed = f._parse_instant(value)
    if isinstance(parsed, dt.datetime):
        return parsed.astimezone(dt.UTC), True
    return _instant_key((parsed + dt.timedelta(days=1)).isoformat()), False


def _in_window(at: dt.datetime | None, window: dict[str, Any] | None) -> bool:
    if window is None:
        return True
    if at is None:
        return False
    if "last_days" in window:
        return at >= NOW - dt.timedelta(days=window["last_days"])
    if "from" in window and at < _start(window["from"]):
        return False
    return not ("to" in window and at >= _start(window["to"]))


def _count_ok(count: dict[str, Any] | None, n: int) -> bool:
    count = count or {"op": "at_least", "value": 1}
    op, value = count.get("op", "at_least"), count.get("value", 1)
    return n >= value if op == "at_least" else n <= value if op == "at_most" else n == value


def _amount_ok(amount: dict[str, Any], value: float) -> bool:
    op = amount["op"]
    if op == "gte":
        return value >= amount["value"]
    if op == "lte":
        return value <= amount["value"]
    if op == "eq":
        return value == amount["value"]
    return amount["min"] <= value <= amount["max"]


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


def _range_ok(bounds: dict[str, int] | None, value: int) -> bool:
    if bounds is None:
        return True
    return bounds.get("gte", -(10**18)) <= value <= bounds.get("lte", 10**18)


class Reference:
    def __init__(
        self,
        scaffold: Scaffold,
        people: list[dict[str, Any]],
        segments: dict[int, Any] | None = None,
    ) -> None:
        self.s = scaffold
        self.people = people
        self.segments = segments or {}  # segment id -> ("dynamic", filter) / ("static", ids)

    def select(self, node: dict[str, Any]) -> set[int]:
        return {p["id"] for p in self.people if p["status"] == "active" and self.match(node, p)}

    def match(self, node: dict[str, Any], p: dict[str, Any]) -> bool:
        if "all" in node:
            return all(self.match(child, p) for child in node["all"])
        if "any" in node:
            return any(self.match(child, p) for child in node["any"])
        if "not" in node:
            return not self.match(node["not"], p)
        kind = node["kind"]
        if kind == "profile":
            return self.profile(node, p)
        if kind == "tags":
            have = {self.s.tags[t] for t in p["tags"]}
            wanted = set(node["tag_ids"])
            if node["op"] == "has_any":
                return bool(have & wanted)
            if node["op"] == "has_all":
                return wanted <= have
            return not have & wanted
        if kind == "event":
            n = 0
            for event in p["events"]:
                product = None if event["product"] is None else self.s.products[event["product"]]
                live = None if event["session"] is None else self.s.sessions[event["session"]]
                if event["type"] != node["type"] or not _in_window(event["at"], node.get("window")):
                    continue
                if "product_id" in node and product != node["product_id"]:
                    continue
                if "category_id" in node and (
                    product is None or self.s.product_category[product] != node["category_id"]
                ):
                    continue
                if "live_session_id" in node and live != node["live_session_id"]:
                    continue
                props = node.get("properties") or {}
                if any(
                    key not in event["properties"]
                    or type(event["properties"][key]) is not type(value)
                    or event["properties"][key] != value
                    for key, value in props.items()
                ):
                    continue
                n += 1
            return _count_ok(node.get("count"), n)
        if kind == "purchase":
            orders = self.paid_orders(p, node, node.get("live_session_id"), in_live=False)
            nets = [
                o["paid_fen"] - (o["paid_fen"] // o["refund_part"] if o["refund_part"] else 0)
                for o in orders
            ]
            if "spend_fen" in node:
                return _amount_ok(node["spend_fen"], sum(nets))
            if "avg_order_fen" in node:
                return bool(nets) and _amount_ok(node["avg_order_fen"], sum(nets) / len(nets))
            if "last_purchase" in node:
                if not orders:
                    return False
                latest = max(o["paid_at"] for o in orders)
                last = node["last_purchase"]
                op = last["op"]
                if op == "within_last_days":
                    return latest >= NOW - dt.timedelta(days=last["value"])
                if op == "before_days_ago":
                    return latest < NOW - dt.timedelta(days=last["value"])
                if op in ("gte", "range") and latest < _start(
                    last["value" if op == "gte" else "min"]
                ):
                    return False
                if op in ("lte", "range"):
                    high, inclusive = _end(last["value" if op == "lte" else "max"])
                    return latest <= high if inclusive else latest < high
                return True
            return _count_ok(node.get("count"), len(orders))
        if kind == "live":
            action = node.get("action", "watched")
            if action == "bought":
                orders = self.paid_orders(
                    p, {"window": node.get("window")}, node.get("live_session_id"), in_live=True
                )
                sessions = {self.s.sessions[o["session"]] for o in orders}
                return _count_ok(node.get("count"), len(sessions))
            sessions = set()
            for index, viewer in p["viewers"].items():
                live = self.s.sessions[index]
                if "live_session_id" in node and live != node["live_session_id"]:
                    continue
                if not _in_window(viewer["at"], node.get("window")):
                    continue
                if viewer["watch_seconds"] < node.get("min_watch_seconds", 0):
                    continue
                if action == "commented" and viewer["comments"] <= 0:
                    continue
                sessions.add(live)
            return _count_ok(node.get("count"), len(sessions))
        if kind == "community":
            wanted = set(node.get("community_ids") or [])
            return any(
                (not wanted or self.s.communities[c] in wanted)
                and (node.get("when", "now") == "ever" or not left)
                for c, left in p["communities"]
            )
        if kind == "rfm":
            rfm = p["rfm"]
            if rfm is None:
                return False
            if node.get("segments") and rfm["segment"] not in node["segments"]:
                return False
            return all(
                _range_ok(node.get(name), rfm[name]) for name in ("r_score", "f_score", "m_score")
            )
        if kind == "lifecycle":
            return p["stage"] in node["stages"]
        if kind == "tier":
            balance, tier = p["points"] if p["points"] is not None else (0, None)
            if "tier_ids" in node or "min_level" in node:
                if tier is None:
                    return False
                if "tier_ids" in node and self.s.tiers[tier] not in node["tier_ids"]:
                    return False
                if "min_level" in node and tier + 1 < node["min_level"]:
                    return False
            return _range_ok(node.get("points"), balance)
        if kind == "segment":
            segment_kind, payload = self.segments[node["segment_id"]]
            if segment_kind == "static":
                return p["id"] in payload
            return self.match(payload, p)
        raise AssertionError(kind)

    def paid_orders(
        self, p: dict[str, Any], node: dict[str, Any], live_session_id: int | None, *, in_live: bool
    ) -> list[dict[str, Any]]:
        found = []
        for order in p["orders"]:
            if order["status"] not in PAID or not _in_window(order["paid_at"], node.get("window")):
                continue
            live = None if order["session"] is None else self.s.sessions[order["session"]]
            if live_session_id is not None and live != live_session_id:
                continue
            if in_live and live is None:
                continue
            products = [self.s.products[i] for i in order["products"]]
            if node.get("product_id") is not None and node["product_id"] not in products:
                continue
            if node.get("category_id") is not None and node["category_id"] not in {
                self.s.product_category[x] for x in products
            }:
                continue
            found.append(order)
        return found

    def profile(self, node: dict[str, Any], p: dict[str, Any]) -> bool:
        name, op = node["field"], node["op"]
        value = p[name]
        if name in f.STRING_FIELDS:
            if op == "eq":
                return value == node["value"]
            if op == "neq":
                return value != node["value"]
            if op == "in":
                return value in node["value"]
            if op == "not_in":
                return value not in node["value"]
            if op == "contains":
                return value is not None and _ascii_lower(node["value"]) in _ascii_lower(value)
            if op == "empty":
                return not value
            return bool(value)
        if op == "empty":
            return value is None
        if op == "not_empty":
            return value is not None
        if name in f.DATE_FIELDS:
            today = NOW.astimezone(ZONE).date()
            if op == "within_last_days":
                return value is not None and value >= today - dt.timedelta(days=node["value"])
            if op == "before_days_ago":
                return value is not None and value < today - dt.timedelta(days=node["value"])
            if op == "eq":
                return value == dt.date.fromisoformat(node["value"])
            if op == "neq":
                return value != dt.date.fromisoformat(node["value"])
            if value is None:
                return False
            low = node.get("value" if op == "gte" else "min")
            high = node.get("value" if op == "lte" else "max")
            if op in ("gte", "range") and value < dt.date.fromisoformat(low):
                return False
            return not (op in ("lte", "range") and value > dt.date.fromisoformat(high))
        if op == "within_last_days":
            return value is not None and value >= NOW - dt.timedelta(days=node["value"])
        if op == "before_days_ago":
            return value is not None and value < NOW - dt.timedelta(days=node["value"])
        if op in ("eq", "neq"):
            parsed = f._parse_instant(node["value"])
            if value is None:
                hit = False
            elif isinstance(parsed, dt.datetime):
                hit = value == parsed
            else:
                high, _ = _end(node["value"])
                hit = _start(node["value"]) <= value < high
            return hit if op == "eq" else not hit
        if value is None:
            return False
        if op in ("gte", "range") and value < _start(node["value" if op == "gte" else "min"]):
            return False
        if op in ("lte", "range"):
            high, inclusive = _end(node["value" if op == "lte" else "max"])
            return value <= high if inclusive else value < high
        return True
