"""JSON routes of communities: define, members, health, promotion rules, join-link QR codes,
and the public signed join callback."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from liveloop.core.database import utcnow
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput, NotFound, validation_details
from liveloop.core.schemas import PageOut, parse_id
from liveloop.customers import service as customers_service
from liveloop.customers.channel_codes.qr import KINDS, qr_image
from liveloop.customers.communities import callbacks, service
from liveloop.customers.communities.models import Community
from liveloop.customers.communities.schemas import (
    CommunityIn,
    CommunityOut,
    CommunityUpdate,
    CommunityWithHealthOut,
    HealthOut,
    JoinCallbackIn,
    MemberIn,
    MemberOut,
    PromotionRuleIn,
    PromotionRuleOut,
)
from liveloop.shops import service as shops_service
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor, system_actor

log = structlog.get_logger(__name__)

router = APIRouter()
console = APIRouter(prefix="/api/v1", tags=["communities"], dependencies=[Depends(current_actor)])
public = APIRouter(prefix="/api/v1/public/communities", tags=["communities (callbacks)"])

Reader = Annotated[Actor, requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, requires(P.CUSTOMERS_WRITE)]
ShopManager = Annotated[Actor, requires(P.SHOP_MANAGE)]
PageNumber = Annotated[int, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=500)]


def with_health(community: Community, health: service.Health) -> CommunityWithHealthOut:
    out = CommunityWithHealthOut.model_validate(
        {**CommunityOut.model_validate(community).model_dump(), "health": vars(health)}
    )
    return out


@console.get("/communities", response_model=list[CommunityWithHealthOut])
async def list_communities(
    session: DbSession, actor: Reader, include_archived: bool = False
) -> list[CommunityWithHealthOut]:
    """Every community with its health figures (see docs/private-domain.md)."""
    communities = await service.list_communities(
        session=session, shop_id=actor.shop_id, include_archived=include_archived
    )
    health = await service.community_health(
        session=session, shop_id=actor.shop_id, community_ids=[c.id for c in communities]
    )
    return [with_health(c, health[c.id]) for c in communities]


@console.post("/communities", response_model=CommunityOut, status_code=201)
async def create_community(data: CommunityIn, session: DbSession, actor: Writer) -> Community:
    return await service.create_community(session=session, shop_id=actor.shop_id, data=data)


@console.get("/communities/{community_id}", response_model=CommunityWithHealthOut)
async def get_community(
    community_id: int, session: DbSession, actor: Reader
) -> CommunityWithHealthOut:
    community = await service.get_community(
        session=session, shop_id=actor.shop_id, community_id=community_id
    )
    health = await service.community_health(
        session=session, shop_id=actor.shop_id, community_ids=[community.id]
    )
    return with_health(community, health[community.id])


@console.patch("/communities/{community_id}", response_model=CommunityOut)
async def update_community(
    community_id: int, data: CommunityUpdate, session: DbSession, actor: Writer
) -> Community:
    return await service.update_community(
        session=session, shop_id=actor.shop_id, community_id=community_id, data=data
    )


@console.post("/communities/{community_id}/archive", response_model=CommunityOut)
async def archive_community(
    community_id: int, session: DbSession, actor: Writer, archived: bool = True
) -> Community:
    return await service.archive_community(
        session=session, shop_id=actor.shop_id, community_id=community_id, archived=archived
    )


@console.get("/communities/{community_id}/health", response_model=HealthOut)
async def community_health(community_id: int, session: DbSession, actor: Reader) -> Any:
    await service.get_community(session=session, shop_id=actor.shop_id, community_id=community_id)
    health = await service.community_health(
        session=session, shop_id=actor.shop_id, community_ids=[community_id]
    )
    return vars(health[community_id])


@console.get("/communities/{community_id}/members", response_model=PageOut[MemberOut])
async def list_members(
    community_id: int,
    session: DbSession,
    actor: Reader,
    current: bool = True,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[MemberOut]:
    """Current members (or, with current=false, every stay including those who left)."""
    result = await service.list_members(
        session=session,
        shop_id=actor.shop_id,
        community_id=community_id,
        current_only=current,
        page=page,
        per_page=per_page,
    )
    return PageOut.of(result, MemberOut)  # type: ignore[return-value]


@console.post("/communities/{community_id}/members", response_model=MemberOut, status_code=201)
async def add_member(community_id: int, data: MemberIn, session: DbSession, actor: Writer) -> Any:
    """Join (idempotent: a current member gets their stay back); 409 community_full."""
    return await service.join_community(
        session=session,
        shop_id=actor.shop_id,
        community_id=community_id,
        customer_id=data.customer_id,
        source=data.source,
        live_session_id=data.live_session_id,
        trigger=data.trigger,
    )


@console.delete("/communities/{community_id}/members/{customer_id}", response_model=MemberOut)
async def remove_member(
    community_id: int, customer_id: int, session: DbSession, actor: Writer
) -> Any:
    """The customer leaves: their current stay gets left_at (history is kept)."""
    stay = await service.leave_community(
        session=session, shop_id=actor.shop_id, community_id=community_id, customer_id=customer_id
    )
    if stay is None:
        raise NotFound(
            f"customer {customer_id} is not a member of community {community_id}",
            code="member_not_found",
            field="customer_id",
        )
    return stay


@console.get("/communities/{community_id}/qr.{kind}")
async def join_qr(community_id: int, kind: str, session: DbSession, actor: Reader) -> Response:
    """The QR code of the community's join_url, PNG or SVG."""
    if kind not in KINDS:
        raise NotFound(f"no QR code as .{kind}; use .png or .svg", code="qr_kind_not_found")
    community = await service.get_community(
        session=session, shop_id=actor.shop_id, community_id=community_id
    )
    if not community.join_url:
        raise NotFound(
            f"community {community.name} has no join_url", code="no_join_url", field="join_url"
        )
    return Response(qr_image(community.join_url, kind), media_type=KINDS[kind])


