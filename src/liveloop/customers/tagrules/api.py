"""JSON routes of tag rules: define, preview, run, and the history of tag changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from liveloop.core.deps import DbSession
from liveloop.customers import service as customers_service
from liveloop.customers.tagrules import service
from liveloop.customers.tagrules.schemas import (
    ConditionIn,
    PreviewOut,
    RunOut,
    TagChangeOut,
    TagRuleIn,
    TagRuleOut,
    TagRuleUpdate,
)
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["tag rules"], dependencies=[Depends(current_actor)])

Reader = Annotated[Actor, requires(P.CUSTOMERS_READ)]
TagManager = Annotated[Actor, requires(P.TAGS_MANAGE)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/tag-rules", response_model=list[TagRuleOut])
async def list_rules(session: DbSession, actor: Reader) -> list[TagRuleOut]:
    rules = await service.list_rules(session=session, shop_id=actor.shop_id)
    return [TagRuleOut.model_validate(rule) for rule in rules]


@router.post("/tag-rules", response_model=TagRuleOut, status_code=201)
async def create_rule(data: TagRuleIn, session: DbSession, actor: TagManager) -> TagRuleOut:
    rule = await service.create_rule(session=session, actor=actor, data=data)
    return TagRuleOut.model_validate(rule)


@router.post("/tag-rules/preview", response_model=PreviewOut)
async def preview(data: ConditionIn, session: DbSession, actor: Reader) -> PreviewOut:
    found = await service.preview_condition(
        session=session, shop_id=actor.shop_id, condition=data.condition
    )
    return PreviewOut(
        matching=found.matching,
        customers=found.customers,
        matches_everyone=found.matches_everyone,
        sample_ids=found.sample_ids,
    )


@router.get("/tag-rules/{rule_id}", response_model=TagRuleOut)
async def get_rule(rule_id: int, session: DbSession, actor: Reader) -> TagRuleOut:
    rule = await service.get_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)
    return TagRuleOut.model_validate(rule)


@router.patch("/tag-rules/{rule_id}", response_model=TagRuleOut)
async def update_rule(
    rule_id: int, data: TagRuleUpdate, session: DbSession, actor: TagManager
) -> TagRuleOut:
    rule = await service.update_rule(session=session, actor=actor, rule_id=rule_id, data=data)
    return TagRuleOut.model_validate(rule)


@router.delete("/tag-rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: int, session: DbSession, actor: TagManager) -> Response:
    await service.delete_rule(session=session, actor=actor, rule_id=rule_id)
    return Response(status_code=204)


@router.post("/tag-rules/{rule_id}/run", response_model=RunOut)
async def run_rule(rule_id: int, session: DbSession, actor: TagManager) -> RunOut:
    """Apply the rule to every customer now (what the nightly run does)."""
    run = await service.apply_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)
    return RunOut(rule_id=run.rule_id, members=run.members, added=run.added, removed=run.removed)


@router.get("/tag-rules/{rule_id}/changes", response_model=list[TagChangeOut])
async def rule_changes(
    rule_id: int, session: DbSession, actor: Reader, limit: Limit = 50
) -> list[TagChangeOut]:
    await service.get_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)
    changes = await service.list_tag_changes(
        session=session, shop_id=actor.shop_id, rule_id=rule_id, limit=limit
    )
    return [TagChangeOut.model_validate(change) for change in changes]


@router.get("/customers/{customer_id}/tag-changes", response_model=list[TagChangeOut])
async def customer_tag_changes(
    customer_id: int, session: DbSession, actor: Reader, limit: Limit = 50
) -> list[TagChangeOut]:
    await customers_service.get_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    changes = await service.list_tag_changes(
        session=session, shop_id=actor.shop_id, customer_id=customer_id, limit=limit
    )
    return [TagChangeOut.model_validate(change) for change in changes]
