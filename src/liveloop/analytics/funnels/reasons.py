"""Why a viewer may have dropped, as far as the recorded data says (docs/funnels.md).

For one page of dropped viewers at a time (ids known, so every query is by id):

- `sold_out`: a product they viewed had no stock on any active SKU at the moment they viewed
  it (stock at a moment comes from the stock movements, which record the stock left behind);
- `no_coupon`: they neither claimed nor used a coupon in scope while other customers did;
- `price_above_usual`: even the cheapest product they viewed (at the price they put it in the
  cart, else its cheapest active SKU now) cost more than their usual order — the average paid
  order before the scope began (customers with no earlier paid order have no usual);
- `left_after_push`: they left the room within N seconds after a product was pushed (上链接,
  from the audit log of the room's controls);
- `order_expired`: an order of theirs in scope expired unpaid.

Beside the reasons: seconds on product pages (`product_view` dwell_seconds) and on mall pages
(`mall_view` dwell_seconds), and the products they viewed.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.expressions import epoch_of, half_up
from liveloop.analytics.funnels.steps import PRODUCT_EVENTS, FunnelSpec, Scope
from liveloop.catalog.models import Product, Sku, StockMovement
from liveloop.commerce.coupons.models import CustomerCoupon
from liveloop.commerce.models import Order, OrderStatus
from liveloop.events.models import Event
from liveloop.live.conditions import LEAVE_EVENT
from liveloop.shops.models import AuditEntry

DEFAULT_PUSH_SECONDS = 60
MIN_PUSH_SECONDS, MAX_PUSH_SECONDS = 1, 3600
MALL_EVENT = "mall_view"
PUSH_ACTION = "live.push"
VIEW_EVENTS = ("live_product_click", "product_view")


def empty() -> dict[str, Any]:
    return {"reasons": [], "product_page_seconds": 0, "mall_page_seconds": 0, "viewed": []}


def _who(viewers: list[tuple[str, int | None]]) -> Any:
    customers = [c for _, c in viewers if c is not None]
    guests = [v for v, c in viewers if c is None]
    parts: list[Any] = []
    if customers:
        parts.append(Event.customer_id.in_(customers))
    if guests:
        parts.append(and_(Event.customer_id.is_(None), Event.anonymous_id.in_(guests)))
    return or_(*parts)


def _key(customer_id: int | None, anonymous_id: str | None) -> str:
    return f"c:{customer_id}" if customer_id is not None else (anonymous_id or "")


def _page_events(scope: Scope, spec: FunnelSpec) -> Any:
    """Product/mall page and cart events that belong to the scope: a session's own rows, or
    pages opened while it was on air; a range's rows up to its end plus the window."""
    if scope.live_session_id is not None:
        on_air = and_(
            Event.type.in_(("product_view", MALL_EVENT)),
            Event.occurred_at >= scope.starts,
            Event.occurred_at <= scope.ends,
        )
        return or_(Event.live_session_id == scope.live_session_id, on_air)
    until = scope.ends + dt.timedelta(seconds=spec.window_s)
    return and_(Event.occurred_at >= scope.starts, Event.occurred_at < until)


async def explain(
    *,
    session: AsyncSession,
    scope: Scope,
    spec: FunnelSpec,
    viewers: list[tuple[str, int | None]],
    push_seconds: int = DEFAULT_PUSH_SECONDS,
) -> dict[str, dict[str, Any]]:
    """viewer key → {reasons, product_page_seconds, mall_page_seconds, viewed}."""
    if not MIN_PUSH_SECONDS <= push_seconds <= MAX_PUSH_SECONDS:
        from liveloop.core.errors import InvalidInput

        raise InvalidInput(
            f"push_seconds must be {MIN_PUSH_SECONDS} to {MAX_PUSH_SECONDS}; got {push_seconds}",
            code="invalid_push_seconds",
            field="push_seconds",
        )
    out = {viewer: empty() for viewer, _ in viewers}
    if not viewers:
        return out
    customers = [c for _, c in viewers if c is not None]
    views = await _product_rows(session, scope, spec, viewers, out)
    products = await _products(
        session, scope.shop_id, {p for rows in views.values() for p, *_ in rows}
    )
    for viewer, rows in views.items():
        _sold_out(out[viewer], rows, products)
        counts: dict[int, int] = defaultdict(int)
        for product_id, kind, _, _ in rows:
            if kind in VIEW_EVENTS:
                counts[product_id] += 1
        out[viewer]["viewed"] = [
            {"product_id": p, "name": products[p]["name"] if p in products else "", "views": n}
            for p, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]
    await _coupons(session, scope, customers, out)
    await _price(session, scope, customers, views, products, out)
    await _left_after_push(session, scope, viewers, push_seconds, out)
    await _expired(session, scope, customers, out)
    return out


