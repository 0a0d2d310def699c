"""Console pages of communities and channel codes (real app, forms, both languages), and the
customer page's communities."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from liveloop.customers.channel_codes.models import ChannelCode, ChannelCodeStaff
from liveloop.customers.communities import service
from liveloop.customers.communities.models import Community, CommunityPromotionRule
from tests import factories
from tests.web.conftest import console, post_form  # noqa: F401  (the fixture)


async def test_create_a_community_add_and_remove_a_member(console, session, shop, owner) -> None:  # noqa: F811
    customer = await factories.make_customer(session, shop_id=shop.id, name="王芳")
    page = await console.get("/console/communities")
    assert page.status_code == 200 and "community-form" in page.text
    refused = await post_form(
        console, "/console/communities", {"name": "", "capacity": "lots", "kind": "vip"}
    )
    assert refused.status_code == 422
    created = await post_form(
        console,
        "/console/communities",
        {
            "name": "VIP会员群",
            "kind": "vip",
            "channel": "wecom_group",
            "owner_staff_id": str(owner.id),
            "capacity": "200",
            "tier_level": "1",
            "join_url": "https://work.weixin.qq.com/gm/vip",
        },
    )
    assert created.status_code == 303, created.text
    community = (
        await session.execute(select(Community).where(Community.shop_id == shop.id))
    ).scalar_one()
    assert (community.capacity, community.tier_level, community.owner_staff_id) == (
        200, 1, owner.id,
    )  # fmt: skip
    added = await post_form(
        console, f"/console/communities/{community.id}/members", {"customer_id": str(customer.id)}
    )
    assert added.status_code == 303
    detail = await console.get(f"/console/communities/{community.id}")
    assert detail.status_code == 200
    assert f'data-customer="{customer.id}"' in detail.text and "王芳" in detail.text
    assert f"/api/v1/communities/{community.id}/qr.svg" in detail.text
    missing = await post_form(
        console, f"/console/communities/{community.id}/members", {"customer_id": "99999999"}
    )
    assert missing.status_code == 422 and "member-error" in missing.text
    on_customer = await console.get(f"/console/customers/{customer.id}")
    assert 'id="customer-communities"' in on_customer.text and "VIP会员群" in on_customer.text
    (stay,) = (
        await service.list_members(session=session, shop_id=shop.id, community_id=community.id)
    ).items
    removed = await post_form(
        console, f"/console/communities/{community.id}/members/{stay.id}/remove"
    )
    assert removed.status_code == 303
    after = await console.get(f"/console/communities/{community.id}?history=true")
    assert "王芳" in after.text
    current = await console.get(f"/console/communities/{community.id}")
    assert f'data-customer="{customer.id}"' not in current.text


async def test_promotion_rules_from_the_console(console, session, shop) -> None:  # noqa: F811
    from liveloop.customers.communities.schemas import CommunityIn

    low = await service.create_community(
        session=session, shop_id=shop.id, data=CommunityIn(name="新人福利群", tier_level=0)
    )
    high = await service.create_community(
        session=session, shop_id=shop.id, data=CommunityIn(name="VIP会员群", tier_level=1)
    )
    saved = await post_form(
        console,
        "/console/communities/rules",
        {
            "name": "新人转VIP",
            "from_community_id": str(low.id),
            "to_community_id": str(high.id),
            "min_paid_orders": "1",
            "window_days": "30",
            "leave_from": "1",
        },
    )
    assert saved.status_code == 303
    rule = (await session.execute(select(CommunityPromotionRule))).scalar_one()
    assert rule.leave_from and rule.window_days == 30
    page = await console.get("/console/communities")
    assert f'data-rule="{rule.id}"' in page.text
    assert "join-callback" in page.text  # the owner sees the callback key
    ran = await post_form(console, f"/console/communities/rules/{rule.id}/run")
    assert ran.status_code == 303


async def test_create_a_channel_code_in_the_console(console, session, shop, owner) -> None:  # noqa: F811
    tag = await factories.make_tag(session, shop_id=shop.id, name="门店新客")
    refused = await post_form(
        console,
        "/console/channel-codes",
        {"name": "门店码", "routing": "capacity", "staff_id_0": str(owner.id),
         "contact_url_0": "https://work.weixin.qq.com/ca/a"},
    )  # fmt: skip
    assert refused.status_code == 422 and "daily_cap" in refused.text
    created = await post_form(
        console,
        "/console/channel-codes",
        {
            "name": "门店码",
            "kind": "store",
            "routing": "time_of_day",
            "staff_id_0": str(owner.id),
            "contact_url_0": "https://work.weixin.qq.com/ca/a",
            "windows_0": "09:00-12:00, 13:00-18:00",
            "daily_cap_0": "50",
            "tag_ids": str(tag.id),
            "welcome_message": "欢迎光临",
            "daily_limit": "300",
        },
    )
    assert created.status_code == 303, created.text
    code = (await session.execute(select(ChannelCode))).scalar_one()
    (link,) = (await session.execute(select(ChannelCodeStaff))).scalars()
    assert (code.routing, code.tag_ids, code.daily_limit) == ("time_of_day", [tag.id], 300)
    assert link.windows == [["09:00", "12:00"], ["13:00", "18:00"]] and link.daily_cap == 50
    detail = await console.get(f"/console/channel-codes/{code.id}")
    assert detail.status_code == 200 and f"/c/{code.code}" in detail.text
    assert 'value="09:00-12:00, 13:00-18:00"' in detail.text
    listed = await console.get("/console/channel-codes")
    assert f'data-code="{code.id}"' in listed.text


@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_the_pages_render_in_both_languages(console, session, shop, language) -> None:  # noqa: F811
    from liveloop.customers.communities.schemas import CommunityIn

    community = await service.create_community(
        session=session, shop_id=shop.id, data=CommunityIn(name="茶友兴趣群", kind="interest")
    )
    await console.post("/console/language", data={"language": language, "csrf_token": console.csrf})
    for url in (
        "/console/communities",
        f"/console/communities/{community.id}",
        "/console/channel-codes",
    ):
        response = await console.get(url)
        assert response.status_code == 200, url
        assert 'class="nav-item active' in response.text, url
    expected = "社群" if language == "zh_CN" else "Communities"
    assert expected in (await console.get("/console/communities")).text


async def test_wecom_callback_settings_from_the_console(console, session, shop) -> None:  # noqa: F811
    from liveloop.customers.channel_codes import service as codes_service
    from liveloop.shops.models import AuditEntry

    page = await console.get("/console/channel-codes")
    assert f"/api/v1/public/wecom/{shop.id}/callback" in page.text
    short = await post_form(
        console,
        "/console/channel-codes/wecom",
        {"corp_id": "ww1", "token": "t", "encoding_aes_key": "short"},
    )
    assert short.status_code == 422
    saved = await post_form(
        console,
        "/console/channel-codes/wecom",
        {
            "corp_id": "ww0123456789abcdef",
            "token": "QDG6eK",
            "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        },
    )
    assert saved.status_code == 303
    crypto = await codes_service.wecom_crypto(session=session, shop_id=shop.id)
    assert crypto.receive_id == "ww0123456789abcdef"
    assert crypto.decrypt(crypto.encrypt("ok")) == "ok"
    stored = await codes_service.get_wecom_settings(session=session, shop_id=shop.id)
    assert b"jWmYm7qr5nMoAUwZ" not in stored.aes_key_secret  # encrypted at rest
    audit = (
        await session.execute(
            select(AuditEntry).where(AuditEntry.action == "wecom.callback_settings_saved")
        )
    ).scalar_one()
    assert audit.shop_id == shop.id
