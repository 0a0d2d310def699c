"""Background jobs of outreach/broadcasts: deliver a broadcast, and start the scheduled ones."""

from __future__ import annotations

from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.core.jobs import enqueue_after_commit, job, queue
from liveloop.outreach.broadcasts import delivery, service
from liveloop.outreach.broadcasts.models import Broadcast


@job(retries=5, retry_delay=30)
async def deliver_broadcast(*, session: AsyncSession, shop_id: int, broadcast_id: int) -> int:
    """Idempotent and resumable: a second run only sends what is still due (see delivery.py)."""
    from liveloop.outreach.channels import service as channel_service

    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.shop_id != shop_id or broadcast.channel_id is None:
        return 0
    settings = queue.settings
    channel = await channel_service.get_channel(
        session=session, shop_id=shop_id, channel_id=broadcast.channel_id
    )
    sender = channel_service.open_sender(channel, settings=settings)
    try:
        return await delivery.deliver_broadcast(
            session=session, shop_id=shop_id, broadcast_id=broadcast_id, sender=sender,
            settings=settings,
        )  # fmt: skip
    finally:
        await sender.aclose()


@job(retries=0, periodic=crontab(minute="*"))
async def start_scheduled_broadcasts(*, session: AsyncSession) -> int:
    """Every minute: scheduled broadcasts that are due start sending (and resume stalled ones)."""
    now = utcnow()
    started = 0
    for shop_id, broadcast_id in await service.due_scheduled(session=session, now=now):
        try:
            await service.start_broadcast(
                session=session, shop_id=shop_id, broadcast_id=broadcast_id, now=now
            )
        except Exception:
            await session.rollback()
            continue
        await session.commit()
        deliver_broadcast.enqueue(shop_id=shop_id, broadcast_id=broadcast_id)
        started += 1
    return started


def deliver_after_commit(session: AsyncSession, broadcast: Broadcast) -> None:
    """Once the caller's transaction commits, a sending broadcast goes to the delivery job."""
    if broadcast.status == "sending":
        enqueue_after_commit(
            session, deliver_broadcast, shop_id=broadcast.shop_id, broadcast_id=broadcast.id
        )
