"""Compile a segment filter into ONE SQL statement selecting the matching customers' ids.

Every condition becomes a two-valued predicate on the outer ``customers`` row (never NULL, so
``not`` means exactly "does not match"): a comparison guarded against NULL, or
``customers.id [NOT] IN (SELECT customer_id ...)`` over a sub-select whose ids are never NULL.
Counted conditions use one grouped sub-select (``GROUP BY customer_id HAVING ...``); when a
customer with no rows at all satisfies the comparison (e.g. "at most 2 times"), the predicate is
turned around: ``NOT IN (customers whose count breaks it)``. Values are bound parameters only;
JSON property access is bound too (``json_extract(col, ?)`` on SQLite, ``col -> ?`` on
PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    and_,
    bindparam,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from liveloop.catalog.models import Product
from liveloop.commerce.models import Order, OrderLine
from liveloop.commerce.states import PAID_STATUSES
from liveloop.core.errors import InvalidInput
from liveloop.customers.communities.models import CommunityMember
from liveloop.customers.models import STATUS_ACTIVE, Customer, CustomerTag
from liveloop.customers.points.models import CustomerPoints, MemberTier
from liveloop.customers.rfm.models import CustomerLifecycle, CustomerRfm
from liveloop.customers.segments import filters as f
from liveloop.events.models import Event
from liveloop.live.models import LiveViewer

PAID = sorted(str(status) for status in PAID_STATUSES)


class LoadedSegment(Protocol):
    """What a segment loader returns: a saved segment's kind and filter (a Segment row fits)."""

    id: int
    kind: str
    filter: Any  # dict (JSON) or SegmentFilter


SegmentLoader = Callable[[int], LoadedSegment | None]


class json_property_equals(FunctionElement[bool]):
    """``properties[key] == value`` with the JSON type respected, on SQLite and PostgreSQL."""

    type = Boolean()
    name = "json_property_equals"
    inherit_cache = True


def property_equals(column: Any, key: str, value: str | int | bool) -> ColumnElement[bool]:
    json_type = (
        ("true" if value else "false")
        if isinstance(value, bool)
        else ("integer" if isinstance(value, int) else "text")
    )
    return json_property_equals(
        column,
        bindparam(None, key),
        bindparam(None, f"$.{key}"),  # key matches [A-Za-z_][A-Za-z0-9_]*: a plain path
        bindparam(None, value),
        bindparam(None, json.dumps(value, ensure_ascii=False)),
        bindparam(None, json_type),
    )


@compiles(json_property_equals, "postgresql")
def _json_equals_pg(element: json_property_equals, compiler: Any, **kw: Any) -> str:
    clauses = list(element.clauses)
    column, key, value_json = (compiler.process(clauses[i], **kw) for i in (0, 1, 4))
    return f"(({column} -> CAST({key} AS TEXT)) = CAST(CAST({value_json} AS TEXT) AS JSONB))"


@compiles(json_property_equals, "sqlite")
def _json_equals_sqlite(element: json_property_equals, compiler: Any, **kw: Any) -> str:
    clauses = list(element.clauses)
    column, path, value, json_type = (compiler.process(clauses[i], **kw) for i in (0, 2, 3, 5))
    return (
        f"(json_type({column}, {path}) = {json_type} AND json_extract({column}, {path}) = {value})"
    )


@compiles(json_property_equals)
def _json_equals_other(element: json_property_equals, compiler: Any, **kw: Any) -> str:
    raise NotImplementedError("JSON property filters support SQLite and PostgreSQL only")


def compile_filter(
    filter: f.SegmentFilter,
    *,
    shop_id: int,
    now: dt.datetime,
    segment_loader: SegmentLoader | None = None,
    timezone: str = "Asia/Shanghai",
    segment_path: tuple[int, ...] = (),
) -> Select[Any]:
    """SELECT customers.id of the shop's active customers that match the filter (one statement).

    Use it as a sub-select (``Customer.id.in_(compile_filter(...))``) or add your own
    ``.where(...)``/``.order_by(...)``. ``now`` anchors relative windows ("last 30 days");
    ``timezone`` turns plain dates into whole days. ``segment_loader(id)`` returns a saved
    segment (kind + filter) for ``segment`` conditions, or None when there is no such segment.
    Raises InvalidInput (422) naming the node for an unknown or cyclic segment reference;
    ``segment_path`` holds the ids of the saved segments whose filter this is (a reference back
    to one of them is a cycle).
    """
    predicate = compile_predicate(
        filter,
        shop_id=shop_id,
        now=now,
        segment_loader=segment_loader,
        timezone=timezone,
        segment_path=segment_path,
    )
    return select(Customer.id).where(
        Customer.shop_id == shop_id, Customer.status == STATUS_ACTIVE, predicate
    )


