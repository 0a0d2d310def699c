"""Whether a coupon applies to an order and what it takes off: pure functions, no I/O.

`evaluate_coupon` is the one place the coupon rules live; checkout (commerce.pricing), the
best-coupon suggestion and the console preview all call it. Amounts are integer fen. Every
refusal carries a reason code and a sentence that says the numbers, in English (`reason`) and
in Chinese (`reason_zh`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

T = TypeVar("T")


class CouponKind(StrEnum):
    AMOUNT_OFF = "amount_off"  # ¥10 off
    PERCENT_OFF = "percent_off"  # 15% off (8.5折), optionally capped
    THRESHOLD = "threshold"  # 满减: ¥20 off an order of at least ¥199
    FREE_SHIPPING = "free_shipping"


class CouponScope(StrEnum):
    ALL = "all"
    PRODUCTS = "products"
    CATEGORIES = "categories"


class ReasonCode(StrEnum):
    BELOW_THRESHOLD = "below_threshold"
    OUT_OF_SCOPE = "out_of_scope"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    USED_UP = "used_up"
    NOT_YOURS = "not_yours"
    ALREADY_USED = "already_used"


class PricedLineLike(Protocol):
    """What the rules read of a checkout line (commerce.pricing.PricedLine has these)."""

    @property
    def sku_id(self) -> int: ...
    @property
    def product_id(self) -> int: ...
    @property
    def category_id(self) -> int | None: ...
    @property
    def unit_price_fen(self) -> int: ...
    @property
    def quantity(self) -> int: ...


@dataclass(frozen=True)
class CouponRule:
    """A coupon's terms as seen by one order: the coupon plus, once claimed, its instance.

    `valid_from`/`valid_until` are the instance's window when it is claimed (a days-after-claim
    coupon gets its own window at claim), else the coupon's. `owner_customer_id` is None for a
    coupon not claimed yet; `instance_status` is the issued coupon's status ("available",
    "locked", "used", "expired", "returned") or None. `remaining` is how many are left to claim
    (None: not relevant, e.g. already claimed).
    """

    code: str
    kind: CouponKind
    amount_off_fen: int = 0
    percent_off: int = 0
    max_discount_fen: int | None = None
    threshold_fen: int = 0
    scope: CouponScope = CouponScope.ALL
    product_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    owner_customer_id: int | None = None
    instance_status: str | None = None
    remaining: int | None = None
    coupon_id: int | None = None
    title: str = ""


@dataclass(frozen=True)
class CouponEvaluation:
    applicable: bool
    discount_fen: int = 0  # taken off the items (never more than the eligible items cost)
    free_shipping: bool = False
    shipping_discount_fen: int = 0  # the shipping fee the coupon waives
    eligible_sku_ids: tuple[int, ...] = ()  # lines the discount is split over
    eligible_items_fen: int = 0
    reason_code: str | None = None
    reason: str | None = None
    reason_zh: str | None = None
    code: str = ""
    coupon_id: int | None = None

    @property
    def savings_fen(self) -> int:
        """What the customer saves in all: how the best coupon is chosen."""
        return self.discount_fen + self.shipping_discount_fen

    @property
    def eligible_line_ids(self) -> tuple[int, ...]:
        """Alias of eligible_sku_ids (the contract names both)."""
        return self.eligible_sku_ids


def yuan(fen: int) -> str:
    """12345 -> '¥123.45' (fen shown as yuan with two decimals)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100}.{fen % 100:02d}"


def _refuse(rule: CouponRule, code: ReasonCode, reason: str, reason_zh: str) -> CouponEvaluation:
    return CouponEvaluation(
        applicable=False,
        reason_code=code.value,
        reason=f"coupon {rule.code} {reason}",
        reason_zh=f"优惠券 {rule.code} {reason_zh}",
        code=rule.code,
        coupon_id=rule.coupon_id,
    )


def _shanghai(moment: dt.datetime) -> str:
    # Customers read times in the shop's zone; Asia/Shanghai is fixed UTC+8 (no DST).
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


def _check_ownership_and_window(
    rule: CouponRule, *, now: dt.datetime, customer_id: int | None
) -> CouponEvaluation | None:
    if rule.owner_customer_id is not None and rule.owner_customer_id != customer_id:
        return _refuse(rule, ReasonCode.NOT_YOURS, "belongs to another customer", "不属于当前顾客")
    if rule.instance_status in ("used", "locked"):
        return _refuse(
            rule,
            ReasonCode.ALREADY_USED,
            "has already been used"
            if rule.instance_status == "used"
            else "is held by another unpaid order",
            "已使用" if rule.instance_status == "used" else "正被另一笔未支付订单占用",
        )
    if rule.owner_customer_id is None and rule.remaining is not None and rule.remaining <= 0:
        return _refuse(rule, ReasonCode.USED_UP, "has all been claimed", "已被领完")
    if rule.valid_from is not None and now < rule.valid_from:
        when = _shanghai(rule.valid_from)
        return _refuse(
            rule,
            ReasonCode.NOT_STARTED,
            f"can be used from {when} (Beijing time)",
            f"{when}起可用",
        )
    if rule.instance_status == "expired" or (
        rule.valid_until is not None and now >= rule.valid_until
    ):
        when = _shanghai(rule.valid_until) if rule.valid_until is not None else ""
        return _refuse(
            rule,
            ReasonCode.EXPIRED,
            f"expired at {when} (Beijing time)" if when else "has expired",
            f"已于{when}过期" if when else "已过期",
        )
    return None


