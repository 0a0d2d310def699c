"""Delivering a broadcast: claim recipients with a lease, send through the channel, record.

A batch is claimed by one conditional UPDATE (queued and due, or `sending` whose lease ran out)
and committed before anything is sent; statuses are written and committed after each batch.
A worker that dies mid-batch leaves its rows `sending`; once the lease expires, the next run
claims them again and sends with the SAME key "bc:{broadcast_id}:{recipient_id}" (webhook
Idempotency-Key, e-mail Message-ID), so the provider sees one message. Rows already recorded
as sent are never claimed again: exactly one message per recipient per broadcast.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.outreach.broadcasts import partners
from liveloop.outreach.broadcasts.models import (
    CANCELLED,
    R_DELIVERED,
    R_FAILED,
    R_QUEUED,
    R_SENDING,
    R_SENT,
    SENDING,
    SENT,
    Broadcast,
    BroadcastRecipient,
)
from liveloop.outreach.broadcasts.results import click_token
from liveloop.outreach.contracts import ChannelKind, DeliveryStatus, OutgoingMessage

LEASE = dt.timedelta(minutes=2)
BATCH = 200
CONCURRENCY = 16


def message_key(broadcast_id: int, recipient_id: int) -> str:
    return f"bc:{broadcast_id}:{recipient_id}"


def click_url(settings: Any, token: str) -> str:
    """The recipient's tracked link (absolute: it is opened from a phone or a mailbox)."""
    return f"{settings.public_base_url}/r/{token}"