@console.get("/customers/{customer_id}/communities", response_model=list[MemberOut])
async def customer_communities(customer_id: int, session: DbSession, actor: Reader) -> Any:
    await customers_service.get_customer(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    stays = await service.customer_communities(
        session=session, shop_id=actor.shop_id, customer_id=customer_id
    )
    return [stay for stay, _ in stays]


# ------------------------------------------------------------------------ promotion rules


@console.get("/community-promotion-rules", response_model=list[PromotionRuleOut])
async def list_rules(session: DbSession, actor: Reader) -> Any:
    return await service.list_promotion_rules(session=session, shop_id=actor.shop_id)


@console.post("/community-promotion-rules", response_model=PromotionRuleOut, status_code=201)
async def create_rule(data: PromotionRuleIn, session: DbSession, actor: Writer) -> Any:
    return await service.create_promotion_rule(session=session, shop_id=actor.shop_id, data=data)


@console.delete("/community-promotion-rules/{promotion_rule_id}", status_code=204)
async def delete_rule(promotion_rule_id: int, session: DbSession, actor: Writer) -> Response:
    await service.delete_promotion_rule(
        session=session, shop_id=actor.shop_id, rule_id=promotion_rule_id
    )
    return Response(status_code=204)


@console.post("/community-promotion-rules/{promotion_rule_id}/run")
async def run_rule(promotion_rule_id: int, session: DbSession, actor: Writer) -> dict[str, int]:
    """Run the rule now (the nightly job runs every active rule)."""
    promoted = await service.run_promotion_rule(
        session=session, shop_id=actor.shop_id, rule_id=promotion_rule_id
    )
    return {"promoted": promoted}


# ------------------------------------------------------------------------ join callback


@console.get("/communities-callback-key")
async def callback_key(request: Request, actor: ShopManager) -> dict[str, str]:
    """The shop's key for signing join callbacks (hex), and where to send them."""
    key = callbacks.join_callback_key(
        request.app.state.settings.resolved_secret_key(), actor.shop_id
    )
    return {
        "key": key.hex(),
        "url": "/api/v1/public/communities/join-callback",
        "shop_header": callbacks.SHOP_HEADER,
    }


@public.post("/join-callback")
async def join_callback(request: Request, session: DbSession) -> JSONResponse:
    """A join (or leave) reported by a channel, signed with the shop's key (see the docs)."""
    body = await request.body()
    shop_id = parse_id(request.headers.get(callbacks.SHOP_HEADER, ""))
    if shop_id is None:
        raise InvalidInput(f"send the shop id in {callbacks.SHOP_HEADER}", field="shop")
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    signature = request.headers.get(callbacks.SIGNATURE_HEADER, "")
    key = callbacks.join_callback_key(request.app.state.settings.resolved_secret_key(), shop.id)
    try:
        callbacks.verify_join_callback(
            key,
            timestamp=request.headers.get(callbacks.TIMESTAMP_HEADER, ""),
            signature=signature,
            body=body,
            now=utcnow(),
        )
    except callbacks.ForgedCallback as error:
        # Returned, not raised: the request's unit of work commits the audit line.
        log.warning("community_join_callback_refused", shop_id=shop.id, reason=str(error))
        await shops_service.record_audit(
            session=session,
            actor=system_actor(shop.id, label="join callback"),
            action="community.join_callback_refused",
            details={"reason": str(error), "ip": request.client.host if request.client else ""},
        )
        return JSONResponse(
            {"code": "bad_signature", "message": str(error), "field": callbacks.SIGNATURE_HEADER},
            status_code=401,
        )
    try:
        data = JoinCallbackIn.model_validate_json(body)
    except ValidationError as error:
        first = validation_details(error.errors())[0]
        raise InvalidInput(
            f"{first['field'] or 'body'}: {first['message']}", field=first["field"]
        ) from None
    outcome = await callbacks.apply_join_callback(
        session=session, shop_id=shop.id, data=data, signature=signature
    )
    return JSONResponse(outcome)


router.include_router(public)
router.include_router(console)