def compile_predicate(
    filter: f.SegmentFilter,
    *,
    shop_id: int,
    now: dt.datetime,
    segment_loader: SegmentLoader | None = None,
    timezone: str = "Asia/Shanghai",
    segment_path: tuple[int, ...] = (),
) -> ColumnElement[bool]:
    """The filter as a boolean on the ``customers`` row (for callers that select more columns)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    compiler = _Compiler(
        shop_id=shop_id,
        now=now.astimezone(dt.UTC),
        zone=ZoneInfo(timezone),
        loader=segment_loader,
        segment_path=segment_path,
    )
    return compiler.node(filter.root, "filter")


class _Compiler:
    def __init__(
        self,
        *,
        shop_id: int,
        now: dt.datetime,
        zone: ZoneInfo,
        loader: SegmentLoader | None,
        segment_path: tuple[int, ...],
    ) -> None:
        self.shop_id = shop_id
        self.now = now
        self.zone = zone
        self.loader = loader
        self.segment_path = segment_path

    # ---- groups -------------------------------------------------------------------------------

    def node(self, node: Any, path: str) -> ColumnElement[bool]:
        if isinstance(node, f.AllGroup):
            parts = [self.node(child, f"{path}.all[{i}]") for i, child in enumerate(node.all)]
            return and_(true(), *parts) if parts else true()
        if isinstance(node, f.AnyGroup):
            parts = [self.node(child, f"{path}.any[{i}]") for i, child in enumerate(node.any)]
            return or_(false(), *parts) if parts else false()
        if isinstance(node, f.NotGroup):
            return not_(self.node(node.not_, f"{path}.not"))
        method = getattr(self, f"_{node.kind}")
        result: ColumnElement[bool] = method(node, path)
        return result

    # ---- time ---------------------------------------------------------------------------------

    def day_start(self, day: dt.date) -> dt.datetime:
        """00:00 of a day in the shop's time zone, in UTC."""
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.zone).astimezone(dt.UTC)

    def today(self) -> dt.date:
        return self.now.astimezone(self.zone).date()

    def lower(self, value: dt.date | dt.datetime) -> dt.datetime:
        return value.astimezone(dt.UTC) if isinstance(value, dt.datetime) else self.day_start(value)

    def upper(self, value: dt.date | dt.datetime) -> tuple[dt.datetime, bool]:
        """(bound, inclusive): a date includes its whole day, a datetime is the instant itself."""
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC), True
        return self.day_start(value + dt.timedelta(days=1)), False

    def window(self, column: Any, window: f.Window | None) -> list[ColumnElement[bool]]:
        if window is None:
            return []
        if window.last_days is not None:
            return [column >= self.now - dt.timedelta(days=window.last_days)]
        conditions = []
        if window.from_ is not None:
            conditions.append(column >= self.lower(window.from_))
        if window.to is not None:
            # "to" is exclusive: a date means "before that day", a datetime "before that instant"
            conditions.append(column < self.lower(window.to))
        return conditions

    # ---- counting helpers ---------------------------------------------------------------------

    def counted(
        self, base: Select[Any], customer_column: Any, count: f.Count, *, distinct: Any = None
    ) -> ColumnElement[bool]:
        """Customers with the given number of rows in ``base`` (0 rows: not in base at all)."""
        tally = func.count(distinct.distinct()) if distinct is not None else func.count()
        grouped = base.group_by(customer_column)
        n = count.value
        if count.op == "at_least":
            if n == 0:
                return true()
            if n == 1:
                return Customer.id.in_(base)
            return Customer.id.in_(grouped.having(tally >= n))
        if count.op == "at_most":
            if n == 0:
                return Customer.id.not_in(base)
            return Customer.id.not_in(grouped.having(tally > n))
        if n == 0:
            return Customer.id.not_in(base)
        return Customer.id.in_(grouped.having(tally == n))

    def aggregated(
        self,
        base: Select[Any],
        customer_column: Any,
        holds: ColumnElement[bool],
        *,
        zero_holds: bool,
    ) -> ColumnElement[bool]:
        """Customers whose aggregate satisfies ``holds``; those without rows count as zero."""
        grouped = base.group_by(customer_column)
        if zero_holds:
            return Customer.id.not_in(grouped.having(not_(holds)))
        return Customer.id.in_(grouped.having(holds))

    # ---- conditions ---------------------------------------------------------------------------

    def _profile(self, node: f.ProfileCondition, path: str) -> ColumnElement[bool]:
        column = getattr(Customer, node.field)
        op = node.op
        present = column.is_not(None)
        if node.field in f.STRING_FIELDS:
            if op == "eq":
                return and_(present, column == node.value)
            if op == "neq":
                return or_(column.is_(None), column != node.value)
            if op == "in":
                return and_(present, column.in_(node.value))
            if op == "not_in":
                return or_(column.is_(None), column.not_in(node.value))
            if op == "contains":
                needle = ascii_lower(node.value)
                return and_(present, func.lower(column).contains(needle, autoescape=True))
            if op == "empty":
                return or_(column.is_(None), column == "")
            return and_(present, column != "")
        if op == "empty":
            return column.is_(None)
        if op == "not_empty":
            return present
        is_date = node.field in f.DATE_FIELDS
        if op in ("within_last_days", "before_days_ago"):
            if is_date:
                bound: Any = self.today() - dt.timedelta(days=node.value)
            else:
                bound = self.now - dt.timedelta(days=node.value)
            if op == "within_last_days":
                return and_(present, column >= bound)
            return and_(present, column < bound)
        if is_date:
            if op == "eq":
                return and_(present, column == node.value)
            if op == "neq":
                return or_(column.is_(None), column != node.value)
            conditions = []
            if op in ("gte", "range"):
                conditions.append(column >= (node.value if op == "gte" else node.min))
            if op in ("lte", "range"):
                conditions.append(column <= (node.value if op == "lte" else node.max))
            return and_(present, *conditions)
        if op in ("eq", "neq"):
            if isinstance(node.value, dt.datetime):
                match = column == node.value.astimezone(dt.UTC)
            else:
                high, _ = self.upper(node.value)
                match = and_(column >= self.lower(node.value), column < high)
            return and_(present, match) if op == "eq" else or_(column.is_(None), not_(match))
        conditions = []
        if op in ("gte", "range"):
            conditions.append(column >= self.lower(node.value if op == "gte" else node.min))
        if op in ("lte", "range"):
            high, inclusive = self.upper(node.value if op == "lte" else node.max)
            conditions.append(column <= high if inclusive else column < high)
        return and_(present, *conditions)

    def _tags(self, node: f.TagsCondition, path: str) -> ColumnElement[bool]:
        ids = sorted(set(node.tag_ids))
        base = select(CustomerTag.customer_id).where(
            CustomerTag.shop_id == self.shop_id, CustomerTag.tag_id.in_(ids)
        )
        if node.op == "has_any":
            return Customer.id.in_(base)
        if node.op == "has_none":
            return Customer.id.not_in(base)
        return Customer.id.in_(
            base.group_by(CustomerTag.customer_id).having(
                func.count(CustomerTag.tag_id.distinct()) == len(ids)
            )
        )

    def _event(self, node: f.EventCondition, path: str) -> ColumnElement[bool]:
        base = select(Event.customer_id).where(
            Event.shop_id == self.shop_id,
            Event.type == node.type,
            Event.customer_id.is_not(None),
            *self.window(Event.occurred_at, node.window),
        )
        if node.product_id is not None:
            base = base.where(Event.product_id == node.product_id)
        if node.category_id is not None:
            base = base.where(
                Event.product_id.in_(
                    select(Product.id).where(
                        Product.shop_id == self.shop_id, Product.category_id == node.category_id
                    )
                )
            )
        if node.live_session_id is not None:
            base = base.where(Event.live_session_id == node.live_session_id)
        for key, value in (node.properties.root if node.properties else {}).items():
            base = base.where(property_equals(Event.properties, key, value))
        return self.counted(base, Event.customer_id, node.count)

    def _paid_orders(
        self,
        *,
        product_id: int | None,
        category_id: int | None,
        live_session_id: int | None,
        window: f.Window | None,
        in_live: bool = False,
    ) -> Select[Any]:
        base = select(Order.customer_id).where(
            Order.shop_id == self.shop_id,
            Order.status.in_(PAID),
            Order.customer_id.is_not(None),
            *self.window(Order.paid_at, window),
        )
        if product_id is not None or category_id is not None:
            lines = select(OrderLine.order_id).where(OrderLine.shop_id == self.shop_id)
            if product_id is not None:
                lines = lines.where(OrderLine.product_id == product_id)
            if category_id is not None:
                lines = lines.where(OrderLine.category_id == category_id)
            base = base.where(Order.id.in_(lines))
        if live_session_id is not None:
            base = base.where(Order.live_session_id == live_session_id)
        elif in_live:
            base = base.where(Order.live_session_id.is_not(None))
        return base

    def _purchase(self, node: f.PurchaseCondition, path: str) -> ColumnElement[bool]:
        base = self._paid_orders(
            product_id=node.product_id,
            category_id=node.category_id,
            live_session_id=node.live_session_id,
            window=node.window,
        )
        net = Order.paid_fen - Order.refunded_fen
        measure = node.measure
        if measure == "count":
            return self.counted(base, Order.customer_id, node.count or f.Count())
        if measure in ("spend_fen", "avg_order_fen"):
            amount = node.spend_fen if measure == "spend_fen" else node.avg_order_fen
            assert amount is not None
            if measure == "spend_fen":
                return self.aggregated(
                    base,
                    Order.customer_id,
                    amount_holds(amount, func.sum(net), None),
                    zero_holds=amount_holds_python(amount, 0),
                )
            # Average = sum / count, compared without division: sum >= value * count.
            return self.aggregated(
                base,
                Order.customer_id,
                amount_holds(amount, func.sum(net), func.count()),
                zero_holds=False,
            )
        last = node.last_purchase
        assert last is not None
        latest = func.max(Order.paid_at)
        if last.op == "within_last_days":
            return Customer.id.in_(
                base.where(Order.paid_at >= self.now - dt.timedelta(days=last.value))
            )
        if last.op == "before_days_ago":
            bound = self.now - dt.timedelta(days=last.value)
            return self.aggregated(base, Order.customer_id, latest < bound, zero_holds=False)
        conditions: list[ColumnElement[bool]] = []
        if last.op in ("gte", "range"):
            conditions.append(latest >= self.lower(last.value if last.op == "gte" else last.min))
        if last.op in ("lte", "range"):
            high, inclusive = self.upper(last.value if last.op == "lte" else last.max)
            conditions.append(latest <= high if inclusive else latest < high)
        return self.aggregated(base, Order.customer_id, and_(*conditions), zero_holds=False)

    def _live(self, node: f.LiveCondition, path: str) -> ColumnElement[bool]:
        if node.action == "bought":
            base = self._paid_orders(
                product_id=None,
                category_id=None,
                live_session_id=node.live_session_id,
                window=node.window,
                in_live=True,
            )
            return self.counted(base, Order.customer_id, node.count, distinct=Order.live_session_id)
        base = select(LiveViewer.customer_id).where(
            LiveViewer.shop_id == self.shop_id,
            LiveViewer.customer_id.is_not(None),
            *self.window(LiveViewer.first_entered_at, node.window),
        )
        if node.live_session_id is not None:
            base = base.where(LiveViewer.live_session_id == node.live_session_id)
        if node.min_watch_seconds is not None:
            base = base.where(LiveViewer.watch_seconds >= node.min_watch_seconds)
        if node.action == "commented":
            base = base.where(LiveViewer.comments > 0)
        return self.counted(
            base, LiveViewer.customer_id, node.count, distinct=LiveViewer.live_session_id
        )

    def _community(self, node: f.CommunityCondition, path: str) -> ColumnElement[bool]:
        base = select(CommunityMember.customer_id).where(CommunityMember.shop_id == self.shop_id)
        if node.community_ids:
            base = base.where(CommunityMember.community_id.in_(sorted(set(node.community_ids))))
        if node.when == "now":
            base = base.where(CommunityMember.left_at.is_(None))
        return Customer.id.in_(base)

    def _rfm(self, node: f.RfmCondition, path: str) -> ColumnElement[bool]:
        base = select(CustomerRfm.customer_id).where(CustomerRfm.shop_id == self.shop_id)
        if node.segments:
            base = base.where(CustomerRfm.segment.in_(sorted(set(node.segments))))
        for name in ("r_score", "f_score", "m_score"):
            bounds: f.IntRange | None = getattr(node, name)
            if bounds is not None:
                base = base.where(*int_range(getattr(CustomerRfm, name), bounds))
        return Customer.id.in_(base)

    def _lifecycle(self, node: f.LifecycleCondition, path: str) -> ColumnElement[bool]:
        return Customer.id.in_(
            select(CustomerLifecycle.customer_id).where(
                CustomerLifecycle.shop_id == self.shop_id,
                CustomerLifecycle.stage.in_(sorted(set(node.stages))),
            )
        )

    def _tier(self, node: f.TierCondition, path: str) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = []
        if node.tier_ids is not None or node.min_level is not None:
            base = select(CustomerPoints.customer_id).where(
                CustomerPoints.shop_id == self.shop_id, CustomerPoints.tier_id.is_not(None)
            )
            if node.tier_ids is not None:
                base = base.where(CustomerPoints.tier_id.in_(sorted(set(node.tier_ids))))
            if node.min_level is not None:
                base = base.where(
                    CustomerPoints.tier_id.in_(
                        select(MemberTier.id).where(
                            MemberTier.shop_id == self.shop_id, MemberTier.level >= node.min_level
                        )
                    )
                )
            parts.append(Customer.id.in_(base))
        if node.points is not None:
            bounds = node.points
            base = select(CustomerPoints.customer_id).where(CustomerPoints.shop_id == self.shop_id)
            zero_holds = (bounds.gte is None or bounds.gte <= 0) and (
                bounds.lte is None or bounds.lte >= 0
            )
            inside = and_(true(), *int_range(CustomerPoints.balance, bounds))
            if zero_holds:
                parts.append(Customer.id.not_in(base.where(not_(inside))))
            else:
                parts.append(Customer.id.in_(base.where(inside)))
        return and_(true(), *parts)

    def _segment(self, node: f.SegmentCondition, path: str) -> ColumnElement[bool]:
        segment_id = node.segment_id
        if segment_id in self.segment_path:
            chain = " → ".join(str(i) for i in (*self.segment_path, segment_id))
            raise InvalidInput(
                f"{path}: segments refer to each other in a cycle ({chain})",
                code="segment_cycle",
                field=path,
            )
        segment = self.loader(segment_id) if self.loader is not None else None
        if segment is None:
            raise InvalidInput(
                f"{path}: segment {segment_id} was not found",
                code="segment_not_found",
                field=f"{path}.segment_id",
            )
        if segment.kind == "static":
            from liveloop.customers.segments.models import SegmentMember

            return Customer.id.in_(
                select(SegmentMember.customer_id).where(
                    SegmentMember.shop_id == self.shop_id, SegmentMember.segment_id == segment_id
                )
            )
        nested = segment.filter
        if not isinstance(nested, f.SegmentFilter):
            nested = f.parse_filter(nested, root=f"segment[{segment_id}].filter")
        inner = _Compiler(
            shop_id=self.shop_id,
            now=self.now,
            zone=self.zone,
            loader=self.loader,
            segment_path=(*self.segment_path, segment_id),
        )
        try:
            return inner.node(nested.root, f"segment[{segment_id}].filter")
        except InvalidInput as error:
            # Name the node of the filter being compiled; the message tells the rest.
            raise InvalidInput(f"{path}: {error.message}", code=error.code, field=path) from None


