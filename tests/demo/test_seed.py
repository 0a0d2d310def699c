import datetime as dt
import random
from collections import Counter

from sqlalchemy import func, select

from liveloop.customers.models import Customer, CustomerTag
from liveloop.demo.behaviour import SkuChoice, customer_events, live_schedule, make_customers
from liveloop.demo.seed import DEMO_PASSWORD, seed_demo
from liveloop.events.models import Event
from liveloop.shops import service as shops_service

NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


def test_generation_is_reproducible_and_plausible() -> None:
    first = make_customers(400, now=NOW, days=180, seed=3)
    again = make_customers(400, now=NOW, days=180, seed=3)
    assert [c.identities for c in first] == [c.identities for c in again]
    archetypes = Counter(c.archetype for c in first)
    assert archetypes["browser"] > archetypes["vip"] > 0
    assert all(NOW - dt.timedelta(days=181) <= c.first_seen <= NOW for c in first)
    assert all(c.identities for c in first)


def test_live_shows_are_wednesday_and_saturday_evenings_in_shanghai() -> None:
    shows = live_schedule(NOW, 28)
    assert len(shows) == 8
    for show in shows:
        local = show.starts_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
        assert (local.weekday(), local.hour) in {(2, 20), (5, 20)}


def test_events_of_a_customer_are_ordered_by_kind_and_paid_orders_match_orders() -> None:
    people = make_customers(200, now=NOW, days=180, seed=5)
    skus = [
        SkuChoice(product_id=i, sku_id=i, category=c, price_fen=9900, name="x")
        for i, c in enumerate(["茶叶", "零食", "美妆"] * 3, start=1)
    ]
    rng = random.Random(1)
    for index, person in enumerate(people):
        events = customer_events(
            person, customer_id=index, skus=skus, shows=live_schedule(NOW, 180), now=NOW, rng=rng
        )
        orders = {e["properties"]["order_no"]: e for e in events if e["type"] == "order"}
        for pay in (e for e in events if e["type"] == "pay"):
            order = orders[pay["properties"]["order_no"]]
            assert pay["properties"]["amount_fen"] == order["properties"]["amount_fen"]
            assert pay["occurred_at"] > order["occurred_at"]
        if person.archetype == "browser":
            assert not orders


async def test_seed_builds_a_shop_through_the_services(session, settings) -> None:
    report = await seed_demo(session=session, customers=60, days=30, seed=11, settings=settings)
    customers = (
        await session.execute(
            select(func.count()).select_from(Customer).where(Customer.shop_id == report.shop_id)
        )
    ).scalar_one()
    events = (
        await session.execute(
            select(func.count()).select_from(Event).where(Event.shop_id == report.shop_id)
        )
    ).scalar_one()
    tagged = (
        await session.execute(
            select(func.count(func.distinct(CustomerTag.customer_id))).where(
                CustomerTag.shop_id == report.shop_id
            )
        )
    ).scalar_one()
    assert customers == report.customers + report.invited_customers
    assert report.customers == 60 and report.invited_customers > 0
    assert events == report.events > 60
    assert tagged == 60
    assert report.products >= 20
    owner = await shops_service.authenticate_staff(
        session=session, email="demo@liveloop.local", password=DEMO_PASSWORD
    )
    assert owner.role == "owner"
    oldest = (
        await session.execute(
            select(func.min(Customer.first_seen_at)).where(Customer.shop_id == report.shop_id)
        )
    ).scalar_one()
    assert oldest < dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    await _check_outreach(session, report, settings)


async def _check_outreach(session, report, settings) -> None:  # type: ignore[no-untyped-def]
    """Three layers invited to tomorrow's session, each with its words, in the mailbox file."""
    import mailbox
    from email.header import decode_header, make_header

    from liveloop.demo.outreach_demo import send_outreach
    from liveloop.outreach.broadcasts.models import Broadcast, BroadcastRecipient
    from liveloop.outreach.channels.email import KEY_HEADER, SHOP_HEADER

    sent = await send_outreach(
        session, shop_id=report.shop_id, broadcast_id=report.invitation_id, settings=settings
    )
    broadcast = (
        await session.execute(select(Broadcast).where(Broadcast.shop_id == report.shop_id))
    ).scalar_one()
    layers = set(
        (
            await session.execute(
                select(BroadcastRecipient.variant).where(
                    BroadcastRecipient.broadcast_id == broadcast.id
                )
            )
        ).scalars()
    )
    # Each recipient is in one layer (its own words); a 60-customer shop may leave one empty.
    assert layers and layers <= {"vip", "newcomer", "repeat"}
    assert broadcast.status == "sent" and [v["key"] for v in broadcast.variants] == [
        "vip", "newcomer", "repeat"
    ]  # fmt: skip
    reached = dict(
        (
            await session.execute(
                select(BroadcastRecipient.variant, func.count())
                .where(
                    BroadcastRecipient.broadcast_id == broadcast.id,
                    BroadcastRecipient.status.in_(("sent", "delivered")),
                )
                .group_by(BroadcastRecipient.variant)
            )
        ).all()
    )
    assert set(reached) <= layers and sum(reached.values()) == sent.sent > 0
    box = mailbox.mbox(sent.mailbox)
    try:
        mine = [
            m for m in box
            if m[SHOP_HEADER] == str(report.shop_id) and str(m[KEY_HEADER]).startswith("bc:")
        ]  # fmt: skip
        subjects = {str(make_header(decode_header(m["Subject"]))) for m in mine}
    finally:
        box.close()
    assert len(mine) == sent.sent
    assert all(s.startswith("直播邀请：") for s in subjects)
