"""Reminders: once per reservation and kind, on the start and 15 minutes before, through a
real webhook channel; channel-code welcomes; do-not-contact holds, consent is not needed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.live import audience as live_audience
from liveloop.live import service as live_service
from liveloop.live.models import LiveReservation
from liveloop.outreach.channels import service as channels_service
from liveloop.outreach.consent import reminders
from liveloop.outreach.consent import service as consent_service
from liveloop.outreach.consent.models import ReminderDispatch
from liveloop.shops.service import system_actor
from tests import factories
from tests.factories.live import make_live_session


async def _webhook(session: AsyncSession, settings, shop_id: int) -> int:  # type: ignore[no-untyped-def]
    channel = await channels_service.create_channel(
        session=session, shop_id=shop_id, kind="webhook", name="CRM",
        config={"url": "https://crm.example.com/hook"}, secret={"signing_secret": "s3cret"},
        rate_per_second=1000, settings=settings,
    )  # fmt: skip
    return channel.id


async def _reserved(session: AsyncSession, shop_id: int, names: list[str], start: dt.datetime):  # type: ignore[no-untyped-def]
    live = await make_live_session(
        session, shop_id=shop_id, title="周五上新专场", planned_start=start
    )
    customers = []
    for name in names:
        customer = await factories.make_customer(session, shop_id=shop_id, name=name)
        customer.consent = {}  # no marketing consent: a reminder was asked for, it still goes
        await live_audience.reserve(session=session, live_session=live, customer_id=customer.id)
        customers.append(customer)
    await session.flush()
    return live, customers


async def test_early_and_start_reminders_once_each(
    session: AsyncSession,
    shop,
    settings,
    receiver,  # type: ignore[no-untyped-def]
) -> None:
    await _webhook(session, settings, shop.id)
    start = utcnow() + dt.timedelta(minutes=10)
    live, (alice, bob, carol) = await _reserved(session, shop.id, ["爱丽丝", "鲍勃", "卡罗"], start)
    await consent_service.block_contact(
        session=session, shop_id=shop.id, customer_id=carol.id, channel_key="webhook",
        reason="complaint",
    )  # fmt: skip
    run = dict(session=session, shop_id=shop.id, settings=settings, http_client=receiver.client)

    # 30 minutes before: nothing due yet.
    assert await reminders.run_reminders(now=start - dt.timedelta(minutes=30), **run) == 0
    assert receiver.posts == []

    # 10 minutes before (within the default 15): the early reminder, to Alice and Bob only.
    early_at = start - dt.timedelta(minutes=10)
    assert await reminders.run_reminders(now=early_at, **run) == 2
    reservations = {
        r.customer_id: r.id
        for r in (await session.execute(select(LiveReservation))).scalars()
        if r.live_session_id == live.id
    }
    assert sorted(receiver.keys()) == sorted(
        [f"rm:early:{reservations[alice.id]}", f"rm:early:{reservations[bob.id]}"]
    )
    first = receiver.posts[0]
    assert first["content"]["marketing"] is False
    assert "周五上新专场" in first["content"]["text"]
    assert f"/live/{live.code}?src=rm-early" in first["content"]["text"]
    assert "约 15 分钟后" in first["content"]["text"]
    assert receiver.headers[0]["Idempotency-Key"] == first["key"]

    # Running again (and again) sends nothing more.
    assert await reminders.run_reminders(now=early_at + dt.timedelta(minutes=1), **run) == 0
    assert await reminders.run_reminders(now=early_at + dt.timedelta(minutes=2), **run) == 0
    assert len(receiver.posts) == 2

    # The session goes live: the start reminder, once.
    await live_service.start_live_session(
        session=session, actor=system_actor(shop.id), live_session_id=live.id
    )
    went_live = utcnow() + dt.timedelta(seconds=5)
    assert await reminders.run_reminders(now=went_live, **run) == 2
    assert await reminders.run_reminders(now=went_live + dt.timedelta(minutes=1), **run) == 0
    keys = receiver.keys()
    assert len(keys) == len(set(keys)) == 4
    assert sum(k.startswith("rm:start:") for k in keys) == 2
    assert all(f"rm:{kind}:{reservations[carol.id]}" not in keys for kind in ("early", "start"))

    dispatches = (
        (await session.execute(select(ReminderDispatch).where(ReminderDispatch.shop_id == shop.id)))
        .scalars()
        .all()
    )
    by_customer = {(d.kind, d.customer_id): d for d in dispatches}
    assert by_customer[("early", carol.id)].status == "skipped"
    assert by_customer[("early", carol.id)].reason == "do_not_contact:complaint"
    assert by_customer[("start", alice.id)].status == "delivered"
    reminded = await session.execute(
        select(LiveReservation.customer_id, LiveReservation.reminded_at).where(
            LiveReservation.live_session_id == live.id
        )
    )
    marks = dict(reminded.all())
    assert marks[alice.id] is not None and marks[carol.id] is None
    # Reminders are logged as transactional contacts (caps do not count them).
    history = await consent_service.contact_history(
        session=session, shop_id=shop.id, customer_id=alice.id
    )
    assert [(h.marketing, h.ref) for h in history] == [
        (False, f"rm:start:{live.id}"), (False, f"rm:early:{live.id}"),
    ]  # fmt: skip


async def test_no_early_reminder_when_switched_off_and_none_after_grace(
    session: AsyncSession,
    shop,
    settings,
    receiver,  # type: ignore[no-untyped-def]
) -> None:
    await _webhook(session, settings, shop.id)
    await consent_service.save_policy(
        session=session, shop_id=shop.id, data={"reminder_early_minutes": None}
    )
    start = utcnow() + dt.timedelta(minutes=5)
    live, _ = await _reserved(session, shop.id, ["甲"], start)
    run = dict(session=session, shop_id=shop.id, settings=settings, http_client=receiver.client)
    assert await reminders.run_reminders(now=start - dt.timedelta(minutes=4), **run) == 0
    await live_service.start_live_session(
        session=session, actor=system_actor(shop.id), live_session_id=live.id
    )
    # The worker was down for three hours: no "it started" any more.
    assert await reminders.run_reminders(now=utcnow() + dt.timedelta(hours=3), **run) == 0
    assert receiver.posts == []


async def test_failed_delivery_is_recorded_with_the_reason(
    session: AsyncSession,
    shop,
    settings,
    receiver,  # type: ignore[no-untyped-def]
) -> None:
    await _webhook(session, settings, shop.id)
    start = utcnow() + dt.timedelta(minutes=10)
    _live, (gone,) = await _reserved(session, shop.id, ["乙"], start)
    receiver.answer[str(gone.id)] = 410
    run = dict(session=session, shop_id=shop.id, settings=settings, http_client=receiver.client)
    assert await reminders.run_reminders(now=start - dt.timedelta(minutes=5), **run) == 0
    dispatch = (
        await session.execute(
            select(ReminderDispatch).where(ReminderDispatch.customer_id == gone.id)
        )
    ).scalar_one()
    assert dispatch.status == "failed" and "410" in (dispatch.reason or "")
    # A failure is not retried by the next run (one reminder per reservation and kind).
    assert await reminders.run_reminders(now=start - dt.timedelta(minutes=4), **run) == 0
    assert len(receiver.posts) == 1


async def test_no_channel_means_skipped(session: AsyncSession, shop, settings) -> None:  # type: ignore[no-untyped-def]
    start = utcnow() + dt.timedelta(minutes=10)
    await _reserved(session, shop.id, ["丙"], start)
    sent = await reminders.run_reminders(
        session=session, shop_id=shop.id, now=start - dt.timedelta(minutes=5), settings=settings
    )
    assert sent == 0
    dispatch = (
        await session.execute(select(ReminderDispatch).where(ReminderDispatch.shop_id == shop.id))
    ).scalar_one()
    assert (dispatch.status, dispatch.reason) == ("skipped", "no_channel")


async def test_channel_code_welcome_message(
    session: AsyncSession,
    shop,
    settings,
    receiver,  # type: ignore[no-untyped-def]
) -> None:
    from liveloop.customers.channel_codes import service as codes_service
    from liveloop.customers.channel_codes.schemas import ChannelCodeIn

    await _webhook(session, settings, shop.id)
    staff = await factories.make_staff(session, shop_id=shop.id, role="operator")
    code = await codes_service.create_code(
        session=session, shop_id=shop.id,
        data=ChannelCodeIn(
            name="门店码", welcome_message="欢迎加入茶语小铺！回复1领取新人券。",
            staff=[{"staff_id": staff.id, "contact_url": "https://work.weixin.qq.com/ca/abc"}],
        ),
    )  # fmt: skip
    customer = await factories.make_customer(session, shop_id=shop.id, name="新客")
    await codes_service.record_arrival(
        session=session, shop_id=shop.id, code_id=code.id, customer_id=customer.id, via="wecom"
    )
    run = dict(session=session, shop_id=shop.id, settings=settings, http_client=receiver.client)
    now = utcnow() + dt.timedelta(seconds=1)
    assert await reminders.run_reminders(now=now, **run) == 1
    assert receiver.posts[0]["content"]["text"] == "欢迎加入茶语小铺！回复1领取新人券。"
    assert receiver.posts[0]["customer_id"] == customer.id
    assert receiver.posts[0]["key"].startswith("rm:welcome:")
    # The same arrival again (a second scan) and another run: still one welcome.
    await codes_service.record_arrival(
        session=session, shop_id=shop.id, code_id=code.id, customer_id=customer.id, via="wecom"
    )
    assert await reminders.run_reminders(now=now + dt.timedelta(minutes=1), **run) == 0
    assert len(receiver.posts) == 1


async def test_concurrent_claims_do_not_overlap(session: AsyncSession, shop) -> None:  # type: ignore[no-untyped-def]
    """Two runs that found the same due reminders: the second claims none of them."""
    start = utcnow() + dt.timedelta(minutes=10)
    await _reserved(session, shop.id, ["丁", "戊"], start)
    now = start - dt.timedelta(minutes=5)
    first_found = await reminders.due_reminders(session=session, shop_id=shop.id, now=now)
    second_found = list(first_found)
    first = await reminders.claim(session=session, shop_id=shop.id, due=first_found, now=now)
    second = await reminders.claim(session=session, shop_id=shop.id, due=second_found, now=now)
    assert len(first) == 2 and second == []


async def test_periodic_job_sends_by_email_to_the_mailbox(
    session: AsyncSession,
    shop,
    settings,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """The every-minute job, end to end: an e-mail channel in mailbox mode (the demo's), a
    reserver with an e-mail address, the session goes live; two job runs, one e-mail."""
    import mailbox

    from liveloop.core.jobs import queue
    from liveloop.outreach.channels.email import mailbox_path
    from liveloop.outreach.consent.tasks import send_due_reminders

    monkeypatch.setattr(queue, "settings", settings)
    await channels_service.create_channel(
        session=session, shop_id=shop.id, kind="email", name="演示邮箱",
        config={"transport": "mailbox", "from_addr": "shop@example.com"}, settings=settings,
    )  # fmt: skip
    live = await make_live_session(session, shop_id=shop.id, title="冬季茶会")
    customer = await factories.make_customer(
        session, shop_id=shop.id, name="周敏", email="zhoumin@example.com"
    )
    await live_audience.reserve(session=session, live_session=live, customer_id=customer.id)
    await live_service.start_live_session(
        session=session, actor=system_actor(shop.id), live_session_id=live.id
    )
    reservation = (
        await session.execute(
            select(LiveReservation).where(LiveReservation.live_session_id == live.id)
        )
    ).scalar_one()
    assert await send_due_reminders.run(session=session) >= 1
    assert await send_due_reminders.run(session=session) == 0
    box = mailbox.mbox(str(mailbox_path(settings.var_dir)))
    mine = [m for m in box if f"rm.start.{reservation.id}@" in (m["Message-ID"] or "")]
    assert len(mine) == 1
    assert mine[0]["To"] == "zhoumin@example.com"
    assert mine[0]["X-LiveLoop-Mailbox"].startswith("demo")
    dispatch = (
        await session.execute(
            select(ReminderDispatch).where(ReminderDispatch.ref_id == reservation.id)
        )
    ).scalar_one()
    assert dispatch.status in ("sent", "delivered")
