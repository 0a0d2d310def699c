"""Background jobs of payments: the demo pay page's notification, provider refunds, sweepers.

Each job ends its read transaction before calling out over HTTP: on SQLite an open
transaction holds the write lock that the notify endpoint (same database) needs.
"""

from __future__ import annotations

import datetime as dt

import httpx
import structlog
from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.payments import accounts, refunds, service
from liveloop.commerce.payments.models import PaymentStatus, Provider
from liveloop.commerce.payments.providers.base import ProviderError
from liveloop.commerce.payments.providers.demo import DemoProvider
from liveloop.core.jobs import job

log = structlog.get_logger(__name__)


class NotificationNotDelivered(Exception):
    """The notify endpoint did not accept the demo notification; Huey retries the job."""


@job(retries=5, retry_delay=2)
async def send_demo_notification(*, session: AsyncSession, shop_id: int, payment_id: int) -> int:
    """What the demo "bank" does once the payer confirms: POST a signed notification to
    LiveLoop's own notify URL over real HTTP. Returns the HTTP status it got (0: not sent)."""
    payment = await service.get_payment(session=session, shop_id=shop_id, payment_id=payment_id)
    if payment.provider != Provider.DEMO or payment.status != PaymentStatus.PENDING:
        return 0  # already paid (a repeated click, a retried job): nothing more to say
    settings = accounts.current_settings()
    provider = DemoProvider(
        secret=settings.resolved_secret_key(), shop_id=shop_id, public_url=settings.public_base_url
    )
    headers, body = provider.build_notification(
        out_trade_no=payment.number, amount_fen=payment.amount_fen
    )
    url = service.notify_url(shop_id, Provider.DEMO)
    await session.commit()  # this job's transaction ends before the call (see module doc)
    async with httpx.AsyncClient(timeout=15.0) as client:
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise NotificationNotDelivered(f"{url}: {exc.__class__.__name__}") from None
    if response.status_code >= 500:
        raise NotificationNotDelivered(f"{url} answered {response.status_code}")
    log.info("demo_notification_sent", payment=payment.number, status=response.status_code)
    return response.status_code


@job(retries=0)
async def submit_refund(*, session: AsyncSession, shop_id: int, refund_id: int) -> str:
    """Ask the provider to pay a refund back (idempotent by the refund number); the periodic
    `retry_open_refunds` calls again until the provider says succeeded or failed."""
    call = await refunds.provider_refund_call(session=session, shop_id=shop_id, refund_id=refund_id)
    if call is None:
        return "nothing_due"
    try:
        async with accounts.provider_for(
            session=session, shop_id=shop_id, provider=call.provider
        ) as gateway:
            await session.commit()  # no transaction held while the provider answers
            result = await gateway.refund(call.request)
    except ProviderError as exc:
        refund = await refunds.record_provider_answer(
            session=session,
            shop_id=shop_id,
            refund_id=refund_id,
            result=None,
            error=exc.message,
            final_error=not exc.retryable,
        )
        return refund.status
    refund = await refunds.record_provider_answer(
        session=session, shop_id=shop_id, refund_id=refund_id, result=result
    )
    return refund.status


@job(periodic=crontab(minute="*"))
async def reprocess_notifications(*, session: AsyncSession) -> int:
    """Apply notifications that were stored but never applied (the process died in between)."""
    due = await service.unprocessed_notifications(
        session=session, older_than=dt.timedelta(seconds=30)
    )
    for shop_id, notification_id in due:
        # Each in its own savepoint: one notification that keeps failing must not block the
        # others behind it, and its failed attempts must be counted (the cap in
        # unprocessed_notifications then leaves it for a person, listed in the console).
        try:
            async with session.begin_nested():
                outcome = await service.process_notification(
                    session=session, shop_id=shop_id, notification_id=notification_id
                )
        except Exception as error:
            attempts = await service.count_failed_attempt(
                session=session, shop_id=shop_id, notification_id=notification_id
            )
            log.error(
                "payment_notification_failed",
                id=notification_id,
                attempts=attempts,
                error=repr(error),
            )
            continue
        log.info("payment_notification_reprocessed", id=notification_id, status=outcome.status)
    return len(due)


@job(periodic=crontab(minute="*"))
async def retry_open_refunds(*, session: AsyncSession) -> int:
    """Ask again about refunds the provider has not confirmed (same refund number)."""
    due = await refunds.due_refunds(session=session, older_than=dt.timedelta(minutes=1))
    for shop_id, refund_id in due:
        submit_refund.enqueue(shop_id=shop_id, refund_id=refund_id)
    return len(due)
