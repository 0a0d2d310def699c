"""A record of another shop is "not found" on every route that takes an id.

The test walks the app's routes, so a new route with an id parameter is covered (or fails
here, asking for a sample body) without anyone remembering to add it.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from liveloop.catalog import images as catalog_images
from liveloop.customers import merge as merge_service
from liveloop.shops import service as shops_service
from liveloop.shops.service import system_actor
from tests import factories
from tests.commerce.growth_helpers import make_growth_records
from tests.commerce.promotion_records import make_promotion_records
from tests.factories.live import make_live_session
from tests.web.conftest import log_in

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

# JSON bodies that would succeed on a record of the caller's own shop.
API_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/live/{live_session_id}/lotteries"): {
        "title": "福袋",
        "prize_kind": "points",
        "prize_points": 10,
        "winner_count": 1,
        "duration_seconds": 60,
    },
    ("POST", "/api/v1/lotteries/{lottery_id}/entries/{entry_id}/shipped"): {"note": ""},
    ("POST", "/api/v1/live/{live_session_id}/red-packets"): {"total_fen": 100, "count": 2},
    ("POST", "/api/v1/live/{live_session_id}/polls"): {
        "question": "选哪个？",
        "options": ["A", "B"],
    },
    ("POST", "/api/v1/live/{live_session_id}/quizzes"): {
        "question": "哪个对？",
        "options": ["A", "B"],
        "correct_index": 0,
    },
    ("POST", "/api/v1/live-questions/{question_id}/answer"): {"answer": "可以", "on_screen": True},
    ("PUT", "/api/v1/live/{live_session_id}/mic"): {"is_open": True, "max_guests": 1},
    ("POST", "/api/v1/mic/requests/{request_id}/reject"): {"reason": ""},
    ("POST", "/api/v1/mic/requests/{request_id}/end"): {"reason": ""},
    ("PATCH", "/api/v1/scripts/categories/{script_category_id}"): {"name": "发货"},
    ("PATCH", "/api/v1/scripts/{script_id}"): {"title": "发货时间"},
    ("POST", "/api/v1/scripts/{script_id}/use"): {"customer_id": None},
    ("POST", "/api/v1/live/{live_session_id}/welfare-offers"): {
        "community_id": "{community_id}",
        "popup_text": "加入VIP群领积分",
        "reward_kind": "points",
        "reward_points": 10,
    },
    ("POST", "/api/v1/welfare-offers/{offer_id}/confirmations"): {"customer_id": "{customer_id}"},
    ("POST", "/api/v1/service/conversations/{conversation_id}/messages"): {"text": "你好"},
    ("POST", "/api/v1/service/conversations/{conversation_id}/read"): {"up_to": 0},
    ("PUT", "/api/v1/staff/{staff_id}/role"): {"role": "operator"},
    ("PATCH", "/api/v1/customers/{customer_id}"): {"display_name": "李雷"},
    ("POST", "/api/v1/customers/{customer_id}/identities"): {"channel": "douyin", "value": "dy-1"},
    ("POST", "/api/v1/customers/{customer_id}/merge"): {"source_id": "{other_customer_id}"},
    ("PATCH", "/api/v1/tag-groups/{group_id}"): {"name": "新分组"},
    ("PATCH", "/api/v1/tags/{tag_id}"): {"name": "新标签"},
    ("PATCH", "/api/v1/tag-rules/{rule_id}"): {"name": "新规则"},
    ("PATCH", "/api/v1/categories/{category_id}"): {"name": "新分类"},
    ("PATCH", "/api/v1/products/{product_id}"): {"name": "新品"},
    ("PUT", "/api/v1/products/{product_id}/images/order"): {"image_ids": ["{image_id}"]},
    ("POST", "/api/v1/products/{product_id}/skus"): {"price_fen": 100, "stock": 1},
    ("PATCH", "/api/v1/skus/{sku_id}"): {"price_fen": 100},
    ("POST", "/api/v1/skus/{sku_id}/stock"): {"delta": 1, "reason": "盘点"},
    ("PATCH", "/api/v1/live/{live_session_id}"): {"title": "新标题"},
    ("PUT", "/api/v1/live/{live_session_id}/lineup"): {"product_ids": []},
    ("PUT", "/api/v1/live/{live_session_id}/announcement"): {"text": "公告"},
    ("PUT", "/api/v1/live/{live_session_id}/pinned"): {"text": "置顶"},
    ("POST", "/api/v1/live/{live_session_id}/push"): {"product_id": "{product_id}"},
    ("PUT", "/api/v1/live/{live_session_id}/comments"): {"enabled": False},
    ("POST", "/api/v1/live/{live_session_id}/reservations"): {"customer_id": "{customer_id}"},
    ("POST", "/api/v1/live/{live_session_id}/links"): {"channel": "group"},
    ("POST", "/api/v1/live/{live_session_id}/viewer-token"): {"device_id": "device-0001aa"},
    ("POST", "/api/v1/live/{live_session_id}/mutes"): {"device_id": "device-0001aa"},
    ("POST", "/api/v1/live/{live_session_id}/bans"): {"device_id": "device-0001aa"},
    ("POST", "/api/v1/live/{live_session_id}/kicks"): {"device_id": "device-0001aa"},
    ("PATCH", "/api/v1/live/words/{word_id}"): {"action": "block"},
    ("POST", "/api/v1/orders/{order_id}/ship"): {"carrier": "顺丰", "tracking_number": "SF1"},
    ("POST", "/api/v1/orders/{order_id}/cancel"): {"reason": "缺货"},
    ("POST", "/api/v1/orders/{order_id}/refunds"): {"amount_fen": 1, "reason": "补差价"},
    ("POST", "/api/v1/refunds/{refund_id}/reject"): {"reason": "不符合"},
    ("PATCH", "/api/v1/coupons/{coupon_id}"): {"title": "新券"},
    ("POST", "/api/v1/coupons/{coupon_id}/status"): {"status": "stopped"},
    ("POST", "/api/v1/coupons/{coupon_id}/grants"): {"customer_id": "{customer_id}"},
    ("POST", "/api/v1/coupons/{coupon_id}/push"): {"live_session_id": "{live_session_id}"},
    ("PATCH", "/api/v1/group-buys/{group_buy_id}"): {"title": "新团"},
    ("POST", "/api/v1/group-buys/{group_buy_id}/push"): {"live_session_id": "{live_session_id}"},
    ("POST", "/api/v1/group-buys/{group_buy_id}/withdraw"): {
        "live_session_id": "{live_session_id}"
    },
    ("POST", "/api/v1/customers/{customer_id}/points/adjustments"): {"delta": 1, "reason": "x"},
    ("PATCH", "/api/v1/points/earn-rules/{earn_rule_id}"): {"points": 1},
    ("PATCH", "/api/v1/points/tiers/{tier_id}"): {"name": "新等级"},
    ("PATCH", "/api/v1/points/redemption-items/{item_id}"): {"points_price": 1},
    ("PATCH", "/api/v1/affiliates/{affiliate_id}"): {"name": "新名"},
    ("PATCH", "/api/v1/segments/{segment_id}"): {"name": "新人群"},
    ("POST", "/api/v1/affiliates/{affiliate_id}/codes"): {"code": "ISO-1"},
    ("PUT", "/api/v1/fission/campaigns/{fission_campaign_id}"): {
        "name": "新活动",
        "invitees_needed": 2,
        "reward_kind": "points",
        "reward_points": 10,
    },
    ("PUT", "/api/v1/affiliates/{affiliate_id}/rates"): {
        "product_id": "{product_id}",
        "rate_bp": 1,
    },
    ("PATCH", "/api/v1/communities/{community_id}"): {"name": "新群"},
    ("POST", "/api/v1/communities/{community_id}/members"): {"customer_id": "{customer_id}"},
    ("PATCH", "/api/v1/channel-codes/{code_id}"): {"name": "新活码"},
}
API_BODIES.update(
    {
        ("PATCH", "/api/v1/outreach/channels/{outreach_channel_id}"): {"name": "x"},
        ("PUT", "/api/v1/outreach/templates/{message_template_id}"): {
            "name": "x",
            "kind": "sms",
            "parts": {"text": "x"},
        },
        ("POST", "/api/v1/outreach/templates/{message_template_id}/preview"): {},
        ("POST", "/api/v1/outreach/channels/{outreach_channel_id}/test"): {
            "address": "a@example.com"
        },
        ("PUT", "/api/v1/analytics/value/costs/{cost_id}"): {
            "kind": "ads",
            "amount_fen": 100,
            "spent_on": "2026-01-01",
        },
        ("POST", "/api/v1/analytics/funnels/live/{live_session_id}/dropoffs/segment"): {
            "name": "流失",
            "step": "paid",
        },
        ("POST", "/api/v1/analytics/funnels/live/{live_session_id}/converted/segment"): {
            "name": "未转化",
            "group": "not_converted",
        },
    }
)

MULTIPART_ROUTES = {
    ("POST", "/api/v1/products/{product_id}/images"),
    ("POST", "/api/v1/live/{live_session_id}/cover"),
    ("POST", "/console/products/{product_id}/images"),
}

# Console forms ignore fields they do not read, so one generous form fits every route.
CONSOLE_FORM = {
    "group": "not_converted",
    "role": "operator",
    "name": "新名字",
    "display_name": "李雷",
    "color": "#aa3300",
    "channel": "douyin",
    "value": "dy-1",
    "tag_id": "{tag_id}",
    "tag_name": "新标签",
    "source_id": "{other_customer_id}",
    "status": "off_shelf",
    "delta": "1",
    "reason": "盘点",
    "price": "1.00",
    "price_yuan": "1.00",
    "list_price": "",
    "stock": "1",
    "code": "",
    "specs": "",
    "group_id": "",
    "category_id": "",
    "subtitle": "",
    "description": "",
    "gender": "",
    "province": "",
    "city": "",
    "notes": "",
    "position": "0",
    "active": "1",
    "carrier": "顺丰",
    "tracking_number": "SF1",
    "condition": '{"kind": "tags", "op": "has_any", "tag_ids": [1]}',
}


def walk_routes(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(walk_routes(route.original_router.routes))
    return found


# A live room's public code is the capability (anyone with the link may watch), in any shop;
# these routes take that code, never a record id.
# A payment provider's callback names the shop it is for and proves itself by its signature;
# the demo pay page's signed token is its capability.
PUBLIC_PREFIXES = (
    "/api/v1/public/",
    "/live/",
    "/api/v1/payments/{provider}/notify/",
    "/pay/",
    "/group/",  # a group buy's share link
    "/assist/",  # an assist's share link
    "/coupon/",  # a coupon's claim link (its code is the capability)
    "/mall/",  # a shop's public mall and the buyer's orders (read with the buyer's token)
    "/c/",  # a channel code's landing page (its code is the capability)
    "/f/",  # a fission invite link and its posters (the participant's code is the capability)
    "/u/",  # an unsubscribe link (its signed token is the capability)
    "/r/",  # a broadcast click link (its token is the capability)
)


def id_routes(app: Any) -> list[tuple[str, str, APIRoute]]:
    return sorted(
        (method, route.path, route)
        for route in walk_routes(app.routes)
        if "{" in route.path and not route.path.startswith(PUBLIC_PREFIXES)
        for method in route.methods - {"HEAD"}
    )


@pytest.fixture
async def foreign_ids(session, other_shop, settings) -> dict[str, int]:
    """One record of every kind, all in the other shop."""
    staff = await factories.make_staff(session, shop_id=other_shop.id, role="operator")
    other_actor = system_actor(other_shop.id)
    api_key, _ = await shops_service.create_api_key(
        session=session, actor=other_actor, name="k", permissions=["customers.read"]
    )
    group = await factories.make_tag_group(session, shop_id=other_shop.id)
    tag = await factories.make_tag(session, shop_id=other_shop.id, group_id=group.id)
    customer = await factories.make_customer(
        session, shop_id=other_shop.id, phone="13900001111", tags=[tag]
    )
    merged = await factories.make_customer(session, shop_id=other_shop.id, name="王芳")
    spare = await factories.make_customer(session, shop_id=other_shop.id, name="赵敏")
    merge = await merge_service.merge_customers(
        session=session, actor=other_actor, target_id=customer.id, source_id=merged.id
    )
    category = await factories.make_category(session, shop_id=other_shop.id)
    product = await factories.make_product(session, shop_id=other_shop.id, category_id=category.id)
    image = await catalog_images.add_product_image(
        session=session,
        shop_id=other_shop.id,
        product_id=product.id,
        content=PNG,
        media_dir=settings.resolved_media_dir,
    )
    await factories.make_events(session, shop_id=other_shop.id, customer_id=customer.id, n=1)
    from liveloop.events import service as events_service

    events = await events_service.list_events(session=session, shop_id=other_shop.id)
    identity_id = customer.identities[0].id
    live = await make_live_session(session, shop_id=other_shop.id, status="live")
    from liveloop.live import moderation as live_moderation
    from liveloop.live import service as live_service
    from liveloop.live.schemas import EntryLinkCreate

    link = await live_service.create_entry_link(
        session=session, actor=other_actor, live_session=live, data=EntryLinkCreate(channel="kol")
    )
    restriction = await live_moderation.mute(
        session=session, actor=other_actor, live_session_id=live.id, device_id="device-0001aa"
    )
    words = await live_moderation.add_words(
        session=session, actor=other_actor, words=[("x", "mask")]
    )
    order = await factories.make_order(
        session, shop_id=other_shop.id, customer_id=customer.id, lines=[(product.skus[0].id, 1)]
    )
    payment, refund = await make_paid_refund(session, order)
    promotions = await make_promotion_records(
        session, shop_id=other_shop.id, sku_id=product.skus[0].id, customer_id=customer.id
    )
    growth = await make_growth_records(session, shop_id=other_shop.id, sku_id=product.skus[0].id)
    from liveloop.customers.segments import service as segments_service
    from liveloop.customers.segments.schemas import SegmentIn

    segment = await segments_service.create_segment(
        session=session, actor=other_actor, data=SegmentIn(name="隔壁人群", filter={"all": []})
    )
    rule = await make_tag_rule(session, shop_id=other_shop.id)
    communities = await make_community_records(session, other_shop.id, staff.id, customer.id)
    from tests.customers.points.conftest import make_points_records

    points_records = await make_points_records(session, shop_id=other_shop.id)
    from tests.customers.fission.helpers import make_fission_records

    fission = await make_fission_records(session, shop_id=other_shop.id)
    from tests.live.lottery.conftest import make_lottery_records

    lotteries = await make_lottery_records(session, shop_id=other_shop.id)
    from tests.live.redpackets.conftest import make_redpacket_records

    red_packets = await make_redpacket_records(session, shop_id=other_shop.id)
    from tests.live.polls.conftest import make_polls_records

    polls = await make_polls_records(session, shop_id=other_shop.id)
    from tests.live.mic.conftest import make_mic_records
    from tests.live.servicechat.conftest import make_servicechat_records

    mic = await make_mic_records(session, shop_id=other_shop.id)
    service_chat = await make_servicechat_records(session, shop_id=other_shop.id)
    from tests.outreach.scripts.conftest import make_scripts_records

    scripts = await make_scripts_records(session, shop_id=other_shop.id)
    from tests.live.welfare.conftest import make_welfare_records

    welfare = await make_welfare_records(session, shop_id=other_shop.id)
    from tests.outreach.consent.conftest import make_consent_records

    welfare.update(await make_consent_records(session, shop_id=other_shop.id))
    from tests.outreach.channels.conftest import make_channels_records

    welfare.update(await make_channels_records(session, shop_id=other_shop.id))
    welfare.update(await _outreach_analytics_records(session, other_shop.id))
    return {
        **lotteries,
        **red_packets,
        **polls,
        **mic,
        **service_chat,
        **scripts,
        **welfare,
        "segment_id": segment.id,
        "rule_id": rule.id,
        **communities,
        **growth,
        **points_records,
        **fission,
        **promotions,
        "payment_id": payment.id,
        "refund_id": refund.id,
        "order_id": order.id,
        "staff_id": staff.id,
        "api_key_id": api_key.id,
        "group_id": group.id,
        "tag_id": tag.id,
        "customer_id": customer.id,
        "other_customer_id": spare.id,
        "identity_id": identity_id,
        "merge_id": merge.id,
        "category_id": category.id,
        "product_id": product.id,
        "sku_id": product.skus[0].id,
        "image_id": image.id,
        "event_id": events.items[0].id if hasattr(events, "items") else events[0].id,
        "action": 0,
        "live_session_id": live.id,
        "link_id": link.id,
        "restriction_id": restriction.id,
        "word_id": words[0].id,
        "comment_id": 1,
    }


async def make_tag_rule(session: Any, *, shop_id: int) -> Any:
    from liveloop.customers.tagrules import service as tagrules_service
    from liveloop.customers.tagrules.schemas import TagRuleIn

    tag = await factories.make_tag(session, shop_id=shop_id, name="规则标签")
    condition = {"kind": "tags", "op": "has_any", "tag_ids": [tag.id]}
    return await tagrules_service.create_rule(
        session=session,
        actor=system_actor(shop_id),
        data=TagRuleIn(name="规则", tag_id=tag.id, condition=condition),
    )


async def make_community_records(
    session: Any, shop_id: int, staff_id: int, customer_id: int
) -> dict[str, Any]:
    from liveloop.customers.channel_codes import service as codes_service
    from liveloop.customers.channel_codes.schemas import ChannelCodeIn
    from liveloop.customers.communities import service as communities_service
    from liveloop.customers.communities.schemas import CommunityIn, PromotionRuleIn

    low, high = [
        await communities_service.create_community(
            session=session, shop_id=shop_id, data=CommunityIn(name=name, tier_level=tier)
        )
        for name, tier in (("新人群", 0), ("VIP群", 1))
    ]
    stay = await communities_service.join_community(
        session=session, shop_id=shop_id, community_id=low.id, customer_id=customer_id,
        source="manual",
    )  # fmt: skip
    rule = await communities_service.create_promotion_rule(
        session=session,
        shop_id=shop_id,
        data=PromotionRuleIn(name="r", from_community_id=low.id, to_community_id=high.id),
    )
    code = await codes_service.create_code(
        session=session,
        shop_id=shop_id,
        data=ChannelCodeIn.model_validate(
            {"name": "c", "staff": [{"staff_id": staff_id, "contact_url": "https://x.cn"}]}
        ),
    )
    return {
        "community_id": low.id,
        "member_id": stay.id,
        "promotion_rule_id": rule.id,
        "code_id": code.id,
        "kind": "png",
    }


async def make_paid_refund(session: Any, order: Any) -> tuple[Any, Any]:
    """A demo payment of the order, notified and applied, and a refund of one fen."""
    from liveloop.commerce.payments import refunds, service
    from liveloop.commerce.payments.providers.demo import DemoProvider
    from liveloop.core.jobs import queue

    payment = await service.create_payment(
        session=session, shop_id=order.shop_id, order_id=order.id, provider="demo",
        idempotency_key=None, return_url="", client_ip=None,
    )  # fmt: skip
    assert queue.settings is not None
    demo = DemoProvider(secret=queue.settings.resolved_secret_key(), shop_id=order.shop_id,
                        public_url="http://test")  # fmt: skip
    headers, body = demo.build_notification(
        out_trade_no=payment.number, amount_fen=payment.amount_fen
    )
    await service.handle_notification(
        session=session, shop_id=order.shop_id, provider="demo", headers=headers, body=body
    )
    refund = await refunds.create_refund(
        session=session, shop_id=order.shop_id, order_id=order.id, amount_fen=1, reason="x",
        actor=system_actor(order.shop_id),
    )  # fmt: skip
    return payment, refund


async def _outreach_analytics_records(session, shop_id: int) -> dict[str, int]:
    import datetime as dt

    from liveloop.analytics.cohorts.models import ValueCost
    from liveloop.outreach.broadcasts.models import Broadcast
    from liveloop.outreach.messages.models import MessageTemplate

    broadcast = Broadcast(shop_id=shop_id, name="隔壁群发", kind="email")
    cost = ValueCost(shop_id=shop_id, kind="ads", amount_fen=100, spent_on=dt.date(2026, 1, 1))
    template = MessageTemplate(shop_id=shop_id, name="隔壁模板", kind="sms", parts={"text": "x"})
    session.add_all([broadcast, cost, template])
    await session.flush()
    return {"broadcast_id": broadcast.id, "cost_id": cost.id, "message_template_id": template.id}


def fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    if isinstance(value, str) and re.fullmatch(r"\{\w+\}", value):
        return ids[value[1:-1]]
    return value


# Routes whose required query parameters are checked before the record is looked up.
API_QUERIES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/api/v1/analytics/funnels/live/{live_session_id}/dropoffs"): {"step": "paid"},
}


def url_for(path: str, ids: dict[str, int]) -> str:
    values = {**ids, "action": "deactivate"}
    # "{live_session_id:int}" too: a convertor keeps /console/live/words off the id route.
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values[m.group(1)]), path)


async def test_every_route_with_an_id_says_not_found_for_another_shops_record(
    app,
    client: httpx.AsyncClient,
    anon_client: httpx.AsyncClient,
    owner,
    foreign_ids: dict[str, int],
) -> None:
    csrf = await log_in(anon_client, owner.email)
    checked = 0
    for method, path, route in id_routes(app):
        url = url_for(path, foreign_ids)
        if path.startswith("/api/"):
            kwargs: dict[str, Any] = {}
            if (method, path) in MULTIPART_ROUTES:
                kwargs["files"] = {"file": ("a.png", PNG, "image/png")}
            elif route.body_field is not None:
                assert (method, path) in API_BODIES, f"add a sample body for {method} {path}"
                kwargs["json"] = fill(API_BODIES[(method, path)], foreign_ids)
            kwargs["params"] = API_QUERIES.get((method, path), {})
            response = await client.request(method, url, **kwargs)
            assert response.status_code == 404, (
                f"{method} {path}: {response.status_code} {response.text[:200]}"
            )
            assert response.json()["code"].endswith("not_found"), (
                f"{method} {path}: {response.text[:200]}"
            )
        else:
            kwargs = {}
            if method == "POST":
                kwargs["data"] = {"csrf_token": csrf, **fill(CONSOLE_FORM, foreign_ids)}
                if (method, path) in MULTIPART_ROUTES:
                    kwargs["files"] = {"file": ("a.png", PNG, "image/png")}
            response = await anon_client.request(method, url, **kwargs)
            assert response.status_code == 404, (
                f"{method} {path}: {response.status_code} {response.text[:300]}"
            )
        checked += 1
    assert checked == len(id_routes(app)) >= 50
