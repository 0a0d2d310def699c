"""JSON routes of affiliates for the console and integrators: profiles, codes, product rates,
their orders and commission, the settlement CSV (audited) and the shop's settings."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from liveloop.commerce.affiliates import service
from liveloop.commerce.affiliates.schemas import (
    AffiliateCreate,
    AffiliateOrderOut,
    AffiliateOut,
    AffiliateSettingsIn,
    AffiliateSettingsOut,
    AffiliateSummary,
    AffiliateUpdate,
    CodeCreate,
    CodeOut,
    CommissionOut,
    ProductRateIn,
    ProductRateOut,
)
from liveloop.core.database import paginate, utcnow
from liveloop.core.deps import DbSession
from liveloop.core.schemas import PageOut
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(
    prefix="/api/v1/affiliates", tags=["affiliates"], dependencies=[Depends(current_actor)]
)

Manager = Annotated[Actor, requires(P.ORDERS_MANAGE)]
ShopManager = Annotated[Actor, requires(P.SHOP_MANAGE)]
PageNumber = Annotated[int, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=500)]
StatusFilter = Annotated[str | None, Query(pattern="^(pending|settled|reversed)$")]


def summary_out(summary: dict[str, Any]) -> AffiliateSummary:
    return AffiliateSummary.model_validate(
        {**summary, "affiliate": AffiliateOut.model_validate(summary["affiliate"])}
    )


@router.get("/settings", response_model=AffiliateSettingsOut)
async def get_settings(session: DbSession, actor: Manager) -> AffiliateSettingsOut:
    found = await service.get_settings(session=session, shop_id=actor.shop_id)
    return AffiliateSettingsOut.model_validate(found)


@router.put("/settings", response_model=AffiliateSettingsOut)
async def put_settings(
    data: AffiliateSettingsIn, session: DbSession, actor: ShopManager
) -> AffiliateSettingsOut:
    found = await service.update_settings(session=session, actor=actor, data=data)
    return AffiliateSettingsOut.model_validate(found)


@router.get("/settlement.csv", response_class=Response)
async def settlement_csv(
    session: DbSession,
    actor: Manager,
    affiliate_id: int | None = None,
    status: StatusFilter = None,
) -> Response:
    """One row per commission line (amounts in fen); the export is written to the audit log."""
    if affiliate_id is not None:
        await service.get_affiliate(
            session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id
        )
    rows = await service.settlement_rows(
        session=session, actor=actor, affiliate_id=affiliate_id, status=status
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(service.SETTLEMENT_COLUMNS)
    writer.writerows(rows)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        content="\ufeff" + buffer.getvalue(),  # a BOM, so Excel reads the names as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="commission-{stamp}.csv"'},
    )


@router.get("", response_model=list[AffiliateSummary])
async def list_affiliates(session: DbSession, actor: Manager) -> list[AffiliateSummary]:
    """Every affiliate with orders, GMV and commission pending / settled / reversed (fen)."""
    return [summary_out(s) for s in await service.summaries(session=session, shop_id=actor.shop_id)]


@router.post("", response_model=AffiliateOut, status_code=201)
async def create_affiliate(
    data: AffiliateCreate, session: DbSession, actor: Manager
) -> AffiliateOut:
    affiliate = await service.create_affiliate(session=session, actor=actor, data=data)
    return AffiliateOut.model_validate(affiliate)


@router.get("/{affiliate_id}", response_model=AffiliateSummary)
async def get_affiliate(affiliate_id: int, session: DbSession, actor: Manager) -> AffiliateSummary:
    await service.get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    summaries = await service.summaries(session=session, shop_id=actor.shop_id)
    return summary_out(next(s for s in summaries if s["affiliate"].id == affiliate_id))


@router.patch("/{affiliate_id}", response_model=AffiliateOut)
async def update_affiliate(
    affiliate_id: int, data: AffiliateUpdate, session: DbSession, actor: Manager
) -> AffiliateOut:
    affiliate = await service.update_affiliate(
        session=session, actor=actor, affiliate_id=affiliate_id, data=data
    )
    return AffiliateOut.model_validate(affiliate)


@router.get("/{affiliate_id}/codes", response_model=list[CodeOut])
async def list_codes(affiliate_id: int, session: DbSession, actor: Manager) -> list[CodeOut]:
    await service.get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    codes = await service.list_codes(
        session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id
    )
    return [CodeOut.model_validate(c) for c in codes]


@router.post("/{affiliate_id}/codes", response_model=CodeOut, status_code=201)
async def add_code(
    affiliate_id: int, data: CodeCreate, session: DbSession, actor: Manager
) -> CodeOut:
    code = await service.add_code(
        session=session, actor=actor, affiliate_id=affiliate_id, data=data
    )
    return CodeOut.model_validate(code)


@router.get("/{affiliate_id}/rates", response_model=list[ProductRateOut])
async def list_rates(affiliate_id: int, session: DbSession, actor: Manager) -> list[ProductRateOut]:
    await service.get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    rates = await service.list_product_rates(
        session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id
    )
    return [ProductRateOut.model_validate(r) for r in rates]


@router.put("/{affiliate_id}/rates", response_model=ProductRateOut)
async def set_rate(
    affiliate_id: int, data: ProductRateIn, session: DbSession, actor: Manager
) -> ProductRateOut:
    rate = await service.set_product_rate(
        session=session, actor=actor, affiliate_id=affiliate_id, data=data
    )
    return ProductRateOut.model_validate(rate)


@router.get("/{affiliate_id}/orders", response_model=PageOut[AffiliateOrderOut])
async def list_orders(
    affiliate_id: int,
    session: DbSession,
    actor: Manager,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[AffiliateOrderOut]:
    await service.get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    statement = service.affiliate_orders_query(shop_id=actor.shop_id, affiliate_id=affiliate_id)
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[AffiliateOrderOut].of(result, AffiliateOrderOut)


@router.get("/{affiliate_id}/commissions", response_model=PageOut[CommissionOut])
async def list_commissions(
    affiliate_id: int,
    session: DbSession,
    actor: Manager,
    status: StatusFilter = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[CommissionOut]:
    await service.get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    statement = service.commissions_query(
        shop_id=actor.shop_id, affiliate_id=affiliate_id, status=status
    )
    result = await paginate(session, statement, page=page, per_page=per_page)
    return PageOut[CommissionOut].of(result, CommissionOut)
