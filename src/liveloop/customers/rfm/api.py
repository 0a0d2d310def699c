"""JSON routes of RFM (settings, distribution, recompute) and lifecycle (stages, flows)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from liveloop.core.database import utcnow
from liveloop.core.deps import DbSession
from liveloop.customers import service as customers_service
from liveloop.customers.rfm import service
from liveloop.customers.rfm.schemas import (
    CountOut,
    CustomerRfmOut,
    FlowOut,
    LifecycleOut,
    RecomputeOut,
    RfmDistributionOut,
    RfmSettingsIn,
    RfmSettingsOut,
    TransitionOut,
)
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor, record_audit

router = APIRouter(prefix="/api/v1", tags=["rfm"], dependencies=[Depends(current_actor)])

Reader = Annotated[Actor, requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, requires(P.CUSTOMERS_WRITE)]
FlowDays = Annotated[int, Query(ge=1, le=365)]


def _counts(counts: dict[str, int], labels: dict[str, tuple[str, str]]) -> list[CountOut]:
    return [
        CountOut(key=key, label_zh=labels[key][0], label_en=labels[key][1], customers=n)
        for key, n in counts.items()
    ]


@router.get("/rfm/settings", response_model=RfmSettingsOut)
async def get_settings(session: DbSession, actor: Reader) -> RfmSettingsOut:
    settings = await service.get_settings(session=session, shop_id=actor.shop_id)
    return RfmSettingsOut.model_validate(settings)


@router.put("/rfm/settings", response_model=RfmSettingsOut)
async def update_settings(data: RfmSettingsIn, session: DbSession, actor: Writer) -> RfmSettingsOut:
    lifecycle = data.lifecycle.model_dump(exclude_unset=True) if data.lifecycle else None
    settings = await service.update_settings(
        session=session,
        shop_id=actor.shop_id,
        window_days=data.window_days,
        scoring=data.scoring,
        r_thresholds=data.r_thresholds,
        f_thresholds=data.f_thresholds,
        m_thresholds=data.m_thresholds,
        lifecycle=lifecycle,
    )
    await record_audit(
        session=session,
        actor=actor,
        action="rfm.settings",
        target_type="shop",
        target_id=actor.shop_id,
        details=data.model_dump(exclude_unset=True),
    )
    return RfmSettingsOut.model_validate(settings)


@router.get("/rfm/distribution", response_model=RfmDistributionOut)
async def distribution(session: DbSession, actor: Reader) -> RfmDistributionOut:
    settings = await service.get_settings(session=session, shop_id=actor.shop_id)
    counts = await service.rfm_distribution(session=session, shop_id=actor.shop_id)
    return RfmDistributionOut(
        computed_at=settings.rfm_computed_at, segments=_counts(counts, service.SEGMENT_LABELS)
    )


@router.post("/rfm/recompute", response_model=RecomputeOut)
async def recompute(session: DbSession, actor: Writer) -> RecomputeOut:
    """Recompute RFM and then lifecycle stages now (the nightly job also runs tag rules)."""
    now = utcnow()
    stats = await service.recompute_rfm(session=session, shop_id=actor.shop_id, now=now)
    stages = await service.recompute_lifecycle(session=session, shop_id=actor.shop_id, now=now)
    return RecomputeOut(
        customers=stats.customers,
        buyers=stats.buyers,
        stage_changes=stages.changed,
        computed_at=now,
    )


@router.get("/rfm/customers/{customer_id}", response_model=CustomerRfmOut)
async def customer_rfm(customer_id: int, session: DbSession, actor: Reader) -> CustomerRfmOut:
    """The customer's RFM scores and lifecycle stage (empty before the first computation)."""
    await customers_service.get_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    row = await service.get_customer_rfm(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    stage = await service.get_customer_lifecycle(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    out = CustomerRfmOut(customer_id=customer_id)
    if row is not None:
        out = CustomerRfmOut(
            customer_id=customer_id,
            recency_days=row.recency_days,
            frequency=row.frequency,
            monetary_fen=row.monetary_fen,
            r_score=row.r_score,
            f_score=row.f_score,
            m_score=row.m_score,
            segment=row.segment,
            computed_at=row.computed_at,
        )
    if stage is not None:
        out.stage, out.stage_since = stage.stage, stage.since
    return out


@router.get("/lifecycle", response_model=LifecycleOut)
async def lifecycle(session: DbSession, actor: Reader, flow_days: FlowDays = 30) -> LifecycleOut:
    """Customers per stage, and the stage changes of the last `flow_days` days."""
    settings = await service.get_settings(session=session, shop_id=actor.shop_id)
    counts = await service.lifecycle_distribution(session=session, shop_id=actor.shop_id)
    flows = await service.stage_flows(
        session=session, shop_id=actor.shop_id, since=utcnow() - dt.timedelta(days=flow_days)
    )
    return LifecycleOut(
        computed_at=settings.lifecycle_computed_at,
        stages=_counts(counts, service.STAGE_LABELS),
        flows=[FlowOut(from_stage=a, to_stage=b, customers=n) for a, b, n in flows],
        flow_days=flow_days,
    )


@router.post("/lifecycle/recompute", response_model=RecomputeOut)
async def recompute_lifecycle(session: DbSession, actor: Writer) -> RecomputeOut:
    now = utcnow()
    stages = await service.recompute_lifecycle(session=session, shop_id=actor.shop_id, now=now)
    return RecomputeOut(
        customers=stages.evaluated, buyers=0, stage_changes=stages.changed, computed_at=now
    )


@router.get("/lifecycle/customers/{customer_id}/transitions", response_model=list[TransitionOut])
async def transitions(
    customer_id: int,
    session: DbSession,
    actor: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[TransitionOut]:
    await customers_service.get_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    rows = await service.list_transitions(
        session=session, shop_id=actor.shop_id, customer_id=customer_id, limit=limit
    )
    return [TransitionOut.model_validate(row) for row in rows]
