"""Console JSON routes of points and tiers: balances and ledgers, manual adjustments (audited),
settings, earn rules, tiers and the redemption catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from liveloop.core.deps import DbSession
from liveloop.customers.points import earning, redemption, tiers
from liveloop.customers.points import service as points
from liveloop.customers.points.schemas import (
    AdjustIn,
    EntryOut,
    ItemIn,
    ItemOut,
    ItemUpdate,
    MismatchOut,
    PointsOut,
    RuleIn,
    RuleOut,
    RuleUpdate,
    SettingsIn,
    SettingsOut,
    TierBrief,
    TierChangeOut,
    TierIn,
    TierOut,
    TierUpdate,
)
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["points"], dependencies=[Depends(current_actor)])

Reader = Annotated[Actor, requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, requires(P.CUSTOMERS_WRITE)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=80)]


async def points_out(session: DbSession, shop_id: int, customer_id: int, limit: int) -> PointsOut:
    held = await points.get_balance(session=session, shop_id=shop_id, customer_id=customer_id)
    tier = await tiers.customer_tier(session=session, shop_id=shop_id, customer_id=customer_id)
    entries = await points.list_entries(
        session=session, shop_id=shop_id, customer_id=customer_id, per_page=limit
    )
    return PointsOut(
        customer_id=customer_id,
        balance=held.balance,
        lifetime_earned=held.lifetime_earned,
        tier=TierBrief.model_validate(tier) if tier else None,
        benefits=dict(tier.benefits or {}) if tier else {},
        entries=[EntryOut.model_validate(e) for e in entries.items],
    )


@router.get("/customers/{customer_id}/points", response_model=PointsOut)
async def customer_points(
    customer_id: int,
    session: DbSession,
    actor: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PointsOut:
    return await points_out(session, actor.shop_id, customer_id, limit)


@router.post(
    "/customers/{customer_id}/points/adjustments", response_model=EntryOut, status_code=201
)
async def adjust(
    customer_id: int,
    data: AdjustIn,
    session: DbSession,
    actor: Writer,
    idempotency_key: IdempotencyKey = None,
) -> EntryOut:
    """Add or remove points by hand with a reason (audited)."""
    entry = await points.adjust_points(
        session=session,
        actor=actor,
        customer_id=customer_id,
        delta=data.delta,
        note=data.reason,
        idempotency_key=idempotency_key,
    )
    return EntryOut.model_validate(entry)


@router.get("/points/settings", response_model=SettingsOut)
async def get_settings(session: DbSession, actor: Reader) -> SettingsOut:
    return SettingsOut.model_validate(
        await points.get_settings(session=session, shop_id=actor.shop_id)
    )


@router.patch("/points/settings", response_model=SettingsOut)
async def update_settings(data: SettingsIn, session: DbSession, actor: Writer) -> SettingsOut:
    found = await points.update_settings(
        session=session,
        shop_id=actor.shop_id,
        changes=data.model_dump(exclude_none=True),
        actor=actor,
    )
    return SettingsOut.model_validate(found)


@router.get("/points/balance-check", response_model=list[MismatchOut])
async def balance_check(session: DbSession, actor: Reader) -> list[MismatchOut]:
    """Customers whose balance differs from their ledger's sum (empty when all is well)."""
    found = await points.check_balances(session=session, shop_id=actor.shop_id)
    return [
        MismatchOut(customer_id=m.customer_id, balance=m.balance, ledger_sum=m.ledger_sum)
        for m in found
    ]


# ---------------------------------------------------------------------------------- rules


@router.get("/points/earn-rules", response_model=list[RuleOut])
async def list_rules(session: DbSession, actor: Reader) -> list[RuleOut]:
    found = await earning.list_rules(session=session, shop_id=actor.shop_id)
    return [RuleOut.model_validate(rule) for rule in found]


@router.post("/points/earn-rules", response_model=RuleOut, status_code=201)
async def create_rule(data: RuleIn, session: DbSession, actor: Writer) -> RuleOut:
    rule = await earning.create_rule(session=session, actor=actor, values=data.model_dump())
    return RuleOut.model_validate(rule)