def _in_scope(rule: CouponRule, line: PricedLineLike) -> bool:
    if rule.scope == CouponScope.PRODUCTS:
        return line.product_id in rule.product_ids
    if rule.scope == CouponScope.CATEGORIES:
        return line.category_id is not None and line.category_id in rule.category_ids
    return True


def _items_discount(rule: CouponRule, eligible_fen: int) -> int:
    if rule.kind in (CouponKind.AMOUNT_OFF, CouponKind.THRESHOLD):
        discount = rule.amount_off_fen
    elif rule.kind == CouponKind.PERCENT_OFF:
        # Rounded down to the fen: the customer never gets more than the stated percentage.
        discount = eligible_fen * rule.percent_off // 100
        if rule.max_discount_fen is not None:
            discount = min(discount, rule.max_discount_fen)
    else:
        discount = 0
    return max(0, min(discount, eligible_fen))


def evaluate_coupon(
    rule: CouponRule,
    lines: Sequence[PricedLineLike],
    *,
    shipping_fen: int,
    now: dt.datetime,
    customer_id: int | None,
) -> CouponEvaluation:
    """Does `rule` apply to these lines, and what does it take off?

    Checked in this order (the first failure is the reason given): owner, already used,
    used up, not started, expired, scope, threshold. The threshold is met by the eligible
    lines' total (a category coupon counts only that category's items).
    """
    refused = _check_ownership_and_window(rule, now=now, customer_id=customer_id)
    if refused is not None:
        return refused
    eligible = [line for line in lines if _in_scope(rule, line)]
    if not eligible:
        return _refuse(
            rule,
            ReasonCode.OUT_OF_SCOPE,
            "does not apply to any item in this order",
            "不适用于本单中的任何商品",
        )
    eligible_fen = sum(line.unit_price_fen * line.quantity for line in eligible)
    if eligible_fen < rule.threshold_fen:
        partial = len(eligible) < len(lines)
        scope_en = " of eligible items" if partial else ""
        scope_zh = "适用商品" if partial else ""
        return _refuse(
            rule,
            ReasonCode.BELOW_THRESHOLD,
            f"needs an order{scope_en} of at least {yuan(rule.threshold_fen)} "
            f"(this order{' has' if partial else ' is'} {yuan(eligible_fen)})",
            f"满{yuan(rule.threshold_fen)}可用，当前{scope_zh}{yuan(eligible_fen)}",
        )
    free_shipping = rule.kind == CouponKind.FREE_SHIPPING
    return CouponEvaluation(
        applicable=True,
        discount_fen=_items_discount(rule, eligible_fen),
        free_shipping=free_shipping,
        shipping_discount_fen=max(shipping_fen, 0) if free_shipping else 0,
        eligible_sku_ids=tuple(sorted({line.sku_id for line in eligible})),
        eligible_items_fen=eligible_fen,
        code=rule.code,
        coupon_id=rule.coupon_id,
    )


def value_text(rule: CouponRule) -> str:
    """How a coupon reads on its card: '¥20 off ¥199', '15% off (up to ¥30)'."""
    if rule.kind == CouponKind.THRESHOLD:
        return f"{yuan(rule.amount_off_fen)} off {yuan(rule.threshold_fen)}"
    if rule.kind == CouponKind.AMOUNT_OFF:
        text = f"{yuan(rule.amount_off_fen)} off"
    elif rule.kind == CouponKind.PERCENT_OFF:
        text = f"{rule.percent_off}% off"
        if rule.max_discount_fen is not None:
            text += f" (up to {yuan(rule.max_discount_fen)})"
    else:
        text = "free shipping"
    if rule.threshold_fen:
        text += f", orders from {yuan(rule.threshold_fen)}"
    return text


def pick_best(
    candidates: Sequence[tuple[T, CouponEvaluation, dt.datetime | None]],
) -> tuple[T | None, CouponEvaluation | None]:
    """The applicable candidate that saves the most; on a tie the one that expires first
    (so the customer does not lose it), then the first given. Candidates are
    (anything, its evaluation, when it expires)."""
    best: tuple[T, CouponEvaluation] | None = None
    best_key: tuple[int, float] = (-1, 0.0)
    for item, evaluation, expires in candidates:
        if not evaluation.applicable:
            continue
        key = (evaluation.savings_fen, -(expires.timestamp() if expires else float("inf")))
        if best is None or key > best_key:
            best, best_key = (item, evaluation), key
    return (best[0], best[1]) if best is not None else (None, None)
