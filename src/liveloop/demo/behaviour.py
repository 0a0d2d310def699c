"""Plausible customer histories for the demo shop: who they are, how they browse, watch and buy.

Pure generation (no database): a seeded random source gives the same shop every time.
Archetypes give the distributions a merchant recognises: a few high-value regulars, repeat
buyers, one-time buyers, browsers who never buy, and customers who went quiet.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from faker import Faker

from liveloop.demo.catalog_data import LIVE_TITLES

SHANGHAI = ZoneInfo("Asia/Shanghai")

# archetype: (share, purchases per 30 days, basket multiplier, active span as share of life)
ARCHETYPES: dict[str, tuple[float, float, float, float]] = {
    "vip": (0.02, 2.5, 3.0, 1.0),
    "loyal": (0.08, 1.5, 1.4, 1.0),
    "regular": (0.20, 0.6, 1.0, 0.9),
    "one_time": (0.28, 0.0, 1.0, 0.4),
    "browser": (0.30, 0.0, 0.0, 0.6),
    "churned": (0.12, 0.8, 1.0, 0.25),
}

CHANNEL_WEIGHTS = [
    ("wecom", 45),
    ("wechat_openid", 25),
    ("miniprogram", 15),
    ("douyin", 10),
    ("phone", 5),
]
SOURCES = {
    "wecom": "社群",
    "wechat_openid": "公众号",
    "miniprogram": "小程序",
    "douyin": "抖音",
    "phone": "门店",
}
REGIONS = [
    ("浙江", "杭州"),
    ("上海", "上海"),
    ("广东", "广州"),
    ("广东", "深圳"),
    ("江苏", "南京"),
    ("江苏", "苏州"),
    ("北京", "北京"),
    ("四川", "成都"),
    ("福建", "厦门"),
    ("湖北", "武汉"),
    ("山东", "青岛"),
    ("云南", "昆明"),
]


@dataclass
class DemoCustomer:
    number: int
    name: str
    gender: str
    birthday: dt.date | None
    province: str
    city: str
    source: str
    channel: str
    first_seen: dt.datetime
    archetype: str
    identities: list[tuple[str, str]]
    interests: list[str]
    marketing_consent: dict[str, bool]
    tags: list[str] = field(default_factory=list)


@dataclass
class LiveShow:
    number: int
    title: str
    starts_at: dt.datetime
    minutes: int


def live_schedule(now: dt.datetime, days: int) -> list[LiveShow]:
    """Two shows a week (Wednesday and Saturday, 20:00 Shanghai time) over the history.

    Only shows that are over by `now`: a show on air now would give events in the future."""
    shows: list[LiveShow] = []
    minutes = 120
    day = (now - dt.timedelta(days=days)).astimezone(SHANGHAI).date()
    while True:
        if day.weekday() in (2, 5):
            starts = dt.datetime.combine(day, dt.time(20, 0), SHANGHAI).astimezone(dt.UTC)
            if starts + dt.timedelta(minutes=minutes) >= now:
                break
            shows.append(
                LiveShow(
                    len(shows) + 1, LIVE_TITLES[len(shows) % len(LIVE_TITLES)], starts, minutes
                )
            )
        day += dt.timedelta(days=1)
    return shows


def _pick_archetype(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for name, (share, *_rest) in ARCHETYPES.items():
        total += share
        if roll < total:
            return name
    return "browser"


def make_customers(count: int, *, now: dt.datetime, days: int, seed: int = 7) -> list[DemoCustomer]:
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    channels, weights = zip(*CHANNEL_WEIGHTS, strict=True)
    customers = []
    for number in range(1, count + 1):
        # More customers joined recently: the private domain is growing.
        age_days = days * (1 - rng.random() ** 0.7)
        first_seen = now - dt.timedelta(days=age_days, seconds=rng.randrange(86_400))
        channel = rng.choices(channels, weights)[0]
        gender = rng.choices(["female", "male", "unknown"], [62, 30, 8])[0]
        name = (
            fake.name_female()
            if gender == "female"
            else fake.name_male()
            if gender == "male"
            else fake.name()
        )
        identities: list[tuple[str, str]] = []
        if channel != "phone":
            prefix = {"wecom": "wm", "wechat_openid": "o", "miniprogram": "mp", "douyin": "dy"}[
                channel
            ]
            identities.append(
                (channel, f"{prefix}{seed:02d}{number:07d}{rng.randrange(16**6):06x}")
            )
        if channel == "wecom" and rng.random() < 0.5:
            identities.append(
                ("wechat_unionid", f"u{seed:02d}{number:07d}{rng.randrange(16**6):06x}")
            )
        if channel == "phone" or rng.random() < 0.7:
            identities.append(("phone", f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"))
        if rng.random() < 0.12:
            identities.append(
                ("email", f"user{number}@{rng.choice(['qq.com', '163.com', 'example.cn'])}")
            )
        province, city = rng.choice(REGIONS)
        interests = rng.sample(["茶叶", "零食", "美妆"], k=rng.choice([1, 1, 1, 2]))
        customers.append(
            DemoCustomer(
                number=number,
                name=name,
                gender=gender,
                birthday=fake.date_of_birth(minimum_age=18, maximum_age=65)
                if rng.random() < 0.6
                else None,
                province=province,
                city=city,
                source=SOURCES[channel],
                channel=channel,
                first_seen=first_seen,
                archetype=_pick_archetype(rng),
                identities=identities,
                interests=interests,
                marketing_consent={
                    "wecom": channel == "wecom" or rng.random() < 0.3,
                    "sms": rng.random() < 0.55,
                    "email": any(c == "email" for c, _ in identities) and rng.random() < 0.7,
                },
            )
        )
    return customers


@dataclass
class SkuChoice:
    product_id: int
    sku_id: int
    category: str
    price_fen: int
    name: str


def customer_events(
    customer: DemoCustomer,
    *,
    customer_id: int,
    skus: list[SkuChoice],
    shows: list[LiveShow],
    now: dt.datetime,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """Every behaviour event of one customer, as event-ingestion items."""
    _share, monthly_orders, basket, active_share = ARCHETYPES[customer.archetype]
    life = now - customer.first_seen
    active_until = customer.first_seen + life * active_share
    liked = [s for s in skus if s.category in customer.interests] or skus
    events: list[dict[str, Any]] = []
    counter = 0

    def add(kind: str, at: dt.datetime, **extra: Any) -> None:
        nonlocal counter
        counter += 1
        at = min(at, now)  # a long stay or a late payment never lands in the future
        properties = extra.pop("properties", {})
        events.append(
            {
                "type": kind,
                "customer_id": customer_id,
                "occurred_at": at.isoformat(),
                "client_event_id": f"demo-{customer.number}-{counter}",
                "properties": properties,
                **extra,
            }
        )

    add("view", customer.first_seen, properties={"page": "mall_home", "first_visit": True})
    # Live shows watched while active.
    watch_rate = {
        "vip": 0.6,
        "loyal": 0.45,
        "regular": 0.25,
        "one_time": 0.1,
        "browser": 0.15,
        "churned": 0.3,
    }
    for show in shows:
        if (
            not (customer.first_seen <= show.starts_at <= active_until)
            or rng.random() > watch_rate[customer.archetype]
        ):
            continue
        enter = show.starts_at + dt.timedelta(minutes=rng.randrange(0, 60))
        stay = dt.timedelta(minutes=max(1, int(rng.expovariate(1 / 18))))
        live = {"live_title": show.title, "live_no": show.number}
        add("live_enter", enter, properties={**live, "source": customer.source})
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            add(
                "comment",
                enter + stay * rng.random(),
                properties={
                    **live,
                    "text": rng.choice(
                        [
                            "主播好！",
                            "这个多少钱？",
                            "上链接",
                            "已下单",
                            "有优惠券吗",
                            "包邮吗？",
                            "好喝！回购了",
                        ]
                    ),
                },
            )
        if rng.random() < 0.5:
            add(
                "like",
                enter + stay * rng.random(),
                properties={**live, "count": rng.randrange(1, 60)},
            )
        if rng.random() < 0.08:
            add("share", enter + stay * rng.random(), properties={**live, "to": "wechat_group"})
        add(
            "live_leave",
            enter + stay,
            properties={**live, "watched_seconds": int(stay.total_seconds())},
        )
    # Browsing days and purchases.
    active_days = max(1, (active_until - customer.first_seen).days)
    visits = max(1, int(active_days / rng.choice([4, 7, 10, 14])))
    orders_left = max(1, round(monthly_orders * active_days / 30)) if monthly_orders else 0
    if customer.archetype == "one_time":
        orders_left = 1
    for _ in range(visits):
        at = customer.first_seen + dt.timedelta(
            seconds=rng.randrange(max(1, int((active_until - customer.first_seen).total_seconds())))
        )
        sku = rng.choice(liked)
        add(
            "product_view",
            at,
            product_id=sku.product_id,
            properties={"sku_id": sku.sku_id, "dwell_seconds": rng.randrange(3, 240)},
        )
        if rng.random() < 0.3:
            add(
                "add_to_cart",
                at + dt.timedelta(seconds=30),
                product_id=sku.product_id,
                properties={"sku_id": sku.sku_id, "quantity": 1},
            )
    for index in range(orders_left):
        span = max(1, int((active_until - customer.first_seen).total_seconds()))
        at = customer.first_seen + dt.timedelta(seconds=span * (index + rng.random()) / orders_left)
        lines = []
        for sku in rng.sample(liked, k=min(len(liked), rng.choice([1, 1, 2, 3]))):
            quantity = max(1, round(rng.choice([1, 1, 2]) * basket))
            lines.append(
                {
                    "sku_id": sku.sku_id,
                    "product_id": sku.product_id,
                    "quantity": quantity,
                    "price_fen": sku.price_fen,
                }
            )
        amount = sum(line["quantity"] * line["price_fen"] for line in lines)
        order_no = f"D{customer.number:05d}{index:03d}"
        add(
            "order",
            at,
            product_id=lines[0]["product_id"],
            properties={"order_no": order_no, "amount_fen": amount, "lines": lines},
        )
        if rng.random() < 0.93:  # a few orders are never paid
            add(
                "pay",
                at + dt.timedelta(minutes=rng.randrange(1, 14)),
                product_id=lines[0]["product_id"],
                properties={"order_no": order_no, "amount_fen": amount, "method": "wechat_pay"},
            )
    return events


def demo_tags(
    customer: DemoCustomer,
    *,
    paid_orders: int,
    spent_fen: int,
    last_active: dt.datetime,
    now: dt.datetime,
    rng: random.Random,
) -> list[str]:
    tags = [
        {"茶叶": "茶叶爱好者", "零食": "零食控", "美妆": "美妆达人"}[i] for i in customer.interests
    ]
    if spent_fen >= 200_000:
        tags.append("高价值")
    if paid_orders >= 2:
        tags.append("复购客")
    if now - customer.first_seen < dt.timedelta(days=30):
        tags.append("新客")
    if now - last_active > dt.timedelta(days=60):
        tags.append("沉睡")
    if customer.channel == "wecom":
        tags.append("已加企微")
    tags.append(rng.choice(["直播引流", "社群", "老带新"]))
    return tags