async def _product_rows(
    session: AsyncSession,
    scope: Scope,
    spec: FunnelSpec,
    viewers: list[tuple[str, int | None]],
    out: dict[str, dict[str, Any]],
) -> dict[str, list[tuple[int, str, int, int | None]]]:
    """viewer → [(product_id, event type, epoch, cart price)]; page seconds added to `out`."""
    rows = await session.execute(
        select(
            Event.customer_id,
            Event.anonymous_id,
            Event.type,
            Event.product_id,
            Event.occurred_at,
            Event.properties,
        )
        .where(
            Event.shop_id == scope.shop_id,
            Event.type.in_((*PRODUCT_EVENTS, MALL_EVENT)),
            _who(viewers),
            _page_events(scope, spec),
        )
        .order_by(Event.occurred_at, Event.id)
    )
    views: dict[str, list[tuple[int, str, int, int | None]]] = defaultdict(list)
    for customer_id, anonymous_id, kind, product_id, occurred_at, properties in rows:
        key = _key(customer_id, anonymous_id)
        if key not in out:
            continue
        props = properties or {}
        dwell = props.get("dwell_seconds")
        if isinstance(dwell, int) and dwell > 0:
            field = "mall_page_seconds" if kind == MALL_EVENT else "product_page_seconds"
            out[key][field] += dwell
        if kind == MALL_EVENT or product_id is None:
            continue
        price = props.get("price_fen") if kind == "add_to_cart" else None
        views[key].append(
            (
                int(product_id),
                kind,
                epoch_of(occurred_at),
                price if isinstance(price, int) else None,
            )
        )
    return views


async def _products(
    session: AsyncSession, shop_id: int, ids: set[int]
) -> dict[int, dict[str, Any]]:
    """product → name, cheapest active SKU price now, and each active SKU's stock history
    (sorted movement times with the stock after each, and the stock before the first)."""
    if not ids:
        return {}
    found: dict[int, dict[str, Any]] = {}
    for product_id, name in await session.execute(
        select(Product.id, Product.name).where(Product.shop_id == shop_id, Product.id.in_(ids))
    ):
        found[int(product_id)] = {"name": name, "price": None, "skus": {}}
    skus = await session.execute(
        select(Sku.id, Sku.product_id, Sku.price_fen, Sku.stock).where(
            Sku.shop_id == shop_id, Sku.product_id.in_(ids), Sku.is_active.is_(True)
        )
    )
    for sku_id, product_id, price, stock in skus:
        product = found.get(int(product_id))
        if product is None:
            continue
        product["price"] = price if product["price"] is None else min(product["price"], price)
        product["skus"][int(sku_id)] = {"times": [], "after": [], "before": None, "now": stock}
    sku_ids = [s for p in found.values() for s in p["skus"]]
    if sku_ids:
        sku_product = {s: p for p, v in found.items() for s in v["skus"]}
        movements = await session.execute(
            select(
                StockMovement.sku_id,
                StockMovement.created_at,
                StockMovement.delta,
                StockMovement.stock_after,
            )
            .where(StockMovement.shop_id == shop_id, StockMovement.sku_id.in_(sku_ids))
            .order_by(StockMovement.sku_id, StockMovement.created_at, StockMovement.id)
        )
        for sku_id, created_at, delta, after in movements:
            history = found[sku_product[int(sku_id)]]["skus"][int(sku_id)]
            if history["before"] is None:
                history["before"] = after - delta
            history["times"].append(epoch_of(created_at))
            history["after"].append(after)
    return found


def stock_at(history: dict[str, Any], moment: int) -> int:
    """A SKU's stock at a moment: what the last movement up to then left, else the stock
    before the first movement, else the stock now (it never moved)."""
    position = bisect.bisect_right(history["times"], moment)
    if position:
        return int(history["after"][position - 1])
    return int(history["before"] if history["before"] is not None else history["now"])


def _sold_out(
    found: dict[str, Any],
    rows: list[tuple[int, str, int, int | None]],
    products: dict[int, dict[str, Any]],
) -> None:
    seen: set[int] = set()
    for product_id, kind, moment, _ in rows:
        product = products.get(product_id)
        if kind not in VIEW_EVENTS or product is None or product_id in seen:
            continue
        skus = product["skus"].values()
        if skus and all(stock_at(history, moment) <= 0 for history in skus):
            seen.add(product_id)
            found["reasons"].append(
                {
                    "code": "sold_out",
                    "product_id": product_id,
                    "product": product["name"],
                    "at": dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(),
                }
            )


def _claims_in_scope(scope: Scope) -> Any:
    if scope.live_session_id is not None:
        return CustomerCoupon.live_session_id == scope.live_session_id
    return and_(CustomerCoupon.claimed_at >= scope.starts, CustomerCoupon.claimed_at < scope.ends)


def _orders_in_scope(scope: Scope) -> Any:
    if scope.live_session_id is not None:
        return Order.live_session_id == scope.live_session_id
    return and_(Order.created_at >= scope.starts, Order.created_at < scope.ends)


