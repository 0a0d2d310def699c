"""RFM scores and lifecycle stages, recomputed set-based in SQL (never one customer at a time).

RFM: over the shop's window (default 365 days), R = whole days since the last paid order,
F = paid orders, M = paid minus refunded fen. Scores 1..5 by quintile of rank (ties share a
score) or by the shop's cut points; the named segment compares each score with the average
score of the shop's buyers. Customers without a paid order in the window are "no_purchase".

Lifecycle: see `lifecycle_stage_sql` for the rules and their precedence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.models import Order
from liveloop.commerce.states import PAID_STATUSES
from liveloop.core.database import scoped, utcnow
from liveloop.core.errors import InvalidInput
from liveloop.customers.models import STATUS_ACTIVE, Customer
from liveloop.customers.rfm.models import (
    LIFECYCLE_STAGES,
    CustomerLifecycle,
    CustomerRfm,
    LifecycleTransition,
    RfmSettings,
)
from liveloop.customers.rfm.sql import at, dialect_of, greatest, int_div, whole_days_between

NO_PURCHASE = "no_purchase"
# key: (中文, English). "Important" = monetary above average; then recency / frequency.
SEGMENT_LABELS: dict[str, tuple[str, str]] = {
    "important_value": ("重要价值客户", "Important value"),
    "important_develop": ("重要发展客户", "Important to develop"),
    "important_keep": ("重要保持客户", "Important to keep"),
    "important_retain": ("重要挽留客户", "Important to win back"),
    "general_value": ("一般价值客户", "General value"),
    "general_develop": ("一般发展客户", "General to develop"),
    "general_keep": ("一般保持客户", "General to keep"),
    "general_retain": ("一般挽留客户", "General to win back"),
    NO_PURCHASE: ("未购买", "No purchase"),
}
SEGMENTS: tuple[str, ...] = tuple(SEGMENT_LABELS)
STAGE_LABELS: dict[str, tuple[str, str]] = {
    "new": ("新客", "New"),
    "active": ("活跃", "Active"),
    "high_value": ("高价值", "High value"),
    "at_risk": ("流失风险", "At risk"),
    "churned": ("已流失", "Churned"),
    "recalled": ("已召回", "Recalled"),
}
SCORINGS = ("quintiles", "thresholds")
PAID = sorted(status.value for status in PAID_STATUSES)


@dataclass
class LifecycleRules:
    """A shop's lifecycle rules (stored as JSON in rfm_settings.lifecycle)."""

    new_days: int = 30  # first seen at most this many days ago, and at most one paid order
    active_days: int = 30  # some activity (event or paid order) within this many days
    churn_days: int = 90  # no activity for more than this: churned (in between: at risk)
    recalled_days: int = 30  # a recalled customer stays "recalled" this long
    high_value_segments: list[str] = field(
        default_factory=lambda: ["important_value", "important_keep"]
    )
    high_value_spend_fen: int | None = 200_000  # or this much paid in the RFM window

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> LifecycleRules:
        known = {k: v for k, v in (stored or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def check(self) -> None:
        for name in ("new_days", "active_days", "churn_days", "recalled_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= 3650:
                raise InvalidInput(
                    f"{name} must be a whole number of days from 1 to 3650 (got {value!r})",
                    code="invalid_lifecycle_rule",
                    field=f"lifecycle.{name}",
                )
        if self.churn_days <= self.active_days:
            raise InvalidInput(
                f"churn_days ({self.churn_days}) must be more than active_days "
                f"({self.active_days}): between the two a customer is at risk",
                code="invalid_lifecycle_rule",
                field="lifecycle.churn_days",
            )
        unknown = sorted(set(self.high_value_segments) - set(SEGMENTS))
        if unknown:
            raise InvalidInput(
                f"unknown RFM segment(s) {', '.join(unknown)}; one of {', '.join(SEGMENTS)}",
                code="invalid_lifecycle_rule",
                field="lifecycle.high_value_segments",
            )
        spend = self.high_value_spend_fen
        if spend is not None and (not isinstance(spend, int) or spend < 0):
            raise InvalidInput(
                "high_value_spend_fen must be a non-negative amount in fen, or null",
                code="invalid_lifecycle_rule",
                field="lifecycle.high_value_spend_fen",
            )


# --- settings ---------------------------------------------------------------------------------


async def get_settings(*, session: AsyncSession, shop_id: int) -> RfmSettings:
    """The shop's settings; an unsaved row of defaults when it never saved any."""
    found = (await session.execute(scoped(RfmSettings, shop_id))).scalar_one_or_none()
    if found is not None:
        return found
    return RfmSettings(
        shop_id=shop_id,
        window_days=365,
        scoring="quintiles",
        r_thresholds=[],
        f_thresholds=[],
        m_thresholds=[],
        lifecycle=asdict(LifecycleRules()),
    )


def _check_thresholds(name: str, values: list[int], *, descending_is_better: bool) -> None:
    if len(values) != 4 or any(not isinstance(v, int) or v < 0 for v in values):
        raise InvalidInput(
            f"{name} needs four non-negative whole numbers (the cut points of scores 2 to 5)",
            code="invalid_rfm_thresholds",
            field=name,
        )
    if values != sorted(values) or len(set(values)) != 4:
        raise InvalidInput(
            f"{name} must rise strictly, e.g. {'[7, 30, 90, 180]' if descending_is_better else '[1, 2, 4, 8]'}"
            f" (got {values})",
            code="invalid_rfm_thresholds",
            field=name,
        )


async def update_settings(
    *,
    session: AsyncSession,
    shop_id: int,
    window_days: int | None = None,
    scoring: str | None = None,
    r_thresholds: list[int] | None = None,
    f_thresholds: list[int] | None = None,
    m_thresholds: list[int] | None = None,
    lifecycle: dict[str, Any] | None = None,
) -> RfmSettings:
    """Change the given settings (None: keep); takes effect at the next recompute."""
    settings = await get_settings(session=session, shop_id=shop_id)
    if window_days is not None:
        if not 1 <= window_days <= 3650:
            raise InvalidInput(
                f"the RFM window is 1 to 3650 days (got {window_days})",
                code="invalid_rfm_window",
                field="window_days",
            )
        settings.window_days = window_days
    for name, value, descending in (
        ("r_thresholds", r_thresholds, True),
        ("f_thresholds", f_thresholds, False),
        ("m_thresholds", m_thresholds, False),
    ):
        if value is not None:
            if value:
                _check_thresholds(name, value, descending_is_better=descending)
            setattr(settings, name, list(value))
    if scoring is not None:
        if scoring not in SCORINGS:
            raise InvalidInput(
                f"scoring is one of {', '.join(SCORINGS)} (got {scoring!r})",
                code="invalid_rfm_scoring",
                field="scoring",
            )
        settings.scoring = scoring
    if settings.scoring == "thresholds":
        for name in ("r_thresholds", "f_thresholds", "m_thresholds"):
            if not getattr(settings, name):
                raise InvalidInput(
                    f"scoring by thresholds needs {name} (four rising cut points)",
                    code="invalid_rfm_thresholds",
                    field=name,
                )
    if lifecycle is not None:
        unknown = sorted(set(lifecycle) - set(LifecycleRules.__dataclass_fields__))
        if unknown:
            raise InvalidInput(
                f"unknown lifecycle rule(s) {', '.join(unknown)}",
                code="invalid_lifecycle_rule",
                field="lifecycle",
            )
        rules = LifecycleRules.of({**LifecycleRules.of(settings.lifecycle).__dict__, **lifecycle})
        rules.check()
        settings.lifecycle = asdict(rules)
    if settings.id is None:
        session.add(settings)
    await session.flush()
    return settings


# --- RFM ----------------------------------------------------------------------------------------


@dataclass
class RfmStats:
    customers: int
    buyers: int
    segments: dict[str, int]
    computed_at: dt.datetime


def _threshold_score(value: Any, cuts: list[int], *, lower_is_better: bool) -> Any:
    if lower_is_better:  # recency: within cuts[0] days → 5 … beyond cuts[3] → 1
        whens = [(value <= cut, 5 - i) for i, cut in enumerate(cuts)]
    else:  # frequency / monetary: at least cuts[3] → 5 … below cuts[0] → 1
        whens = [(value >= cut, 5 - i) for i, cut in enumerate(reversed(cuts))]
    return case(*whens, else_=1)


def _quintile_score(order_by: Any) -> Any:
    """1 + 5·(rank − 1) / buyers: equal values share a score; the top fifth scores 5."""
    rank = func.rank().over(order_by=order_by)
    return 1 + int_div(5 * (rank - 1), func.count().over())


def _rfm_select(settings: RfmSettings, *, shop_id: int, now: dt.datetime, dialect: str) -> Any:
    """One row per active customer: the columns of customer_rfm, in insert order."""
    since = now - dt.timedelta(days=settings.window_days)
    paid = (
        select(
            Order.customer_id.label("customer_id"),
            func.count().label("frequency"),
            func.sum(Order.paid_fen - Order.refunded_fen).label("monetary"),
            func.max(Order.paid_at).label("last_paid_at"),
        )
        .where(
            Order.shop_id == shop_id,
            Order.status.in_(PAID),
            Order.customer_id.is_not(None),
            Order.paid_at >= at(since, "since"),
            Order.paid_at <= at(now),
        )
        .group_by(Order.customer_id)
        .subquery("paid")
    )
    buyers = (
        select(
            paid.c.customer_id,
            paid.c.frequency,
            paid.c.monetary,
            whole_days_between(dialect, at(now), paid.c.last_paid_at).label("recency"),
        )
        .join(Customer, Customer.id == paid.c.customer_id)
        .where(Customer.shop_id == shop_id, Customer.status == STATUS_ACTIVE)
        .subquery("buyers")
    )
    if settings.scoring == "thresholds":
        r = _threshold_score(buyers.c.recency, settings.r_thresholds, lower_is_better=True)
        f = _threshold_score(buyers.c.frequency, settings.f_thresholds, lower_is_better=False)
        m = _threshold_score(buyers.c.monetary, settings.m_thresholds, lower_is_better=False)
    else:
        r = _quintile_score(buyers.c.recency.desc())
        f = _quintile_score(buyers.c.frequency)
        m = _quintile_score(buyers.c.monetary)
    scored = select(buyers, r.label("r_score"), f.label("f_score"), m.label("m_score")).subquery(
        "scored"
    )
    r_high = scored.c.r_score > func.avg(scored.c.r_score).over()
    f_high = scored.c.f_score > func.avg(scored.c.f_score).over()
    m_high = scored.c.m_score > func.avg(scored.c.m_score).over()
    segment = case(
        (and_(m_high, r_high, f_high), "important_value"),
        (and_(m_high, r_high), "important_develop"),
        (and_(m_high, f_high), "important_keep"),
        (m_high, "important_retain"),
        (and_(r_high, f_high), "general_value"),
        (r_high, "general_develop"),
        (f_high, "general_keep"),
        else_="general_retain",
    )
    named = select(scored, segment.label("segment")).subquery("named")
    return (
        select(
            literal(shop_id).label("shop_id"),
            Customer.id,
            named.c.recency,
            func.coalesce(named.c.frequency, 0),
            func.coalesce(named.c.monetary, 0),
            func.coalesce(named.c.r_score, 0),
            func.coalesce(named.c.f_score, 0),
            func.coalesce(named.c.m_score, 0),
            func.coalesce(named.c.segment, NO_PURCHASE),
            at(now),
        )
        .select_from(Customer)
        .outerjoin(named, named.c.customer_id == Customer.id)
        .where(Customer.shop_id == shop_id, Customer.status == STATUS_ACTIVE)
    )


RFM_COLUMNS = (
    "shop_id",
    "customer_id",
    "recency_days",
    "frequency",
    "monetary_fen",
    "r_score",
    "f_score",
    "m_score",
    "segment",
    "computed_at",
)


async def recompute_rfm(
    *, session: AsyncSession, shop_id: int, now: dt.datetime | None = None
) -> RfmStats:
    """Replace the shop's customer_rfm rows with a fresh computation (two statements)."""
    now = now or utcnow()
    settings = await get_settings(session=session, shop_id=shop_id)
    await session.execute(delete(CustomerRfm).where(CustomerRfm.shop_id == shop_id))
    source = _rfm_select(settings, shop_id=shop_id, now=now, dialect=dialect_of(session))
    await session.execute(insert(CustomerRfm).from_select(list(RFM_COLUMNS), source))
    settings.rfm_computed_at = now
    if settings.id is None:
        session.add(settings)
    await session.flush()
    segments = await rfm_distribution(session=session, shop_id=shop_id)
    total = sum(segments.values())
    return RfmStats(
        customers=total,
        buyers=total - segments.get(NO_PURCHASE, 0),
        segments=segments,
        computed_at=now,
    )


async def rfm_distribution(*, session: AsyncSession, shop_id: int) -> dict[str, int]:
    """Customers per segment, every segment present (0 when empty), in SEGMENTS order."""
    rows = await session.execute(
        scoped(CustomerRfm, shop_id, CustomerRfm.segment, func.count()).group_by(
            CustomerRfm.segment
        )
    )
    counts: dict[str, int] = {key: n for key, n in rows}
    return {segment: counts.get(segment, 0) for segment in SEGMENTS}


async def get_customer_rfm(
    *, session: AsyncSession, shop_id: int, customer_id: int
) -> CustomerRfm | None:
    statement = (
        scoped(CustomerRfm, shop_id)
        .where(CustomerRfm.customer_id == customer_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


# --- lifecycle -----------------------------------------------------------------------------------


@dataclass
class LifecycleStats:
    evaluated: int
    changed: int
    stages: dict[str, int]
    computed_at: dt.datetime


def lifecycle_stage_sql(
    rules: LifecycleRules, *, shop_id: int, now: dt.datetime, dialect: str
) -> Any:
    """(shop_id, customer_id, current stage, new stage, reason) per active customer.

    Activity = the later of last_active_at (events) and the last paid order; a customer with
    neither counts from when first seen. The first rule that holds wins:

    1. recalled    was at_risk or churned, and active again within active_days
    2. recalled    still, for recalled_days after being recalled, while active
    3. churned     no activity for more than churn_days
    4. at_risk     no activity for more than active_days
    5. high_value  RFM segment in high_value_segments, or ≥ high_value_spend_fen in the window
    6. new         first seen within new_days and at most one paid order
    7. active      otherwise
    """
    orders = (
        select(
            Order.customer_id.label("customer_id"),
            func.max(Order.paid_at).label("last_paid_at"),
            func.count().label("paid_orders"),
        )
        .where(
            Order.shop_id == shop_id,
            Order.status.in_(PAID),
            Order.customer_id.is_not(None),
            Order.paid_at <= at(now),
        )
        .group_by(Order.customer_id)
        .subquery("orders")
    )
    first_seen = func.coalesce(Customer.first_seen_at, Customer.created_at)
    last_activity = greatest(
        dialect,
        func.coalesce(Customer.last_active_at, first_seen),
        func.coalesce(orders.c.last_paid_at, first_seen),
    )
    idle = whole_days_between(dialect, at(now), last_activity)
    age = whole_days_between(dialect, at(now), first_seen)
    in_stage = whole_days_between(dialect, at(now), CustomerLifecycle.since)
    current = CustomerLifecycle.stage
    paid_orders = func.coalesce(orders.c.paid_orders, 0)
    active = idle <= rules.active_days
    high_value: Any = CustomerRfm.segment.in_(rules.high_value_segments or [""])
    if rules.high_value_spend_fen is not None:
        high_value = or_(high_value, CustomerRfm.monetary_fen >= rules.high_value_spend_fen)

    def days(text: str, value: Any, unit: str = " days") -> Any:
        return literal(text) + cast(value, String) + literal(unit)

    by_segment = CustomerRfm.segment.in_(rules.high_value_segments or [""])
    spend_reason = (
        literal(f"paid at least {rules.high_value_spend_fen} fen in the RFM window")
        if rules.high_value_spend_fen is not None
        else literal("")
    )
    rules_in_order = (  # (condition, stage, reason)
        (
            and_(current.in_(["at_risk", "churned"]), active),
            "recalled",
            literal("active again after ") + current,
        ),
        (
            and_(current == "recalled", in_stage < rules.recalled_days, active),
            "recalled",
            literal("recalled"),
        ),
        (idle > rules.churn_days, "churned", days("no activity for ", idle)),
        (idle > rules.active_days, "at_risk", days("no activity for ", idle)),
        (
            high_value,
            "high_value",
            case((by_segment, literal("RFM segment ") + CustomerRfm.segment), else_=spend_reason),
        ),
        (
            and_(age <= rules.new_days, paid_orders <= 1),
            "new",
            days("first seen ", age, " days ago"),
        ),
    )
    stage = case(*[(when, value) for when, value, _ in rules_in_order], else_="active")
    reason = case(
        *[(when, why) for when, _, why in rules_in_order],
        else_=days("last active ", idle, " days ago"),
    )
    return (
        select(
            literal(shop_id).label("shop_id"),
            Customer.id.label("customer_id"),
            current.label("current"),
            stage.label("stage"),
            reason.label("reason"),
        )
        .select_from(Customer)
        .outerjoin(orders, orders.c.customer_id == Customer.id)
        .outerjoin(CustomerLifecycle, CustomerLifecycle.customer_id == Customer.id)
        .outerjoin(CustomerRfm, CustomerRfm.customer_id == Customer.id)
        .where(Customer.shop_id == shop_id, Customer.status == STATUS_ACTIVE)
    )


async def recompute_lifecycle(
    *,
    session: AsyncSession,
    shop_id: int,
    now: dt.datetime | None = None,
    customer_ids: list[int] | None = None,
) -> LifecycleStats:
    """Move customers to the stage their rules give (all of them, or only `customer_ids`).

    Each change is appended to lifecycle_transitions first; customer_lifecycle is then
    updated from the rows just appended, so the stage is computed once per run. Running it
    again with the same data changes nothing.
    """
    now = now or utcnow()
    settings = await get_settings(session=session, shop_id=shop_id)
    rules = LifecycleRules.of(settings.lifecycle)
    computed = lifecycle_stage_sql(rules, shop_id=shop_id, now=now, dialect=dialect_of(session))
    if customer_ids is not None:
        computed = computed.where(Customer.id.in_(customer_ids))
    computed_rows = computed.subquery("computed")
    evaluated = (
        await session.execute(select(func.count()).select_from(computed_rows))
    ).scalar_one()
    last_id = (
        await session.execute(
            scoped(LifecycleTransition, shop_id, func.max(LifecycleTransition.id))
        )
    ).scalar_one() or 0
    changes = select(
        computed_rows.c.shop_id,
        computed_rows.c.customer_id,
        computed_rows.c.current,
        computed_rows.c.stage,
        func.substr(computed_rows.c.reason, 1, 200),
        at(now),
    ).where(
        or_(computed_rows.c.current.is_(None), computed_rows.c.current != computed_rows.c.stage)
    )
    inserted = await session.execute(
        insert(LifecycleTransition).from_select(
            ["shop_id", "customer_id", "from_stage", "to_stage", "reason", "transitioned_at"],
            changes,
        )
    )
    changed = int(inserted.rowcount or 0)  # type: ignore[attr-defined]
    if changed:
        this_run = (
            LifecycleTransition.shop_id == shop_id,
            LifecycleTransition.id > last_id,
            LifecycleTransition.transitioned_at == at(now),
        )
        await session.execute(
            update(CustomerLifecycle)
            .where(
                CustomerLifecycle.shop_id == shop_id,
                CustomerLifecycle.customer_id == LifecycleTransition.customer_id,
                LifecycleTransition.from_stage.is_not(None),
                *this_run,
            )
            .values(stage=LifecycleTransition.to_stage, since=LifecycleTransition.transitioned_at)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            insert(CustomerLifecycle).from_select(
                ["shop_id", "customer_id", "stage", "since"],
                select(
                    LifecycleTransition.shop_id,
                    LifecycleTransition.customer_id,
                    LifecycleTransition.to_stage,
                    LifecycleTransition.transitioned_at,
                ).where(LifecycleTransition.from_stage.is_(None), *this_run),
            )
        )
    if customer_ids is None:
        await session.execute(
            delete(CustomerLifecycle)
            .where(
                CustomerLifecycle.shop_id == shop_id,
                CustomerLifecycle.customer_id.in_(
                    scoped(Customer, shop_id, Customer.id).where(Customer.status != STATUS_ACTIVE)
                ),
            )
            .execution_options(synchronize_session=False)
        )
        settings.lifecycle_computed_at = now
        if settings.id is None:
            session.add(settings)
    await session.flush()
    return LifecycleStats(
        evaluated=evaluated,
        changed=changed,
        stages=await lifecycle_distribution(session=session, shop_id=shop_id),
        computed_at=now,
    )


async def lifecycle_distribution(*, session: AsyncSession, shop_id: int) -> dict[str, int]:
    rows = await session.execute(
        scoped(CustomerLifecycle, shop_id, CustomerLifecycle.stage, func.count()).group_by(
            CustomerLifecycle.stage
        )
    )
    counts: dict[str, int] = {key: n for key, n in rows}
    return {stage: counts.get(stage, 0) for stage in LIFECYCLE_STAGES}


async def stage_flows(
    *, session: AsyncSession, shop_id: int, since: dt.datetime
) -> list[tuple[str | None, str, int]]:
    """(from stage, to stage, customers) of the transitions since `since`, largest first."""
    statement = (
        scoped(
            LifecycleTransition,
            shop_id,
            LifecycleTransition.from_stage,
            LifecycleTransition.to_stage,
            func.count(),
        )
        .where(LifecycleTransition.transitioned_at >= at(since, "since"))
        .group_by(LifecycleTransition.from_stage, LifecycleTransition.to_stage)
        .order_by(func.count().desc(), LifecycleTransition.to_stage)
    )
    return [(a, b, n) for a, b, n in await session.execute(statement)]


async def get_customer_lifecycle(
    *, session: AsyncSession, shop_id: int, customer_id: int
) -> CustomerLifecycle | None:
    # Bulk updates bypass the session: read the row as it is now, not as the session saw it.
    statement = (
        scoped(CustomerLifecycle, shop_id)
        .where(CustomerLifecycle.customer_id == customer_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def list_transitions(
    *, session: AsyncSession, shop_id: int, customer_id: int, limit: int = 20
) -> list[LifecycleTransition]:
    statement = (
        scoped(LifecycleTransition, shop_id)
        .where(LifecycleTransition.customer_id == customer_id)
        .order_by(LifecycleTransition.transitioned_at.desc(), LifecycleTransition.id.desc())
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())