def int_range(column: Any, bounds: f.IntRange) -> list[ColumnElement[bool]]:
    conditions = []
    if bounds.gte is not None:
        conditions.append(column >= bounds.gte)
    if bounds.lte is not None:
        conditions.append(column <= bounds.lte)
    return conditions


def amount_holds(amount: f.Amount, total: Any, count: Any) -> ColumnElement[bool]:
    """``total / count`` compared with the amount, in integers (``total >= value * count``)."""
    if count is None:
        return _compare_amount(amount, total)
    if amount.op == "gte":
        return total >= count * amount.value
    if amount.op == "lte":
        return total <= count * amount.value
    if amount.op == "eq":
        return total == count * amount.value
    return and_(total >= count * amount.min, total <= count * amount.max)


def _compare_amount(amount: f.Amount, total: Any) -> ColumnElement[bool]:
    if amount.op == "gte":
        return total >= amount.value
    if amount.op == "lte":
        return total <= amount.value
    if amount.op == "eq":
        return total == amount.value
    return and_(total >= amount.min, total <= amount.max)


def amount_holds_python(amount: f.Amount, value: int) -> bool:
    if amount.op == "gte":
        return value >= (amount.value or 0)
    if amount.op == "lte":
        return value <= (amount.value or 0)
    if amount.op == "eq":
        return value == amount.value
    return (amount.min or 0) <= value <= (amount.max or 0)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-case A–Z only (what SQLite's lower() does; PostgreSQL agrees on these)."""
    return text.translate(_ASCII_LOWER)