async def _coupons(
    session: AsyncSession, scope: Scope, customers: list[int], out: dict[str, dict[str, Any]]
) -> None:
    claimed = select(CustomerCoupon.customer_id.label("customer_id")).where(
        CustomerCoupon.shop_id == scope.shop_id, _claims_in_scope(scope)
    )
    used = select(Order.customer_id.label("customer_id")).where(
        Order.shop_id == scope.shop_id,
        _orders_in_scope(scope),
        Order.customer_coupon_id.is_not(None),
        Order.customer_id.is_not(None),
    )
    holders = {int(c) for c in (await session.execute(claimed.union(used))).scalars()}
    for customer_id in customers:
        others = len(holders - {customer_id})
        if customer_id not in holders and others:
            out[f"c:{customer_id}"]["reasons"].append(
                {"code": "no_coupon", "customers_with_coupon": others}
            )


async def _price(
    session: AsyncSession,
    scope: Scope,
    customers: list[int],
    views: dict[str, list[tuple[int, str, int, int | None]]],
    products: dict[int, dict[str, Any]],
    out: dict[str, dict[str, Any]],
) -> None:
    if not customers:
        return
    usual = await session.execute(
        select(Order.customer_id, func.sum(Order.paid_fen), func.count())
        .where(
            Order.shop_id == scope.shop_id,
            Order.customer_id.in_(customers),
            Order.paid_at.is_not(None),
            Order.paid_at < scope.starts,
        )
        .group_by(Order.customer_id)
    )
    for customer_id, paid, count in usual:
        key = f"c:{customer_id}"
        prices: dict[int, int] = {}
        for product_id, kind, _, cart_price in views.get(key, []):
            if kind == "add_to_cart" and cart_price is not None:
                prices[product_id] = cart_price
            elif product_id not in prices and products.get(product_id, {}).get("price") is not None:
                prices[product_id] = int(products[product_id]["price"])
        if not prices:
            continue
        typical = half_up(int(paid), int(count))
        product_id, cheapest = min(prices.items(), key=lambda item: (item[1], item[0]))
        if cheapest > typical:
            out[key]["reasons"].append(
                {
                    "code": "price_above_usual",
                    "product_id": product_id,
                    "price_fen": cheapest,
                    "usual_order_fen": typical,
                }
            )


async def _left_after_push(
    session: AsyncSession,
    scope: Scope,
    viewers: list[tuple[str, int | None]],
    push_seconds: int,
    out: dict[str, dict[str, Any]],
) -> None:
    leave_where = [Event.shop_id == scope.shop_id, Event.type == LEAVE_EVENT, _who(viewers)]
    push_where = [
        AuditEntry.shop_id == scope.shop_id,
        AuditEntry.action == PUSH_ACTION,
        AuditEntry.target_type == "live_session",
    ]
    if scope.live_session_id is not None:
        leave_where.append(Event.live_session_id == scope.live_session_id)
        push_where.append(AuditEntry.target_id == str(scope.live_session_id))
    else:
        leave_where += [Event.occurred_at >= scope.starts, Event.occurred_at < scope.ends]
        push_where += [AuditEntry.created_at < scope.ends]
    leaves = (
        await session.execute(
            select(Event.customer_id, Event.anonymous_id, Event.live_session_id, Event.occurred_at)
            .where(and_(*leave_where))
            .order_by(Event.occurred_at, Event.id)
        )
    ).all()
    if not leaves:
        return
    pushes: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
    rows = await session.execute(
        select(AuditEntry.target_id, AuditEntry.created_at, AuditEntry.details)
        .where(and_(*push_where))
        .order_by(AuditEntry.created_at, AuditEntry.id)
    )
    for target, created_at, details in rows:
        product = (details or {}).get("product_id")
        pushes[str(target)].append(
            (epoch_of(created_at), product if isinstance(product, int) else None)
        )
    for customer_id, anonymous_id, live_id, occurred_at in leaves:
        key = _key(customer_id, anonymous_id)
        found = out.get(key)
        if found is None or any(r["code"] == "left_after_push" for r in found["reasons"]):
            continue
        left = epoch_of(occurred_at)
        times = pushes.get(str(live_id), [])
        position = bisect.bisect_right([t for t, _ in times], left)
        if not position:
            continue
        pushed_at, product_id = times[position - 1]
        if left - pushed_at <= push_seconds:
            found["reasons"].append(
                {
                    "code": "left_after_push",
                    "product_id": product_id,
                    "live_session_id": live_id,
                    "seconds_after_push": left - pushed_at,
                }
            )


async def _expired(
    session: AsyncSession, scope: Scope, customers: list[int], out: dict[str, dict[str, Any]]
) -> None:
    if not customers:
        return
    rows = await session.execute(
        select(Order.customer_id, Order.id, Order.number, Order.total_fen)
        .where(
            Order.shop_id == scope.shop_id,
            Order.customer_id.in_(customers),
            _orders_in_scope(scope),
            Order.status == OrderStatus.EXPIRED.value,
        )
        .order_by(Order.id)
    )
    for customer_id, order_id, number, total in rows:
        out[f"c:{customer_id}"]["reasons"].append(
            {"code": "order_expired", "order_id": order_id, "number": number, "total_fen": total}
        )
