"""Bulk screening: every reason at once, the log that caps count, blocks and policy."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.errors import InvalidInput, NotFound
from liveloop.outreach.consent import service
from liveloop.outreach.consent.rules import Decision
from liveloop.outreach.contracts import ChannelKind
from tests import factories

# 10:00 in Shanghai (02:00 UTC) and 23:00 in Shanghai (15:00 UTC).
DAY = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
NIGHT = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)
MORNING = dt.datetime(2026, 12, 8, 0, 0, tzinfo=dt.UTC)  # 08:00 Shanghai


async def _customer(session: AsyncSession, shop_id: int, consent: dict[str, bool]) -> int:
    customer = await factories.make_customer(session, shop_id=shop_id, name="顾客")
    customer.consent = consent
    await session.flush()
    return customer.id


async def test_every_reason_in_one_call(session: AsyncSession, shop, other_shop) -> None:  # type: ignore[no-untyped-def]
    ok = await _customer(session, shop.id, {"email": True})
    no_consent = await _customer(session, shop.id, {"email": False, "sms": True})
    missing_key = await _customer(session, shop.id, {})
    unsubscribed = await _customer(session, shop.id, {"email": True})
    bounced = await _customer(session, shop.id, {"email": True})
    complaint = await _customer(session, shop.id, {"email": True})
    manual_all = await _customer(session, shop.id, {"email": True})
    sms_block_only = await _customer(session, shop.id, {"email": True})
    capped = await _customer(session, shop.id, {"email": True})
    foreign = await _customer(session, other_shop.id, {"email": True})
    for customer_id, key, reason in [
        (unsubscribed, "email", "unsubscribed"),
        (bounced, "email", "bounced"),
        (complaint, "email", "complaint"),
        (manual_all, "*", "manual"),
        (sms_block_only, "sms", "manual"),
    ]:
        await service.block_contact(
            session=session, shop_id=shop.id, customer_id=customer_id, channel_key=key,
            reason=reason,
        )  # fmt: skip
    await service.record_contacts(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=[capped],
        at=DAY - dt.timedelta(days=2), marketing=True, ref="bc:1",
    )  # fmt: skip
    await service.record_contacts(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=[capped, ok],
        at=DAY - dt.timedelta(days=1), marketing=True, ref="bc:2",
    )  # fmt: skip
    # Transactional contacts do not count towards the cap.
    await service.record_contacts(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=[ok, ok],
        at=DAY - dt.timedelta(hours=1), marketing=False, ref="order:9",
    )  # fmt: skip
    ids = [ok, no_consent, missing_key, unsubscribed, bounced, complaint, manual_all,
           sms_block_only, capped, foreign, 987654321]  # fmt: skip
    decisions = await service.screen_recipients(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=ids, now=DAY
    )
    assert {cid: d.reason for cid, d in decisions.items()} == {
        ok: None,
        no_consent: "no_consent",
        missing_key: "no_consent",
        unsubscribed: "do_not_contact:unsubscribed",
        bounced: "do_not_contact:bounced",
        complaint: "do_not_contact:complaint",
        manual_all: "do_not_contact:manual",
        sms_block_only: None,
        capped: "frequency_cap",
        foreign: "unknown_customer",
        987654321: "unknown_customer",
    }
    assert decisions[ok] == Decision(send_at=DAY, reason=None)
    assert decisions[capped].send_at is None

    night = await service.screen_recipients(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=[ok], now=NIGHT
    )
    assert night[ok] == Decision(send_at=MORNING, reason="quiet_hours")

    # Transactional: consent, caps and quiet hours do not apply; do-not-contact does.
    transactional = await service.screen_recipients(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=ids, now=NIGHT,
        marketing=False,
    )  # fmt: skip
    reasons = {cid: d.reason for cid, d in transactional.items()}
    assert reasons[no_consent] is None and reasons[capped] is None
    assert transactional[capped].send_at == NIGHT
    assert reasons[bounced] == "do_not_contact:bounced"
    assert reasons[manual_all] == "do_not_contact:manual"
    assert reasons[foreign] == "unknown_customer"


async def test_policy_defaults_and_saved(session: AsyncSession, shop) -> None:  # type: ignore[no-untyped-def]
    policy = await service.get_policy(session=session, shop_id=shop.id)
    assert not policy.saved
    assert policy.caps == {"*": {"count": 2, "days": 7}}
    assert (policy.quiet_start, policy.quiet_end) == ("22:00", "08:00")
    saved = await service.save_policy(
        session=session, shop_id=shop.id,
        data={"caps": {"email": {"count": 1, "days": 1}}, "quiet_start": None, "quiet_end": None},
    )  # fmt: skip
    assert saved.saved and saved.caps == {"email": {"count": 1, "days": 1}}
    customer = await _customer(session, shop.id, {"email": True, "sms": True})
    await service.record_contacts(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=[customer],
        at=NIGHT - dt.timedelta(hours=2), marketing=True, ref="x",
    )  # fmt: skip
    email = await service.screen_recipients(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=[customer],
        now=NIGHT,
    )  # fmt: skip
    assert email[customer].reason == "frequency_cap"
    sms = await service.screen_recipients(
        session=session, shop_id=shop.id, kind=ChannelKind.SMS, customer_ids=[customer], now=NIGHT
    )
    assert sms[customer] == Decision(send_at=NIGHT, reason=None)  # no cap, no quiet hours


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"caps": {"fax": {"count": 1, "days": 1}}}, "caps.fax"),
        ({"caps": {"sms": {"count": "2", "days": 7}}}, "caps.sms"),
        ({"caps": {"sms": {"count": 2, "days": 0}}}, "caps.sms"),
        ({"quiet_start": "25:00"}, "quiet_start"),
        ({"quiet_start": "22:00", "quiet_end": None}, "quiet_end"),
        ({"reminder_early_minutes": 0}, "reminder_early_minutes"),
    ],
)
async def test_bad_policy_names_the_field(
    session: AsyncSession,
    shop,
    data: dict,
    field: str,  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service.save_policy(session=session, shop_id=shop.id, data=data)
    assert caught.value.field == field


async def test_block_twice_keeps_one_row_and_unblock(
    session: AsyncSession, shop, other_shop
) -> None:  # type: ignore[no-untyped-def]
    customer = await _customer(session, shop.id, {"sms": True})
    first = await service.block_contact(
        session=session, shop_id=shop.id, customer_id=customer, channel_key="sms",
        reason="unsubscribed",
    )  # fmt: skip
    again = await service.block_contact(
        session=session, shop_id=shop.id, customer_id=customer, channel_key="sms",
        reason="complaint", note="called the hotline",
    )  # fmt: skip
    assert again.id == first.id and again.reason == "complaint"
    rows, total = await service.list_blocks(session=session, shop_id=shop.id)
    assert total == 1 and rows[0].block.note == "called the hotline"
    assert rows[0].customer_name == "顾客"
    assert (await service.list_blocks(session=session, shop_id=other_shop.id))[1] == 0
    with pytest.raises(InvalidInput):
        await service.block_contact(
            session=session, shop_id=shop.id, customer_id=customer, channel_key="sms",
            reason="bored",
        )  # fmt: skip
    with pytest.raises(NotFound):  # another shop's customer
        await service.block_contact(
            session=session, shop_id=other_shop.id, customer_id=customer, channel_key="sms",
            reason="manual",
        )  # fmt: skip
    assert await service.unblock_contact(
        session=session, shop_id=shop.id, customer_id=customer, channel_key="sms"
    )
    assert not await service.unblock_contact(
        session=session, shop_id=shop.id, customer_id=customer, channel_key="sms"
    )


async def test_screening_many_ids_in_few_queries(session: AsyncSession, shop) -> None:  # type: ignore[no-untyped-def]
    """Ids beyond any driver's parameter limit go in one bound parameter per query."""
    customer = await _customer(session, shop.id, {"webhook": True})
    ids = [customer, *range(10_000_000, 10_040_000)]
    statements: list[str] = []
    from sqlalchemy import event

    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        decisions = await service.screen_recipients(
            session=session, shop_id=shop.id, kind=ChannelKind.WEBHOOK, customer_ids=ids, now=DAY
        )
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert decisions[customer].reason is None
    assert sum(d.reason == "unknown_customer" for d in decisions.values()) == 40_000
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 5


@pytest.mark.parametrize(
    ("stored", "consents"),
    [
        (True, True),
        (False, False),
        ("true", False),  # a string is not consent
        (1, False),
        (None, False),
        ({"nested": True}, False),
    ],
)
async def test_only_json_true_is_consent(session: AsyncSession, shop, stored, consents) -> None:  # type: ignore[no-untyped-def]
    """Consent is evaluated in SQL (JSON type / JSONB containment): only a literal `true`
    under the channel's key counts, the same on SQLite and PostgreSQL."""
    customer = await factories.make_customer(session, shop_id=shop.id, name="顾客")
    customer.consent = {"email": stored, "sms": True}
    await session.flush()
    decisions = await service.screen_recipients(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=[customer.id],
        now=DAY,
    )  # fmt: skip
    decision = decisions[customer.id]
    if consents:
        assert decision == Decision(send_at=DAY, reason=None)
    else:
        assert decision == Decision(send_at=None, reason="no_consent")
