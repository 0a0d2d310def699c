"""Reminders: reservers of a live session hear when it starts (and, if the shop wants, some
minutes before); customers who arrived through a channel code get the code's welcome message.

A run finds what is due, claims it in `outreach_reminders` (unique per kind and reservation /
arrival, so a reminder is claimed once however many workers run), then sends what it claimed.
The periodic job commits the claims before sending, so a crash never sends twice; a claim left
unsent by a crash is sent by a later run (with the same message key, which providers that
deduplicate — webhook Idempotency-Key — use).

Reminders are requested by the customer (a reservation, a scan), so they are screened with
marketing=False: consent, caps and quiet hours do not apply, do-not-contact does. Each goes on
the first of the shop's enabled channels that reaches the customer, in the order of
`CHANNEL_ORDER`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import ids_in, utcnow
from liveloop.core.settings import Settings
from liveloop.customers import service as customers_service
from liveloop.live import audience as live_audience
from liveloop.live.models import LiveReservation, LiveSession, LiveStatus
from liveloop.outreach.consent import service as consent_service
from liveloop.outreach.consent.models import ReminderDispatch
from liveloop.outreach.contracts import (
    ChannelKind,
    DeliveryResult,
    DeliveryStatus,
    OutgoingMessage,
)
from liveloop.outreach.messages import contexts as messages_contexts
from liveloop.outreach.messages import render
from liveloop.outreach.messages import service as messages_service
from liveloop.shops import service as shops_service

START = "start"
EARLY = "early"
WELCOME = "welcome"
KINDS = (START, EARLY, WELCOME)
WELCOME_EVENT = "welcome_due"  # written by customers.channel_codes on an arrival

# Where a reminder goes: the first of these the customer can be reached on (a group chat is
# not a personal reminder).
CHANNEL_ORDER: tuple[ChannelKind, ...] = (
    ChannelKind.WECOM_CUSTOMER,
    ChannelKind.SMS,
    ChannelKind.EMAIL,
    ChannelKind.WEBHOOK,
)
# A session that went live longer ago than this gets no "it started" reminder any more
# (the worker was down): telling people two hours late helps nobody.
START_GRACE = dt.timedelta(hours=2)
WELCOME_WINDOW = dt.timedelta(days=1)
STALE_CLAIM = dt.timedelta(minutes=10)
SEND_CONCURRENCY = 8

S_CLAIMED, S_SENT, S_DELIVERED, S_FAILED, S_SKIPPED = (
    "claimed", "sent", "delivered", "failed", "skipped",
)  # fmt: skip

# Default texts (a shop sets its own through policy.reminder_templates).
DEFAULT_PARTS: dict[str, dict[str, str]] = {
    START: {
        "subject": "直播开始啦：{{ live.title }}",
        "text": "{{ customer.name or '您好' }}，您预约的直播「{{ live.title }}」已经开始，"
        "点击进入直播间：{{ live.link }}",
    },
    EARLY: {
        "subject": "直播提醒：{{ live.title }} {{ live.starts_at }} 开播",
        "text": "{{ customer.name or '您好' }}，您预约的直播「{{ live.title }}」将在"
        " {{ live.starts_at }} 开始（约 {{ reminder.minutes }} 分钟后），"
        "届时进入直播间：{{ live.link }}",
    },
    WELCOME: {"subject": "欢迎光临 {{ shop.name }}", "text": "{{ reminder.text }}"},
}


@dataclass(frozen=True)
class Due:
    kind: str
    ref_id: int  # reservation id (start, early) or welcome_due event id
    customer_id: int
    live_session_id: int | None = None


# --------------------------------------------------------------------------- what is due


def _not_claimed(kind: str, ref: Any) -> Any:
    return ~exists().where(ReminderDispatch.kind == kind, ReminderDispatch.ref_id == ref)


async def due_reminders(*, session: AsyncSession, shop_id: int, now: dt.datetime) -> list[Due]:
    """Reminders due now and not yet claimed. (Reads the live tables: a bulk read, never a
    write; reservations and sessions are changed only by the live domain.)"""
    policy = await consent_service.get_policy(session=session, shop_id=shop_id)
    due: list[Due] = []
    if policy.reminders_enabled:
        base = (
            select(LiveReservation.id, LiveReservation.customer_id, LiveSession.id)
            .join(LiveSession, LiveSession.id == LiveReservation.live_session_id)
            .where(LiveReservation.shop_id == shop_id, LiveSession.shop_id == shop_id)
        )
        started = await session.execute(
            base.where(
                LiveSession.status == LiveStatus.LIVE.value,
                LiveSession.started_at > now - START_GRACE,
                LiveSession.started_at <= now,
                _not_claimed(START, LiveReservation.id),
            ).order_by(LiveReservation.id)
        )
        due += [Due(START, rid, cid, sid) for rid, cid, sid in started]
        if policy.reminder_early_minutes:
            ahead = dt.timedelta(minutes=policy.reminder_early_minutes)
            soon = await session.execute(
                base.where(
                    LiveSession.status == LiveStatus.SCHEDULED.value,
                    LiveSession.planned_start > now,
                    LiveSession.planned_start <= now + ahead,
                    _not_claimed(EARLY, LiveReservation.id),
                ).order_by(LiveReservation.id)
            )
            due += [Due(EARLY, rid, cid, sid) for rid, cid, sid in soon]
    due += await _due_welcomes(session=session, shop_id=shop_id, now=now)
    return due


async def _due_welcomes(*, session: AsyncSession, shop_id: int, now: dt.datetime) -> list[Due]:
    from liveloop.events.models import Event

    rows = await session.execute(
        select(Event.id, Event.customer_id)
        .where(
            Event.shop_id == shop_id,
            Event.type == WELCOME_EVENT,
            Event.occurred_at > now - WELCOME_WINDOW,
            Event.occurred_at <= now,
            Event.customer_id.is_not(None),
            _not_claimed(WELCOME, Event.id),
        )
        .order_by(Event.id)
    )
    return [Due(WELCOME, event_id, customer_id) for event_id, customer_id in rows if customer_id]


async def claim(
    *, session: AsyncSession, shop_id: int, due: Sequence[Due], now: dt.datetime
) -> list[int]:
    """Insert the claims; the ids returned are those this run inserted (a concurrent run's
    insert of the same kind and ref does nothing)."""
    if not due:
        return []
    token = secrets.token_hex(16)
    rows = [
        {
            "shop_id": shop_id,
            "kind": item.kind,
            "ref_id": item.ref_id,
            "customer_id": item.customer_id,
            "live_session_id": item.live_session_id,
            "status": S_CLAIMED,
            "claim": token,
            "created_at": now,
        }
        for item in due
    ]
    statement = customers_service.insert_ignoring_duplicates(session, ReminderDispatch.__table__)
    for start in range(0, len(rows), 2000):
        await session.execute(statement, rows[start : start + 2000])
    claimed = await session.execute(
        select(ReminderDispatch.id)
        .where(ReminderDispatch.shop_id == shop_id, ReminderDispatch.claim == token)
        .order_by(ReminderDispatch.id)
    )
    return list(claimed.scalars())


async def stale_claims(*, session: AsyncSession, shop_id: int, now: dt.datetime) -> list[int]:
    """Claims a crashed run left unsent."""
    rows = await session.execute(
        select(ReminderDispatch.id).where(
            ReminderDispatch.shop_id == shop_id,
            ReminderDispatch.status == S_CLAIMED,
            ReminderDispatch.created_at < now - STALE_CLAIM,
        )
    )
    return list(rows.scalars())


# --------------------------------------------------------------------------- rendering


def _compile(parts: Mapping[str, Any]) -> Any:
    return render.compile_template(parts, marketing=False)


async def _template_for(
    *,
    session: AsyncSession,
    shop_id: int,
    reminder_kind: str,
    channel_kind: ChannelKind,
    chosen: Mapping[str, int],
    cache: dict[tuple[str, ChannelKind], Any],
) -> Any:
    """The shop's saved template for this reminder and channel kind, else the default."""
    if (reminder_kind, channel_kind) in cache:
        return cache[(reminder_kind, channel_kind)]
    template_id = chosen.get(f"{reminder_kind}:{channel_kind.value}") or chosen.get(reminder_kind)
    compiled = None
    if template_id:
        try:
            parts = await messages_service.parts_for(
                session=session, shop_id=shop_id, template_id=template_id, kind=channel_kind
            )
            compiled = _compile(parts)
        except Exception:  # a deleted, other-kind or broken template: the default still reminds
            compiled = None
    if compiled is None:
        compiled = _compile(DEFAULT_PARTS[reminder_kind])
    cache[(reminder_kind, channel_kind)] = compiled
    return compiled


