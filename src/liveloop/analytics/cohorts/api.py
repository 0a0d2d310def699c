"""JSON routes of retention, cohorts and value figures, and CRUD of the costs they use.

Reads need analytics.read; entering costs needs live.manage. docs/value-figures.md defines
every figure."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from liveloop.analytics.cohorts import service, value
from liveloop.core.database import get_scoped
from liveloop.core.deps import DbSession
from liveloop.outreach.broadcasts.models import Broadcast
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(
    prefix="/api/v1/analytics", tags=["analytics"], dependencies=[Depends(current_actor)]
)

Analyst = Annotated[Actor, requires(P.ANALYTICS_READ)]
CostEditor = Annotated[Actor, requires(P.LIVE_MANAGE)]
Start = Annotated[dt.date | None, Query()]
End = Annotated[dt.date | None, Query()]


@router.get("/cohorts/retention")
async def get_retention(
    session: DbSession,
    actor: Analyst,
    start: Start = None,
    end: End = None,
    period: str = "month",
    activity: str = "purchase",
    cohort: str = "period",
) -> dict[str, Any]:
    """Cohort triangle: `activity` purchase | live, `period` week | month, `cohort` period |
    channel | first_live; customers whose first activity falls in [start, end]."""
    return await service.retention(
        session=session,
        shop_id=actor.shop_id,
        start=start,
        end=end,
        period=period,
        activity=activity,
        cohort=cohort,
    )


@router.get("/cohorts/ltv")
async def get_ltv(
    session: DbSession, actor: Analyst, start: Start = None, end: End = None
) -> dict[str, Any]:
    """Historical LTV: cumulative net revenue per customer by months since first purchase."""
    return await service.ltv_by_cohort(session=session, shop_id=actor.shop_id, start=start, end=end)


@router.get("/value/costs")
async def list_costs(
    session: DbSession,
    actor: Analyst,
    live_session_id: int | None = None,
    broadcast_id: int | None = None,
    affiliate_id: int | None = None,
) -> dict[str, Any]:
    costs = await value.list_costs(
        session=session,
        shop_id=actor.shop_id,
        live_session_id=live_session_id,
        broadcast_id=broadcast_id,
        affiliate_id=affiliate_id,
    )
    return {"items": [value.cost_out(c) for c in costs]}


@router.post("/value/costs", status_code=201)
async def create_cost(data: value.CostIn, session: DbSession, actor: CostEditor) -> dict[str, Any]:
    cost = await value.do_create_cost(session=session, shop_id=actor.shop_id, data=data)
    return value.cost_out(cost)


@router.get("/value/costs/{cost_id}")
async def get_cost(cost_id: int, session: DbSession, actor: Analyst) -> dict[str, Any]:
    cost = await value.access_cost(session=session, shop_id=actor.shop_id, cost_id=cost_id)
    return value.cost_out(cost)


@router.put("/value/costs/{cost_id}")
async def update_cost(
    cost_id: int, data: value.CostIn, session: DbSession, actor: CostEditor
) -> dict[str, Any]:
    cost = await value.do_update_cost(
        session=session, shop_id=actor.shop_id, cost_id=cost_id, data=data
    )
    return value.cost_out(cost)


@router.delete("/value/costs/{cost_id}", status_code=204)
async def delete_cost(cost_id: int, session: DbSession, actor: CostEditor) -> Response:
    await value.do_delete_cost(session=session, shop_id=actor.shop_id, cost_id=cost_id)
    return Response(status_code=204)


@router.get("/value/live/{live_session_id}")
async def live_value(live_session_id: int, session: DbSession, actor: Analyst) -> dict[str, Any]:
    """ROI and ROAS of a live session."""
    return await value.live_session_value(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )


@router.get("/value/broadcasts/{broadcast_id}")
async def broadcast_value(broadcast_id: int, session: DbSession, actor: Analyst) -> dict[str, Any]:
    """ROI and ROAS of a broadcast (orders with its `bc-{id}-…` source codes)."""
    await get_scoped(
        session, Broadcast, shop_id=actor.shop_id, record_id=broadcast_id, label="broadcast"
    )
    return await value.broadcast_value(
        session=session, shop_id=actor.shop_id, broadcast_id=broadcast_id
    )


@router.get("/value/kols/{affiliate_id}")
async def kol_value(affiliate_id: int, session: DbSession, actor: Analyst) -> dict[str, Any]:
    """ROI and ROAS of a KOL/affiliate."""
    return await value.kol_value(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)


@router.get("/value/cac")
async def cac(
    session: DbSession, actor: Analyst, start: Start = None, end: End = None
) -> dict[str, Any]:
    return await value.cac_by_channel(session=session, shop_id=actor.shop_id, start=start, end=end)


@router.get("/value/aarrr")
async def aarrr(
    session: DbSession, actor: Analyst, start: Start = None, end: End = None
) -> dict[str, Any]:
    return await value.aarrr(session=session, shop_id=actor.shop_id, start=start, end=end)


@router.get("/value/fission/{fission_campaign_id}/k-factor")
async def k_factor(fission_campaign_id: int, session: DbSession, actor: Analyst) -> dict[str, Any]:
    return await value.k_factor(
        session=session, shop_id=actor.shop_id, campaign_id=fission_campaign_id
    )


@router.get("/value/kols")
async def kol_report(
    session: DbSession, actor: Analyst, start: Start = None, end: End = None
) -> dict[str, Any]:
    """Per KOL: GMV, orders, commission, refunds, new customers brought, in [start, end]."""
    return await value.kol_report(session=session, shop_id=actor.shop_id, start=start, end=end)