@router.patch("/points/earn-rules/{earn_rule_id}", response_model=RuleOut)
async def update_rule(
    earn_rule_id: int, data: RuleUpdate, session: DbSession, actor: Writer
) -> RuleOut:
    rule = await earning.update_rule(
        session=session,
        actor=actor,
        rule_id=earn_rule_id,
        changes=data.model_dump(exclude_unset=True),
    )
    return RuleOut.model_validate(rule)


@router.delete("/points/earn-rules/{earn_rule_id}", status_code=204)
async def delete_rule(earn_rule_id: int, session: DbSession, actor: Writer) -> Response:
    await earning.delete_rule(session=session, actor=actor, rule_id=earn_rule_id)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------- tiers


@router.get("/points/tiers", response_model=list[TierOut])
async def list_tiers(session: DbSession, actor: Reader) -> list[TierOut]:
    found = await tiers.list_tiers(session=session, shop_id=actor.shop_id)
    counts = await tiers.members_per_tier(session=session, shop_id=actor.shop_id)
    result = []
    for tier in found:
        out = TierOut.model_validate(tier)
        out.members = counts.get(tier.id, 0)
        result.append(out)
    return result


@router.post("/points/tiers", response_model=TierOut, status_code=201)
async def create_tier(data: TierIn, session: DbSession, actor: Writer) -> TierOut:
    tier = await tiers.create_tier(session=session, actor=actor, values=data.model_dump())
    return TierOut.model_validate(tier)


@router.get("/points/tiers/{tier_id}", response_model=TierOut)
async def get_tier(tier_id: int, session: DbSession, actor: Reader) -> TierOut:
    tier = await tiers.get_tier(session=session, shop_id=actor.shop_id, tier_id=tier_id)
    out = TierOut.model_validate(tier)
    out.members = (await tiers.members_per_tier(session=session, shop_id=actor.shop_id)).get(
        tier.id, 0
    )
    return out


@router.patch("/points/tiers/{tier_id}", response_model=TierOut)
async def update_tier(tier_id: int, data: TierUpdate, session: DbSession, actor: Writer) -> TierOut:
    tier = await tiers.update_tier(
        session=session, actor=actor, tier_id=tier_id, changes=data.model_dump(exclude_unset=True)
    )
    return TierOut.model_validate(tier)


@router.delete("/points/tiers/{tier_id}", status_code=204)
async def delete_tier(tier_id: int, session: DbSession, actor: Writer) -> Response:
    await tiers.delete_tier(session=session, actor=actor, tier_id=tier_id)
    return Response(status_code=204)


@router.post("/points/tiers/recompute")
async def recompute(session: DbSession, actor: Writer) -> dict[str, int]:
    """Place every customer now (what the nightly job does)."""
    return await tiers.recompute_tiers(session=session, shop_id=actor.shop_id)


@router.get("/points/tier-changes", response_model=list[TierChangeOut])
async def tier_changes(
    session: DbSession,
    actor: Reader,
    customer_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TierChangeOut]:
    found = await tiers.list_tier_changes(
        session=session, shop_id=actor.shop_id, customer_id=customer_id, limit=limit
    )
    return [TierChangeOut.model_validate(change) for change in found]


# ----------------------------------------------------------------------- redemption items


@router.get("/points/redemption-items", response_model=list[ItemOut])
async def list_items(session: DbSession, actor: Reader) -> list[ItemOut]:
    found = await redemption.list_items(session=session, shop_id=actor.shop_id)
    return [ItemOut.model_validate(item) for item in found]


@router.post("/points/redemption-items", response_model=ItemOut, status_code=201)
async def create_item(data: ItemIn, session: DbSession, actor: Writer) -> ItemOut:
    item = await redemption.create_item(session=session, actor=actor, values=data.model_dump())
    return ItemOut.model_validate(item)


@router.patch("/points/redemption-items/{item_id}", response_model=ItemOut)
async def update_item(item_id: int, data: ItemUpdate, session: DbSession, actor: Writer) -> ItemOut:
    item = await redemption.update_item(
        session=session, actor=actor, item_id=item_id, changes=data.model_dump(exclude_unset=True)
    )
    return ItemOut.model_validate(item)


@router.delete("/points/redemption-items/{item_id}", status_code=204)
async def delete_item(item_id: int, session: DbSession, actor: Writer) -> Response:
    await redemption.delete_item(session=session, actor=actor, item_id=item_id)
    return Response(status_code=204)