def live_link(settings: Settings, live_session: LiveSession, reminder_kind: str) -> str:
    # `src` is carried into the viewer token → orders.source_code (attribution).
    return f"{settings.public_base_url}/live/{live_session.code}?src=rm-{reminder_kind}"


async def _contexts(
    *,
    session: AsyncSession,
    settings: Settings,
    shop: Any,
    customer_ids: Sequence[int],
    live_session: LiveSession | None,
    reminder: Mapping[int, Mapping[str, Any]],
    reminder_kind: str,
) -> dict[int, dict[str, Any]]:
    """Template variables per customer (outreach/messages' contexts) with `reminder` added."""
    link = live_link(settings, live_session, reminder_kind) if live_session else ""
    extra = {cid: {"reminder": dict(reminder.get(cid, {}))} for cid in customer_ids}
    poster = (
        f"{settings.public_base_url}/live/{live_session.code}/poster.png?src=rm-{reminder_kind}"
        if live_session
        else ""
    )
    return await messages_contexts.contexts_for(
        session=session,
        shop_id=shop.id,
        customer_ids=customer_ids,
        live_session_id=live_session.id if live_session else None,
        link_for=lambda _cid: link,
        poster_for=lambda _cid: poster,
        extra=extra,
        base_url=settings.public_base_url,
    )