async def claim_batch(
    *, session: AsyncSession, broadcast_id: int, now: dt.datetime, size: int = BATCH
) -> list[int]:
    due = or_(
        (BroadcastRecipient.status == R_QUEUED)
        & or_(BroadcastRecipient.send_at.is_(None), BroadcastRecipient.send_at <= now),
        (BroadcastRecipient.status == R_SENDING) & (BroadcastRecipient.lease_until < now),
    )
    ids = list(
        (
            await session.execute(
                select(BroadcastRecipient.id)
                .where(BroadcastRecipient.broadcast_id == broadcast_id, due)
                .order_by(BroadcastRecipient.id)
                .limit(size)
            )
        ).scalars()
    )
    if not ids:
        return []
    # The same condition again: a concurrent worker that claimed first wins those rows.
    claimed = await session.execute(
        update(BroadcastRecipient)
        .where(BroadcastRecipient.id.in_(ids), due)
        .values(
            status=R_SENDING,
            lease_until=now + LEASE,
            attempts=BroadcastRecipient.attempts + 1,
        )
        .returning(BroadcastRecipient.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed.scalars())


async def _templates(session: AsyncSession, broadcast: Broadcast) -> dict[str, Any]:
    compiled = {}
    for variant in broadcast.variants:
        parts = variant.get("parts")
        if parts is None:
            parts = await partners.template_parts(
                session=session, shop_id=broadcast.shop_id, template_id=variant["template_id"],
                kind=ChannelKind(broadcast.kind),
            )  # fmt: skip
        compiled[variant["key"]] = partners.compile_template(
            ChannelKind(broadcast.kind), parts, marketing=broadcast.marketing
        )
    return compiled


async def deliver_broadcast(
    *,
    session: AsyncSession,
    shop_id: int,
    broadcast_id: int,
    sender: Any,
    settings: Any,
    now: dt.datetime | None = None,
    max_batches: int | None = None,
    batch_size: int = BATCH,
) -> int:
    """Send what is due; returns how many were sent. Commits per batch (the job's session)."""
    from liveloop.outreach.channels import service as channel_service

    broadcast = (
        await session.execute(
            select(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.shop_id == shop_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if broadcast is None or broadcast.status != SENDING:
        return 0
    kind = ChannelKind(broadcast.kind)
    templates = await _templates(session, broadcast)
    limiter = channel_service.RateLimiter(getattr(sender, "rate_per_second", 0) or 0)
    gate = asyncio.Semaphore(CONCURRENCY)
    run = _Run(broadcast, sender, settings, templates, limiter, gate)
    sent_total, batches = 0, 0
    while max_batches is None or batches < max_batches:
        at = now or utcnow()
        await session.refresh(broadcast, ["status"])
        if broadcast.status == CANCELLED:
            break
        ids = await claim_batch(session=session, broadcast_id=broadcast.id, now=at, size=batch_size)
        await session.commit()
        if not ids:
            break
        batches += 1
        reached = await _send_batch(session, run, ids)
        sent_total += len(reached)
        await partners.record_contacts(
            session=session,
            shop_id=shop_id,
            kind=kind,
            customer_ids=reached,
            at=utcnow(),
            marketing=broadcast.marketing,
            ref=f"bc:{broadcast.id}",
        )
        await session.commit()
    await finish_if_done(session=session, broadcast=broadcast)
    await session.commit()
    return sent_total


async def finish_if_done(*, session: AsyncSession, broadcast: Broadcast) -> bool:
    pending = (
        await session.execute(
            select(BroadcastRecipient.id)
            .where(
                BroadcastRecipient.broadcast_id == broadcast.id,
                BroadcastRecipient.status.in_((R_QUEUED, R_SENDING)),
            )
            .limit(1)
        )
    ).scalar_one_or_none()
    if pending is None and broadcast.status == SENDING:
        broadcast.status, broadcast.finished_at = SENT, utcnow()
        await session.flush()
        return True
    return False


@dataclass
class _Run:
    broadcast: Broadcast
    sender: Any
    settings: Any
    templates: dict[str, Any]
    limiter: Any
    gate: asyncio.Semaphore


async def _send_batch(session: AsyncSession, run: _Run, ids: list[int]) -> list[int]:
    """Send one claimed batch; returns the customer ids reached (statuses written, not committed)."""
    from liveloop.outreach.channels import service as channel_service

    broadcast, sender, settings, templates = run.broadcast, run.sender, run.settings, run.templates
    shop_id, kind = broadcast.shop_id, ChannelKind(broadcast.kind)
    limiter, gate = run.limiter, run.gate
    rows = list(
        (
            await session.execute(
                select(BroadcastRecipient)
                .where(BroadcastRecipient.id.in_(ids))
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    customer_ids = [row.customer_id for row in rows]
    addresses = await partners.resolve_addresses(
        session=session, shop_id=shop_id, kind=kind, customer_ids=customer_ids
    )
    secret = settings.resolved_secret_key()
    links = {
        row.customer_id: click_url(settings, row.click_token or click_token(secret, row.id))
        for row in rows
    }
    customer_of = {row.id: row.customer_id for row in rows}
    contexts = await partners.contexts_for(
        session=session,
        shop_id=shop_id,
        customer_ids=customer_ids,
        live_session_id=broadcast.live_session_id,
        link_for=lambda cid: links[cid],
        poster_for=lambda cid: links[cid] + "/poster.png",
        base_url=settings.public_base_url,
        coupon_code=broadcast.coupon_code,
        extra={
            cid: {
                "unsubscribe_url": partners.unsubscribe_url(
                    settings=settings, shop_id=shop_id, customer_id=cid, kind=kind
                )
            }
            for cid in customer_ids
        },
    )

    async def send_one(row: BroadcastRecipient) -> tuple[int, str, str | None, str | None]:
        address = addresses.get(row.customer_id)
        if address is None:
            return row.id, R_FAILED, "the customer has no address on this channel", None
        try:
            content = templates[row.variant or ""].render(contexts.get(row.customer_id, {}))
        except Exception as error:  # a value the template could not use
            return row.id, R_FAILED, f"could not render: {error}"[:300], None
        message = OutgoingMessage(
            key=message_key(broadcast.id, row.id),
            shop_id=shop_id,
            kind=kind,
            address=address,
            content=content,
            customer_id=row.customer_id,
            metadata={"broadcast_id": broadcast.id, "variant": row.variant},
        )
        async with gate:
            await limiter.acquire()
            result = await channel_service.deliver(sender, message)
        if result.status is DeliveryStatus.DELIVERED:
            return row.id, R_DELIVERED, None, result.provider_message_id
        if result.status is DeliveryStatus.SENT:
            return row.id, R_SENT, None, result.provider_message_id
        return row.id, R_FAILED, (result.reason or "failed")[:300], result.provider_message_id

    outcomes = await asyncio.gather(*(send_one(row) for row in rows))
    done_at = utcnow()
    reached = []
    rows_out = []
    for recipient_id, status, reason, provider_id in outcomes:
        rows_out.append(
            {
                "id": recipient_id,
                "status": status,
                "reason": reason,
                "provider_message_id": provider_id,
                "sent_at": done_at if status != R_FAILED else None,
                "lease_until": None,
            }
        )
        if status != R_FAILED:
            reached.append(customer_of[recipient_id])
    if rows_out:  # one executemany by primary key for the batch, not a statement per recipient
        await session.execute(
            update(BroadcastRecipient).execution_options(synchronize_session=False), rows_out
        )
    return reached
