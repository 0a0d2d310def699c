"""Console pages of points and tiers: settings, tiers with their members, earn rules, the
redemption catalogue, and the points panel of the customer page (with a manual adjustment)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.coupons import service as coupons_service
from liveloop.core.deps import DbSession
from liveloop.core.errors import LiveLoopError
from liveloop.core.schemas import parse_id
from liveloop.customers.points import earning, redemption, tiers
from liveloop.customers.points import service as points
from liveloop.customers.points.schemas import Benefits, ItemIn, RuleIn, SettingsIn, TierIn
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/points")

Reader = Annotated[Actor, console_requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, console_requires(P.CUSTOMERS_WRITE)]
FormText = Annotated[str, Form()]

RULE_LABELS = {
    "check_in": N_("Daily check-in"),
    "comment": N_("Comment"),
    "share": N_("Share"),
    "watch_minutes": N_("Watch minute"),
    "purchase": N_("Purchase (per ¥1)"),
    "review": N_("Review"),
}


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(getattr(exc, "message", exc))


FormErrors = (LiveLoopError, ValidationError, ValueError)


def _number(text: str) -> int | None:
    return parse_id(text) if text.strip() else None


@pages.get("", response_class=HTMLResponse)
async def points_home(request: Request, session: DbSession, actor: Reader) -> HTMLResponse:
    shop_id = actor.shop_id
    all_tiers = await tiers.list_tiers(session=session, shop_id=shop_id)
    coupons = await coupons_service.list_coupons(session=session, shop_id=shop_id, per_page=200)
    return render(
        request,
        "points/home.html",
        {
            "settings": await points.get_settings(session=session, shop_id=shop_id),
            "tiers": all_tiers,
            "members": await tiers.members_per_tier(session=session, shop_id=shop_id),
            "rules": await earning.list_rules(session=session, shop_id=shop_id),
            "rule_labels": {k: translate(request, v) for k, v in RULE_LABELS.items()},
            "items": await redemption.list_items(session=session, shop_id=shop_id),
            "coupons": {c.id: c for c in coupons.items},
            "title": translate(request, N_("Points and tiers")),
        },
    )


@pages.post("/settings")
async def save_settings(
    request: Request,
    session: DbSession,
    actor: Writer,
    expiry_mode: FormText = "",
    expiry_days: FormText = "",
    tier_basis: FormText = "",
    tier_window_days: FormText = "",
    downgrade_grace_days: FormText = "",
) -> Response:
    try:
        data = SettingsIn(
            expiry_mode=expiry_mode or None,  # type: ignore[arg-type]
            expiry_days=_number(expiry_days),
            tier_basis=tier_basis or None,  # type: ignore[arg-type]
            tier_window_days=_number(tier_window_days),
            downgrade_grace_days=_number(downgrade_grace_days),
        )
        await points.update_settings(
            session=session,
            shop_id=actor.shop_id,
            changes=data.model_dump(exclude_none=True),
            actor=actor,
        )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Settings saved.")))
    return redirect("/console/points")


@pages.post("/tiers")
async def create_tier(
    request: Request,
    session: DbSession,
    actor: Writer,
    name: FormText = "",
    level: FormText = "",
    min_points: FormText = "",
    min_spend_yuan: FormText = "",
    coupon_ids: FormText = "",
    member_discount_percent: FormText = "",
    priority_service: FormText = "",
    vip_sessions: FormText = "",
) -> Response:
    try:
        spend = _number(min_spend_yuan)
        data = TierIn(
            name=name,
            level=_number(level) or 0,
            min_points=_number(min_points),
            min_spend_fen=spend * 100 if spend is not None else None,
            benefits=Benefits(
                coupon_ids=[c for c in (_number(p) for p in coupon_ids.split(",")) if c],
                member_discount_percent=_number(member_discount_percent),
                priority_service=priority_service == "1",
                vip_sessions=vip_sessions == "1",
            ),
        )
        await tiers.create_tier(session=session, actor=actor, values=data.model_dump())
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Tier created.")))
    return redirect("/console/points")


@pages.get("/tiers/{tier_id}", response_class=HTMLResponse)
async def tier_detail(
    request: Request, tier_id: int, session: DbSession, actor: Reader
) -> HTMLResponse:
    tier = await tiers.get_tier(session=session, shop_id=actor.shop_id, tier_id=tier_id)
    return render(
        request,
        "points/tier.html",
        {
            "tier": tier,
            "members": await tiers.tier_members(
                session=session, shop_id=actor.shop_id, tier_id=tier.id, limit=200
            ),
            "count": (await tiers.members_per_tier(session=session, shop_id=actor.shop_id)).get(
                tier.id, 0
            ),
            "title": tier.name,
        },
    )


@pages.post("/tiers/{tier_id}/delete")
async def delete_tier(
    request: Request, tier_id: int, session: DbSession, actor: Writer
) -> Response:
    await tiers.delete_tier(session=session, actor=actor, tier_id=tier_id)
    flash(request, translate(request, N_("Tier deleted.")))
    return redirect("/console/points")


@pages.post("/tiers/recompute")
async def recompute(request: Request, session: DbSession, actor: Writer) -> Response:
    counts = await tiers.recompute_tiers(session=session, shop_id=actor.shop_id)
    flash(
        request,
        translate(
            request,
            N_("Tiers recomputed: %(up)s up, %(down)s down, %(grace)s in grace."),
            up=counts["upgraded"],
            down=counts["downgraded"],
            grace=counts["in_grace"],
        ),
    )
    return redirect("/console/points")


@pages.post("/rules")
async def create_rule(
    request: Request,
    session: DbSession,
    actor: Writer,
    event_type: FormText = "",
    points_: Annotated[str, Form(alias="points")] = "",
    daily_cap: FormText = "",
) -> Response:
    try:
        data = RuleIn(
            event_type=event_type,  # type: ignore[arg-type]
            points=_number(points_) or 0,
            daily_cap=_number(daily_cap),
        )
        await earning.create_rule(session=session, actor=actor, values=data.model_dump())
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Earn rule saved.")))
    return redirect("/console/points")


@pages.post("/rules/{rule_id}/toggle")
async def toggle_rule(
    request: Request, rule_id: int, session: DbSession, actor: Writer
) -> Response:
    rule = await earning.get_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)
    await earning.update_rule(
        session=session, actor=actor, rule_id=rule.id, changes={"is_active": not rule.is_active}
    )
    flash(request, translate(request, N_("Earn rule saved.")))
    return redirect("/console/points")


@pages.post("/rules/{rule_id}/delete")
async def delete_rule(
    request: Request, rule_id: int, session: DbSession, actor: Writer
) -> Response:
    await earning.delete_rule(session=session, actor=actor, rule_id=rule_id)
    flash(request, translate(request, N_("Earn rule deleted.")))
    return redirect("/console/points")


@pages.post("/items")
async def create_item(
    request: Request,
    session: DbSession,
    actor: Writer,
    title: FormText = "",
    coupon_id: FormText = "",
    points_price: FormText = "",
    stock: FormText = "",
) -> Response:
    try:
        data = ItemIn(
            title=title,
            coupon_id=_number(coupon_id) or 0,
            points_price=_number(points_price) or 0,
            stock=_number(stock),
        )
        await redemption.create_item(session=session, actor=actor, values=data.model_dump())
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Catalogue item saved.")))
    return redirect("/console/points")


@pages.post("/items/{item_id}/delete")
async def delete_item(
    request: Request, item_id: int, session: DbSession, actor: Writer
) -> Response:
    await redemption.delete_item(session=session, actor=actor, item_id=item_id)
    flash(request, translate(request, N_("Catalogue item removed.")))
    return redirect("/console/points")


@pages.post("/customers/{customer_id}/adjust")
async def adjust(
    request: Request,
    customer_id: int,
    session: DbSession,
    actor: Writer,
    delta: FormText = "",
    reason: FormText = "",
) -> Response:
    await points.get_balance(session=session, shop_id=actor.shop_id, customer_id=customer_id)
    text = delta.strip()  # (another shop's customer: 404 above, not a flash)
    sign = -1 if text.startswith("-") else 1
    amount = _number(text.lstrip("+-")) or 0
    try:
        async with session.begin_nested():
            await points.adjust_points(
                session=session,
                actor=actor,
                customer_id=customer_id,
                delta=sign * amount,
                note=reason,
            )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Points adjusted.")))
    return redirect(f"/console/customers/{customer_id}")


async def customer_panel(session: AsyncSession, shop_id: int, customer_id: int) -> dict[str, Any]:
    """What the customer page shows of points: balance, tier and its flags, latest entries."""
    held = await points.get_balance(session=session, shop_id=shop_id, customer_id=customer_id)
    tier = await tiers.customer_tier(session=session, shop_id=shop_id, customer_id=customer_id)
    entries = await points.list_entries(
        session=session, shop_id=shop_id, customer_id=customer_id, per_page=10
    )
    return {
        "balance": held.balance,
        "lifetime_earned": held.lifetime_earned,
        "tier": tier,
        "benefits": dict(tier.benefits or {}) if tier else {},
        "entries": entries.items,
    }


router.include_router(pages)