# --------------------------------------------------------------------------- sending


@dataclass
class _Outgoing:
    dispatch: ReminderDispatch
    channel: Any
    message: OutgoingMessage


async def _route(
    *, session: AsyncSession, shop_id: int, dispatches: Sequence[ReminderDispatch], now: dt.datetime
) -> tuple[dict[int, Any], dict[int, str], list[Any]]:
    """Per dispatch: the channel that reaches its customer and the address there; or why none."""
    from liveloop.outreach.channels import service as channels_service

    channels = [
        c
        for c in await channels_service.list_channels(session=session, shop_id=shop_id)
        if c.enabled and ChannelKind(c.kind) in CHANNEL_ORDER
    ]
    channels.sort(key=lambda c: (CHANNEL_ORDER.index(ChannelKind(c.kind)), c.id))
    customer_ids = sorted({d.customer_id for d in dispatches})
    routes: dict[int, Any] = {}
    reasons: dict[int, str] = {}
    by_kind: dict[ChannelKind, tuple[dict[int, str], dict[int, Any]]] = {}
    for channel in channels:
        kind = ChannelKind(channel.kind)
        if kind not in by_kind:
            addresses = await channels_service.resolve_addresses(
                session=session, shop_id=shop_id, kind=kind, customer_ids=customer_ids
            )
            decisions = await consent_service.screen_recipients(
                session=session,
                shop_id=shop_id,
                kind=kind,
                customer_ids=list(addresses),
                now=now,
                marketing=False,
            )
            by_kind[kind] = (addresses, decisions)
    for dispatch in dispatches:
        for channel in channels:
            addresses, decisions = by_kind[ChannelKind(channel.kind)]
            address = addresses.get(dispatch.customer_id)
            if address is None:
                continue
            decision = decisions.get(dispatch.customer_id)
            if decision is None or decision.send_at is None:
                reasons.setdefault(dispatch.id, getattr(decision, "reason", None) or "blocked")
                continue
            routes[dispatch.id] = (channel, address)
            break
        else:
            reasons.setdefault(
                dispatch.id, "no_channel" if not channels else "no_address_on_any_channel"
            )
    return routes, reasons, channels


