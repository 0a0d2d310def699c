"""Pages of outreach consent: the console page (/console/outreach/consent: caps, quiet hours,
reminders, the do-not-contact list) and the public unsubscribe page /u/{token} a customer
opens from a message, without logging in, in Chinese or English."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.outreach.consent import service
from liveloop.outreach.consent.models import ALL_CHANNELS, BLOCK_REASONS
from liveloop.shops import service as shops_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web import i18n
from liveloop.web.console import console_router, form_error_text, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import environment, flash, render, request_language

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/outreach/consent")

Reader = Annotated[Actor, console_requires(P.CUSTOMERS_READ)]
Manager = Annotated[Actor, console_requires(P.OUTREACH_MANAGE)]
FormErrors = (InvalidInput, Conflict, NotFound, ValidationError, ValueError)
PER_PAGE = 50

CHANNEL_LABELS = {
    ALL_CHANNELS: N_("All channels"),
    "email": N_("E-mail"),
    "sms": N_("Text messages"),
    "wecom": N_("WeCom"),
    "webhook": N_("Webhook"),
}
REASON_LABELS = {
    "unsubscribed": N_("Unsubscribed"),
    "bounced": N_("Bounced"),
    "complaint": N_("Complaint"),
    "manual": N_("Manual"),
}
CAP_KEYS = (ALL_CHANNELS, *service.CHANNEL_KEYS)


def page_labels(request: Request, labels: dict[str, str]) -> dict[str, str]:
    return {key: translate(request, text) for key, text in labels.items()}


def policy_data(form: dict[str, str]) -> dict[str, Any]:
    """The policy form: a count and days per key (empty count: no cap of its own)."""
    caps: dict[str, Any] = {}
    for key in CAP_KEYS:
        count_text, days_text = form.get(f"cap_count_{key}", ""), form.get(f"cap_days_{key}", "")
        if not count_text:
            continue
        count, days = parse_id(count_text), parse_id(days_text or "7")
        if count is None or days is None:
            raise InvalidInput(
                f"caps.{key}: give whole numbers of messages and days", field=f"caps.{key}"
            )
        caps[key] = {"count": count, "days": days}
    early = form.get("reminder_early_minutes", "")
    early_minutes = parse_id(early) if early else None
    if early and early_minutes is None:
        raise InvalidInput("give whole minutes", field="reminder_early_minutes")
    return {
        "caps": caps,
        "quiet_start": form.get("quiet_start") or None,
        "quiet_end": form.get("quiet_end") or None,
        "reminders_enabled": form.get("reminders_enabled") == "1",
        "reminder_early_minutes": early_minutes,
    }


async def _page(
    request: Request, session: DbSession, actor: Actor, *, error: str = "", block_error: str = ""
) -> HTMLResponse:
    query = request.query_params
    reason = query.get("reason") if query.get("reason") in BLOCK_REASONS else None
    channel_key = query.get("channel_key") if query.get("channel_key") in CAP_KEYS else None
    page = parse_id(query.get("page")) or 1
    rows, total = await service.list_blocks(
        session=session,
        shop_id=actor.shop_id,
        reason=reason,
        channel_key=channel_key,
        page=page,
        per_page=PER_PAGE,
    )
    policy = await service.get_policy(session=session, shop_id=actor.shop_id)
    pagination = {"page": page, "pages": max(1, -(-total // PER_PAGE)), "total": total}
    return render(
        request,
        "outreach/consent.html",
        {
            "title": translate(request, N_("Consent and frequency")),
            "policy": policy,
            "cap_keys": CAP_KEYS,
            "rows": rows,
            "blocks_page": pagination,
            "reason": reason or "",
            "channel_key": channel_key or "",
            "reasons": BLOCK_REASONS,
            "channel_labels": page_labels(request, CHANNEL_LABELS),
            "reason_labels": page_labels(request, REASON_LABELS),
            "error": error,
            "block_error": block_error,
        },
        status_code=422 if error or block_error else 200,
    )


@pages.get("", response_class=HTMLResponse)
async def consent_page(request: Request, session: DbSession, actor: Reader) -> HTMLResponse:
    return await _page(request, session, actor)


@pages.post("/policy", response_class=HTMLResponse)
async def save_policy(request: Request, session: DbSession, actor: Manager) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    try:
        data = policy_data(form)
        await service.save_policy(session=session, shop_id=actor.shop_id, data=data)
    except FormErrors as exc:
        return await _page(request, session, actor, error=form_error_text(exc))
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.policy.save", target_type="shop",
        target_id=actor.shop_id, details={"fields": sorted(data)},
    )  # fmt: skip
    flash(request, translate(request, N_("Saved")))
    return redirect("/console/outreach/consent")


@pages.post("/blocks", response_class=HTMLResponse)
async def create_block(request: Request, session: DbSession, actor: Manager) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    customer_id = parse_id(form.get("customer_id"))
    try:
        if customer_id is None:
            raise InvalidInput("give the customer's id", field="customer_id")
        await service.block_contact(
            session=session,
            shop_id=actor.shop_id,
            customer_id=customer_id,
            channel_key=form.get("channel_key") or ALL_CHANNELS,
            reason=form.get("reason") or "manual",
            note=form.get("note", "")[:500],
            created_by=actor.label,
        )
    except FormErrors as exc:
        return await _page(request, session, actor, block_error=form_error_text(exc))
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.block", target_type="customer",
        target_id=customer_id, details={"channel_key": form.get("channel_key") or ALL_CHANNELS},
    )  # fmt: skip
    flash(request, translate(request, N_("Added to the do-not-contact list")))
    return redirect("/console/outreach/consent")


@pages.post("/blocks/{contact_block_id}/delete", response_class=HTMLResponse)
async def delete_block(
    request: Request, contact_block_id: int, session: DbSession, actor: Manager
) -> Response:
    block = await service.get_block(
        session=session, shop_id=actor.shop_id, block_id=contact_block_id
    )
    customer_id, channel_key = block.customer_id, block.channel_key
    await service.unblock_contact(
        session=session, shop_id=actor.shop_id, customer_id=customer_id, channel_key=channel_key
    )
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.unblock", target_type="customer",
        target_id=customer_id, details={"channel_key": channel_key},
    )  # fmt: skip
    flash(request, translate(request, N_("Removed from the do-not-contact list")))
    return redirect("/console/outreach/consent")


# --------------------------------------------------------------------------- public


def _public_language(request: Request) -> str:
    return i18n.normalize_language(request.query_params.get("lang")) or request_language(request)


def _unsubscribe_page(
    request: Request, *, state: str, shop_name: str = "", channel_key: str = "", status: int = 200
) -> HTMLResponse:
    language = _public_language(request)
    labels = {
        key: i18n.translations(language).gettext(text) for key, text in CHANNEL_LABELS.items()
    }
    html = (
        environment(language)
        .get_template("outreach/unsubscribe.html")
        .render(
            {
                "state": state,
                "shop_name": shop_name,
                "channel": labels.get(channel_key, ""),
                "action": request.url.path,
                "language": language,
                "other_languages": [(k, v) for k, v in i18n.LANGUAGES.items() if k != language],
            }
        )
    )
    headers = {
        "Cache-Control": "no-store",
        "Content-Language": language.replace("_", "-"),
        "Referrer-Policy": "no-referrer",  # the token is in the path
        "X-Robots-Tag": "noindex",
    }
    return HTMLResponse(html, status_code=status, headers=headers)


async def _target(request: Request, session: DbSession, token: str) -> Any:
    settings = request.app.state.settings
    target = service.read_unsubscribe_token(settings=settings, token=token)
    shop = await shops_service.get_shop(session=session, shop_id=target.shop_id)
    return target, shop


@router.get("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_form(request: Request, token: str, session: DbSession) -> HTMLResponse:
    """Asks before unsubscribing: mail scanners open links, a GET must change nothing."""
    try:
        target, shop = await _target(request, session, token)
    except NotFound:
        return _unsubscribe_page(request, state="invalid", status=404)
    done = await service.is_unsubscribed(session=session, target=target)
    return _unsubscribe_page(
        request,
        state="done" if done else "ask",
        shop_name=shop.name,
        channel_key=target.channel_key,
    )


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str, session: DbSession) -> HTMLResponse:
    """The confirm button, and RFC 8058 one-click (`List-Unsubscribe=One-Click` from a mail
    client). The signed token is the authority here: there is no login and no CSRF cookie."""
    try:
        target, shop = await _target(request, session, token)
        await service.unsubscribe(session=session, target=target)
    except NotFound:
        return _unsubscribe_page(request, state="invalid", status=404)
    return _unsubscribe_page(
        request, state="done", shop_name=shop.name, channel_key=target.channel_key
    )


router.include_router(pages)
