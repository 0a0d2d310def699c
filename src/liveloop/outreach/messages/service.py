"""Saved message templates: create, change, list, delete, and preview against a real customer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.customers.models import Customer
from liveloop.outreach.contracts import ChannelKind, RenderedMessage
from liveloop.outreach.messages import contexts, render
from liveloop.outreach.messages.models import MessageTemplate


class Purpose(StrEnum):
    GENERAL = "general"
    INVITE = "invite"  # a live invitation (broadcast)
    REMINDER_START = "reminder_start"  # the session has started
    REMINDER_BEFORE = "reminder_before"  # 15 minutes before
    WELCOME = "welcome"  # a channel code's welcome message


@dataclass
class TemplateIn:
    name: str
    kind: ChannelKind
    parts: dict[str, Any]
    purpose: Purpose = Purpose.GENERAL
    marketing: bool = True


def _clean_parts(parts: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in parts.items():
        if key == "miniprogram" and isinstance(value, Mapping):
            card = {k: str(v) for k, v in value.items() if v not in (None, "")}
            if card:
                clean[key] = card
        elif isinstance(value, str) and value != "":
            clean[key] = value
        elif value not in (None, ""):
            raise InvalidInput(
                f"part {key} must be text", code="invalid_part", field=f"parts.{key}"
            )
    return clean


def check(data: TemplateIn) -> dict[str, Any]:
    name = data.name.strip()
    if not name or len(name) > 80:
        raise InvalidInput("a name of 1 to 80 characters", code="invalid_name", field="name")
    parts = _clean_parts(data.parts)
    render.check_parts(data.kind, parts)
    if data.purpose not in (Purpose.GENERAL, Purpose.INVITE) and data.marketing:
        raise InvalidInput(
            "reminders and welcome messages are service messages: untick marketing",
            code="invalid_marketing",
            field="marketing",
        )
    return parts


async def get_template(*, session: AsyncSession, shop_id: int, template_id: int) -> MessageTemplate:
    return await get_scoped(
        session, MessageTemplate, shop_id=shop_id, record_id=template_id, label="template"
    )


async def list_templates(
    *,
    session: AsyncSession,
    shop_id: int,
    kind: ChannelKind | None = None,
    purpose: Purpose | None = None,
) -> list[MessageTemplate]:
    statement = scoped(MessageTemplate, shop_id).order_by(MessageTemplate.name)
    if kind is not None:
        statement = statement.where(MessageTemplate.kind == kind.value)
    if purpose is not None:
        statement = statement.where(MessageTemplate.purpose == purpose.value)
    return list((await session.execute(statement)).scalars())


async def _flush_unique(session: AsyncSession, name: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"a template named {name!r} exists already; choose another name",
            code="template_name_taken",
            field="name",
        ) from error


async def create_template(
    *, session: AsyncSession, shop_id: int, data: TemplateIn, staff_id: int | None = None
) -> MessageTemplate:
    parts = check(data)
    template = MessageTemplate(
        shop_id=shop_id,
        name=data.name.strip(),
        kind=data.kind.value,
        purpose=data.purpose.value,
        parts=parts,
        marketing=data.marketing,
        created_by=staff_id,
    )
    session.add(template)
    await _flush_unique(session, template.name)
    return template


async def update_template(
    *, session: AsyncSession, shop_id: int, template_id: int, data: TemplateIn
) -> MessageTemplate:
    template = await get_template(session=session, shop_id=shop_id, template_id=template_id)
    parts = check(data)
    template.name, template.kind = data.name.strip(), data.kind.value
    template.purpose = data.purpose.value
    template.parts, template.marketing = parts, data.marketing
    await _flush_unique(session, template.name)
    return template


async def delete_template(*, session: AsyncSession, shop_id: int, template_id: int) -> None:
    template = await get_template(session=session, shop_id=shop_id, template_id=template_id)
    await session.delete(template)
    await session.flush()


async def parts_for(
    *, session: AsyncSession, shop_id: int, template_id: int, kind: ChannelKind
) -> dict[str, Any]:
    """A saved template's parts for a send on `kind` (a template of another kind is refused)."""
    template = await get_template(session=session, shop_id=shop_id, template_id=template_id)
    if template.kind != kind.value:
        raise InvalidInput(
            f"template {template.name!r} is written for {template.kind}, not {kind.value}",
            code="template_kind_mismatch",
            field="template_id",
        )
    return dict(template.parts)


async def preview(
    *,
    session: AsyncSession,
    shop_id: int,
    kind: ChannelKind,
    parts: Mapping[str, Any],
    customer_id: int | None,
    live_session_id: int | None,
    base_url: str,
    marketing: bool = True,
) -> tuple[RenderedMessage, int | None]:
    """The message as `customer_id` (else the shop's newest customer) would get it."""
    clean = _clean_parts(parts)
    render.check_parts(kind, clean)
    if customer_id is None:
        customer_id = (
            await session.execute(
                select(Customer.id)
                .where(Customer.shop_id == shop_id)
                .order_by(Customer.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    else:
        await get_scoped(
            session, Customer, shop_id=shop_id, record_id=customer_id, label="customer"
        )
    if live_session_id is not None:
        from liveloop.live.models import LiveSession

        await get_scoped(
            session, LiveSession, shop_id=shop_id, record_id=live_session_id, label="live session"
        )
    live_link = f"{base_url}/r/preview"
    found = await contexts.contexts_for(
        session=session,
        shop_id=shop_id,
        customer_ids=[customer_id] if customer_id else [],
        live_session_id=live_session_id,
        link_for=lambda _cid: live_link,
        poster_for=lambda _cid: (
            f"{base_url}/api/v1/outreach/posters/live/{live_session_id}.png"
            if live_session_id
            else ""
        ),
        coupon_code="PREVIEW",
        extra={customer_id: {"unsubscribe_url": f"{base_url}/u/preview"}} if customer_id else {},
        base_url=base_url,
    )
    context = found.get(customer_id or 0) or _sample_context(base_url)
    try:
        return render.compile_template(clean, marketing=marketing).render(context), customer_id
    except Exception as error:  # a value the template could not use, e.g. a filter on None
        raise InvalidInput(
            f"the template does not render for this customer: {error}",
            code="template_render",
            field="parts",
        ) from error


def _sample_context(base_url: str) -> dict[str, Any]:
    """For a shop without customers yet: plainly made-up values."""
    return {
        "customer": {"name": "示例客户", "tier": "", "points": 0, "orders": 0},
        "live": {
            "title": "", "starts_at": "", "link": f"{base_url}/r/preview", "poster_url": "",
            "anchor": "",
        },
        "coupon": {"code": "PREVIEW"},
        "shop": {"name": ""},
        "products": [],
        "reminder": {"minutes": "", "text": ""},
        "unsubscribe_url": f"{base_url}/u/preview",
    }  # fmt: skip