async def send_claimed(
    *,
    session: AsyncSession,
    shop_id: int,
    dispatch_ids: Sequence[int],
    settings: Settings,
    now: dt.datetime | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> int:
    """Send the claimed reminders; each row ends sent, delivered, failed or skipped with a
    reason. Returns how many went out (sent or delivered)."""
    now = now or utcnow()
    if not dispatch_ids:
        return 0
    dispatches = list(
        (
            await session.execute(
                select(ReminderDispatch)
                .where(
                    ReminderDispatch.shop_id == shop_id,
                    ReminderDispatch.status == S_CLAIMED,
                    ids_in(session, ReminderDispatch.id, dispatch_ids),
                )
                .order_by(ReminderDispatch.id)
            )
        ).scalars()
    )
    if not dispatches:
        return 0
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    policy = await consent_service.get_policy(session=session, shop_id=shop_id)
    routes, reasons, _channels = await _route(
        session=session, shop_id=shop_id, dispatches=dispatches, now=now
    )
    for dispatch in dispatches:
        if dispatch.id not in routes:
            dispatch.status, dispatch.reason = S_SKIPPED, reasons.get(dispatch.id, "unreachable")
    outgoing = await _render(
        session=session,
        settings=settings,
        shop=shop,
        policy=policy,
        dispatches=[d for d in dispatches if d.id in routes],
        routes=routes,
    )
    results = await _deliver_all(outgoing, settings=settings, http_client=http_client)
    sent = 0
    reached: dict[tuple[ChannelKind, str], list[int]] = defaultdict(list)
    reminded: dict[int, list[int]] = defaultdict(list)
    for item, result in zip(outgoing, results, strict=True):
        dispatch = item.dispatch
        dispatch.channel_id = item.channel.id
        if result.status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED):
            dispatch.status = S_DELIVERED if result.status is DeliveryStatus.DELIVERED else S_SENT
            dispatch.sent_at = result.at or utcnow()
            sent += 1
            ref = f"rm:{dispatch.kind}:{dispatch.live_session_id or 0}"
            reached[(ChannelKind(item.channel.kind), ref)].append(dispatch.customer_id)
            if dispatch.live_session_id is not None:
                reminded[dispatch.live_session_id].append(dispatch.customer_id)
        else:
            dispatch.status = S_FAILED
            dispatch.reason = (result.reason or "failed")[:200]
            if result.reason and "bounce" in result.reason.lower():
                await consent_service.block_contact(
                    session=session,
                    shop_id=shop_id,
                    customer_id=dispatch.customer_id,
                    channel_key=consent_service.CONSENT_KEY[ChannelKind(item.channel.kind)],
                    reason="bounced",
                    note=result.reason[:500],
                    created_by="reminders",
                )
    for (kind, ref), customer_ids in reached.items():
        await consent_service.record_contacts(
            session=session, shop_id=shop_id, kind=kind, customer_ids=customer_ids, at=now,
            marketing=False, ref=ref,
        )  # fmt: skip
    for live_session_id, customer_ids in reminded.items():
        await live_audience.mark_reminded(
            session=session, shop_id=shop_id, live_session_id=live_session_id,
            customer_ids=customer_ids,
        )  # fmt: skip
    await session.flush()
    return sent


async def _render(
    *,
    session: AsyncSession,
    settings: Settings,
    shop: Any,
    policy: Any,
    dispatches: Sequence[ReminderDispatch],
    routes: Mapping[int, Any],
) -> list[_Outgoing]:
    groups: dict[tuple[str, int | None], list[ReminderDispatch]] = defaultdict(list)
    for dispatch in dispatches:
        groups[(dispatch.kind, dispatch.live_session_id)].append(dispatch)
    welcome_texts = await _welcome_texts(
        session=session,
        shop_id=shop.id,
        event_ids=[d.ref_id for d in dispatches if d.kind == WELCOME],
    )
    cache: dict[tuple[str, ChannelKind], Any] = {}
    outgoing: list[_Outgoing] = []
    for (reminder_kind, live_session_id), members in groups.items():
        live_session = await session.get(LiveSession, live_session_id) if live_session_id else None
        reminder = {
            d.customer_id: {
                "kind": reminder_kind,
                "minutes": policy.reminder_early_minutes or 0,
                "text": welcome_texts.get(d.ref_id, ""),
            }
            for d in members
        }
        contexts = await _contexts(
            session=session,
            settings=settings,
            shop=shop,
            customer_ids=sorted({d.customer_id for d in members}),
            live_session=live_session,
            reminder=reminder,
            reminder_kind=reminder_kind,
        )
        for dispatch in members:
            channel, address = routes[dispatch.id]
            kind = ChannelKind(channel.kind)
            template = await _template_for(
                session=session, shop_id=shop.id, reminder_kind=reminder_kind,
                channel_kind=kind, chosen=policy.reminder_templates, cache=cache,
            )  # fmt: skip
            context = dict(contexts.get(dispatch.customer_id) or {})
            context["reminder"] = reminder[dispatch.customer_id]
            try:
                content = template.render(context)
            except Exception as exc:  # a template error is this reminder's failure, not the run's
                dispatch.status, dispatch.reason = S_FAILED, f"template: {exc}"[:200]
                continue
            message = OutgoingMessage(
                key=f"rm:{dispatch.kind}:{dispatch.ref_id}",
                shop_id=shop.id,
                kind=kind,
                address=address,
                content=content,
                customer_id=dispatch.customer_id,
                metadata={"reminder": dispatch.kind, "live_session_id": dispatch.live_session_id},
            )
            outgoing.append(_Outgoing(dispatch=dispatch, channel=channel, message=message))
    return outgoing


