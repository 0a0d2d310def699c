"""Seed the demo shop through the domains' services: staff, catalog, tags, customers, history."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.catalog.schemas import CategoryCreate, ProductCreate
from liveloop.commerce.flash.demo import seed_promotions
from liveloop.core.database import utcnow
from liveloop.core.settings import Settings, get_settings
from liveloop.customers import imports as customer_imports
from liveloop.customers import service as customers_service
from liveloop.customers import tags as tags_service
from liveloop.customers.models import Customer
from liveloop.customers.points import earning as points_earning
from liveloop.customers.schemas import TagGroupIn, TagIn
from liveloop.demo.behaviour import (
    DemoCustomer,
    SkuChoice,
    customer_events,
    demo_tags,
    live_schedule,
    make_customers,
)
from liveloop.demo.catalog_data import TAG_GROUPS, product_rows
from liveloop.demo.commerce_history import seed_commerce_history
from liveloop.demo.communities import seed_communities
from liveloop.demo.fission import seed_fission
from liveloop.demo.live_data import seed_live
from liveloop.demo.points import seed_points
from liveloop.demo.private_domain_rules import seed_rules
from liveloop.demo.segments import seed_segments
from liveloop.demo.welfare_demo import seed_welfare
from liveloop.events import service as events_service
from liveloop.shops import service as shops_service
from liveloop.shops.models import Shop
from liveloop.shops.permissions import Role

DEMO_SHOP_NAME = "茶语小铺 · 演示店"
DEMO_PASSWORD = "liveloop-demo"
DEMO_STAFF = [
    ("demo@liveloop.local", "店主小林", Role.OWNER),
    ("operator@liveloop.local", "运营阿杰", Role.OPERATOR),
    ("agent@liveloop.local", "客服小美", Role.SERVICE_AGENT),
    ("anchor@liveloop.local", "主播佳佳", Role.ANCHOR),
    ("analyst@liveloop.local", "分析师老周", Role.ANALYST),
]
HEADER = [
    "姓名",
    "性别",
    "生日",
    "省份",
    "城市",
    "来源",
    "wecom",
    "wechat_openid",
    "wechat_unionid",
    "douyin",
    "miniprogram",
    "phone",
    "email",
    "标签",
]
EVENT_BATCH = 1000


@dataclass
class SeedReport:
    shop_id: int
    customers: int
    products: int
    events: int
    paid_orders: int
    gmv_fen: int
    invited_customers: int = 0  # new customers the demo fission campaign brought in
    invitation_id: int = 0  # the three-layer live invitation, planned; sent by send_outreach


async def demo_exists(session: AsyncSession) -> bool:
    return (await session.execute(select(Shop.id).limit(1))).first() is not None


async def seed_demo(
    *,
    session: AsyncSession,
    customers: int = 5000,
    days: int = 180,
    seed: int = 7,
    progress: Callable[[str], None] = lambda _message: None,
    settings: Settings | None = None,
) -> SeedReport:
    now = utcnow()
    rng = random.Random(seed)
    shop = await shops_service.create_shop(session=session, name=DEMO_SHOP_NAME)
    staff = [
        await shops_service.create_staff(
            session=session,
            shop_id=shop.id,
            email=email,
            name=name,
            password=DEMO_PASSWORD,
            role=role,
        )
        for email, name, role in DEMO_STAFF
    ]
    actor = shops_service.actor_for_staff(staff[0])

    progress("catalog")
    skus = await _seed_catalog(session, shop_id=shop.id)
    progress("tags")
    for position, (group_name, tags) in enumerate(TAG_GROUPS.items()):
        group = await tags_service.create_tag_group(
            session=session, actor=actor, data=TagGroupIn(name=group_name, position=position)
        )
        for tag_name, color in tags:
            await tags_service.create_tag(
                session=session,
                actor=actor,
                data=TagIn(name=tag_name, color=color, group_id=group.id),
            )

    progress(f"{customers} customers")
    people = make_customers(customers, now=now, days=days, seed=seed)
    ids = await _import_customers(session, actor=actor, people=people)

    progress("behaviour history")
    shows = live_schedule(now, days)
    total_events = paid_orders = gmv = 0
    batch: list[dict[str, object]] = []
    tag_rows: list[tuple[DemoCustomer, list[str]]] = []
    first_seen: dict[int, dt.datetime] = {}
    for person in people:
        customer_id = ids[person.identities[0]]
        first_seen[customer_id] = person.first_seen
        events = customer_events(
            person, customer_id=customer_id, skus=skus, shows=shows, now=now, rng=rng
        )
        paid = [e for e in events if e["type"] == "pay"]
        spent = sum(int(e["properties"]["amount_fen"]) for e in paid)  # type: ignore[index]
        paid_orders, gmv = paid_orders + len(paid), gmv + spent
        last = max(dt.datetime.fromisoformat(str(e["occurred_at"])) for e in events)
        tag_rows.append(
            (
                person,
                demo_tags(
                    person,
                    paid_orders=len(paid),
                    spent_fen=spent,
                    last_active=last,
                    now=now,
                    rng=rng,
                ),
            )
        )
        batch.extend(events)
        while len(batch) >= EVENT_BATCH:
            total_events += await _ingest(session, shop.id, batch[:EVENT_BATCH])
            del batch[:EVENT_BATCH]
    if batch:
        total_events += await _ingest(session, shop.id, batch)
    await customers_service.mark_customers_first_seen(
        session=session, shop_id=shop.id, first_seen=first_seen
    )

    progress("tags on customers")
    tag_ids = await tags_service.ensure_tags(
        session=session, shop_id=shop.id, names={t for _, tags in tag_rows for t in tags}
    )
    await tags_service.add_tag_links(
        session=session,
        shop_id=shop.id,
        source="rule",
        tagged_by="demo seed",
        pairs=[(ids[person.identities[0]], tag_ids[t]) for person, tags in tag_rows for t in tags],
    )
    progress("live sessions")
    rooms = await seed_live(
        session=session, actor=actor, staff=staff, customer_ids=[*ids.values()], now=now
    )
    progress("coupons and flash sales")
    promotions = await seed_promotions(
        session=session,
        shop_id=shop.id,
        live_session_id=rooms["live"],
        sku_ids=[choice.sku_id for choice in skus],
        customer_ids=[*ids.values()],
        seed=seed,
    )
    progress("order history")
    history = await seed_commerce_history(
        session=session,
        actor=actor,
        rooms=rooms,
        skus=skus,
        customer_ids=[*ids.values()],
        now=now,
        seed=seed,
    )
    progress("communities and channel codes")
    communities = await seed_communities(
        session, shop_id=shop.id, staff=staff, customer_ids=[*ids.values()], now=now, seed=seed
    )
    progress("follow for welfare")
    await seed_welfare(session, actor=actor, live_session_id=rooms["live"])
    progress("points and tiers")
    points = await seed_points(
        session, shop_id=shop.id, actor=actor, customer_ids=[*ids.values()], now=now, seed=seed
    )
    progress("referral fission")
    fission = await seed_fission(session, shop_id=shop.id, customer_ids=[*ids.values()], seed=seed)
    progress("tag rules, RFM and lifecycle")
    await seed_rules(session, shop_id=shop.id, now=now)
    progress("segments")
    await seed_segments(session, shop_id=shop.id, actor=actor)
    progress("post-live reports")
    from liveloop.demo.reports_demo import seed_live_reports

    reports = await seed_live_reports(
        session=session, shop_id=shop.id, rooms=rooms, customer_ids=[*ids.values()], seed=seed
    )
    # The room events are history the seed's points already stand for: not to be earned again.
    await points_earning.skip_to_latest_event(session=session)
    progress("costs for ROI and CAC")
    from liveloop.demo.value_demo import seed_costs

    await seed_costs(session, shop_id=shop.id, rooms=rooms, now=now)
    progress("script library")
    from liveloop.demo.scripts_demo import seed_scripts

    await seed_scripts(session, actor=actor, staff=staff)
    progress("live invitations")
    from liveloop.demo.outreach_demo import seed_outreach

    invitation_id = await seed_outreach(
        session, shop_id=shop.id, rooms=rooms, settings=settings or get_settings()
    )
    return SeedReport(
        shop_id=shop.id,
        customers=len(people),
        products=len({s.product_id for s in skus}),
        events=total_events
        + promotions.events
        + history.events
        + communities.events
        + points.events
        + fission.events
        + reports.events,
        paid_orders=paid_orders,
        gmv_fen=gmv,
        invited_customers=fission.new_customers,
        invitation_id=invitation_id,
    )


async def _seed_catalog(session: AsyncSession, *, shop_id: int) -> list[SkuChoice]:
    categories: dict[str, int] = {}
    choices: list[SkuChoice] = []
    for row in product_rows():
        category = str(row["category"])
        if category not in categories:
            created = await catalog_service.create_category(
                session=session,
                shop_id=shop_id,
                data=CategoryCreate(name=category, sort=len(categories)),
            )
            categories[category] = created.id
        product = await catalog_service.create_product(
            session=session,
            shop_id=shop_id,
            data=ProductCreate(
                name=row["name"],
                subtitle=row["subtitle"],
                category_id=categories[category],
                skus=row["skus"],
            ),
        )
        for sku in product.skus:
            choices.append(SkuChoice(product.id, sku.id, category, sku.price_fen, product.name))
    return choices


async def _import_customers(
    session: AsyncSession, *, actor: shops_service.Actor, people: list[DemoCustomer]
) -> dict[tuple[str, str], int]:
    records: list[list[str]] = [HEADER]
    gender = {"female": "女", "male": "男"}
    for person in people:
        by_channel = dict(person.identities)
        records.append(
            [
                person.name,
                gender.get(person.gender, ""),
                person.birthday.isoformat() if person.birthday else "",
                person.province,
                person.city,
                person.source,
                *(by_channel.get(channel, "") for channel in HEADER[6:13]),
                "",
            ]
        )
    report = await customer_imports.import_customer_records(
        session=session, actor=actor, records=records, source_name="demo seed"
    )
    if report.errors:
        raise RuntimeError(f"demo customers did not import cleanly: {report.errors[:3]}")
    ids = await customers_service.resolve_identities(
        session=session,
        shop_id=actor.shop_id,
        identities=[p.identities[0] for p in people],
        create_missing=False,
    )
    # Marketing consent per channel, as each customer gave it (one UPDATE per combination).
    by_consent: dict[tuple[tuple[str, bool], ...], list[int]] = {}
    for person in people:
        key = tuple(sorted(person.marketing_consent.items()))
        by_consent.setdefault(key, []).append(ids[person.identities[0]])
    for key, customer_ids in by_consent.items():
        for start in range(0, len(customer_ids), 5000):
            await session.execute(
                update(Customer)
                .where(Customer.id.in_(customer_ids[start : start + 5000]))
                .values(consent=dict(key))
            )
    return ids


async def _ingest(session: AsyncSession, shop_id: int, items: list[dict[str, object]]) -> int:
    result = await events_service.ingest_events(session=session, shop_id=shop_id, items=items)
    if result.errors:
        raise RuntimeError(f"demo events were refused: {result.errors[:3]}")
    return result.accepted