async def _welcome_texts(
    *, session: AsyncSession, shop_id: int, event_ids: Sequence[int]
) -> dict[int, str]:
    if not event_ids:
        return {}
    from liveloop.events.models import Event

    rows = await session.execute(
        select(Event.id, Event.properties).where(
            Event.shop_id == shop_id, ids_in(session, Event.id, event_ids)
        )
    )
    return {event_id: str((props or {}).get("text") or "") for event_id, props in rows}


async def _deliver_all(
    outgoing: Sequence[_Outgoing], *, settings: Settings, http_client: httpx.AsyncClient | None
) -> list[DeliveryResult]:
    """One sender and one rate limiter per channel; a few messages in flight at once."""
    from liveloop.outreach.channels import service as channels_service

    senders: dict[int, Any] = {}
    limiters: dict[int, Any] = {}
    for item in outgoing:
        if item.channel.id not in senders:
            senders[item.channel.id] = channels_service.open_sender(
                item.channel, settings=settings, http_client=http_client
            )
            limiters[item.channel.id] = channels_service.RateLimiter(item.channel.rate_per_second)
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(item: _Outgoing) -> DeliveryResult:
        async with gate:
            await limiters[item.channel.id].acquire()
            result: DeliveryResult = await channels_service.deliver(
                senders[item.channel.id], item.message, retries=2, backoff=0.5
            )
            return result

    try:
        return list(await asyncio.gather(*(send(item) for item in outgoing)))
    finally:
        for sender in senders.values():
            await sender.aclose()


# --------------------------------------------------------------------------- runs


async def run_reminders(
    *,
    session: AsyncSession,
    shop_id: int,
    now: dt.datetime,
    settings: Settings,
    http_client: httpx.AsyncClient | None = None,
) -> int:
    """Claim and send what is due for one shop, in the caller's transaction; returns how many
    reminders went out. Running it again sends nothing more."""
    due = await due_reminders(session=session, shop_id=shop_id, now=now)
    claimed = await claim(session=session, shop_id=shop_id, due=due, now=now)
    return await send_claimed(
        session=session, shop_id=shop_id, dispatch_ids=claimed, settings=settings, now=now,
        http_client=http_client,
    )  # fmt: skip


async def shops_with_reminders(*, session: AsyncSession, now: dt.datetime) -> list[int]:
    """Shops with a session live or about to start, a recent welcome, or stale claims."""
    from liveloop.events.models import Event

    live = select(LiveSession.shop_id).where(
        or_(
            LiveSession.status == LiveStatus.LIVE.value,
            and_(
                LiveSession.status == LiveStatus.SCHEDULED.value,
                LiveSession.planned_start <= now + dt.timedelta(days=1),
            ),
        )
    )
    welcomes = select(Event.shop_id).where(
        Event.type == WELCOME_EVENT, Event.occurred_at > now - WELCOME_WINDOW
    )
    stale = select(ReminderDispatch.shop_id).where(ReminderDispatch.status == S_CLAIMED)
    shop_ids: set[int] = set()
    for statement in (live, welcomes, stale):
        shop_ids.update((await session.execute(statement.distinct())).scalars())
    return sorted(shop_ids)
