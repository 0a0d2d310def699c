"""Settings pages: shop, staff, API keys and the audit log, with their permissions."""

from __future__ import annotations

import re

from sqlalchemy import select

from liveloop.shops import service as shops_service
from liveloop.shops.models import ApiKey, AuditEntry
from tests import factories
from tests.web.conftest import log_in, post_form


async def test_shop_settings_update_and_validation(console, shop, session) -> None:
    page = await console.get("/console/settings/shop")
    assert page.status_code == 200
    assert 'value="Asia/Shanghai"' in page.text
    bad = await post_form(
        console, "/console/settings/shop", {"name": "茶语", "timezone": "Mars/Base"}
    )
    assert bad.status_code == 422
    assert "unknown time zone" in bad.text
    empty = await post_form(console, "/console/settings/shop", {"name": " ", "timezone": "UTC"})
    assert empty.status_code == 422
    ok = await post_form(
        console, "/console/settings/shop", {"name": "茶语二店", "timezone": "Asia/Tokyo"}
    )
    assert ok.status_code == 303
    after = await console.get("/console/settings/shop")
    assert "店铺设置已保存" in after.text and 'value="Asia/Tokyo"' in after.text
    await session.refresh(shop)
    assert (shop.name, shop.timezone) == ("茶语二店", "Asia/Tokyo")


async def test_staff_create_role_change_and_deactivate(console, session, shop) -> None:
    response = await post_form(
        console,
        "/console/settings/staff",
        {
            "name": "小王",
            "email": "Wang@Example.com",
            "password": "long-enough-1",
            "role": "anchor",
        },
    )
    assert response.status_code == 303
    page = await console.get("/console/settings/staff")
    assert "wang@example.com" in page.text and "现在可以登录了" in page.text
    staff = next(
        s
        for s in await shops_service.list_staff(session=session, shop_id=shop.id)
        if s.email == "wang@example.com"
    )
    assert staff.role == "anchor"

    duplicate = await post_form(
        console,
        "/console/settings/staff",
        {
            "name": "小王",
            "email": "wang@example.com",
            "password": "long-enough-1",
            "role": "anchor",
        },
    )
    assert duplicate.status_code == 422
    assert "已有账号使用这个邮箱。" in duplicate.text
    short = await post_form(
        console,
        "/console/settings/staff",
        {"name": "小李", "email": "li@example.com", "password": "short", "role": "anchor"},
    )
    assert short.status_code == 422 and "密码至少需要 8 个字符。" in short.text
    bad_role = await post_form(
        console,
        "/console/settings/staff",
        {"name": "小李", "email": "li@example.com", "password": "long-enough-1", "role": "king"},
    )
    assert bad_role.status_code == 422

    assert (
        await post_form(console, f"/console/settings/staff/{staff.id}/role", {"role": "operator"})
    ).status_code == 303
    await session.refresh(staff)
    assert staff.role == "operator"
    assert (
        await post_form(console, f"/console/settings/staff/{staff.id}/deactivate")
    ).status_code == 303
    await session.refresh(staff)
    assert staff.is_active is False
    assert (
        await post_form(console, f"/console/settings/staff/{staff.id}/activate")
    ).status_code == 303
    await session.refresh(staff)
    assert staff.is_active is True


async def test_owner_cannot_deactivate_self_and_sees_why(console, owner, session) -> None:
    response = await post_form(console, f"/console/settings/staff/{owner.id}/deactivate")
    assert response.status_code == 303
    page = await console.get("/console/settings/staff")
    assert "cannot deactivate your own account" in page.text
    await session.refresh(owner)
    assert owner.is_active


async def test_other_shops_staff_is_not_found(console, session, other_shop) -> None:
    stranger = await factories.make_staff(session, shop_id=other_shop.id, role="operator")
    response = await post_form(console, f"/console/settings/staff/{stranger.id}/deactivate")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    await session.refresh(stranger)
    assert stranger.is_active


async def test_api_key_shown_once_then_revoked(console, session, shop) -> None:
    response = await post_form(
        console,
        "/console/settings/api-keys",
        {"name": "ERP", "permissions": ["customers.read", "catalog.read"]},
    )
    assert response.status_code == 201
    key = re.search(r'<code id="new-key">(ll_[^<]+)</code>', response.text).group(1)
    listed = await console.get("/console/settings/api-keys")
    assert key not in listed.text and "ERP" in listed.text
    actor = await shops_service.authenticate_api_key(session=session, key=key)
    assert actor is not None and actor.permissions == {"customers.read", "catalog.read"}

    api_key = (await session.execute(select(ApiKey).where(ApiKey.shop_id == shop.id))).scalar_one()
    assert (
        await post_form(console, f"/console/settings/api-keys/{api_key.id}/revoke")
    ).status_code == 303
    assert await shops_service.authenticate_api_key(session=session, key=key) is None


async def test_api_key_form_errors(console) -> None:
    nameless = await post_form(
        console, "/console/settings/api-keys", {"permissions": ["customers.read"]}
    )
    assert nameless.status_code == 422
    powerless = await post_form(console, "/console/settings/api-keys", {"name": "x"})
    assert powerless.status_code == 422 and "at least one permission" in powerless.text
    unknown = await post_form(
        console, "/console/settings/api-keys", {"name": "x", "permissions": ["root"]}
    )
    assert unknown.status_code == 422


async def test_audit_log_lists_and_filters(console, session, shop) -> None:
    await post_form(
        console, "/console/settings/shop", {"name": "审计店", "timezone": "Asia/Shanghai"}
    )
    everything = await console.get("/console/settings/audit")
    assert everything.status_code == 200
    assert "shop.update" in everything.text and "<code>login</code>" in everything.text
    only = await console.get("/console/settings/audit", params={"action": "shop.update"})
    assert "shop.update" in only.text and "<code>login</code>" not in only.text
    none = await console.get("/console/settings/audit", params={"action": "nothing.like.this"})
    assert "没有符合条件的记录" in none.text
    total = len(
        (await session.execute(select(AuditEntry.id).where(AuditEntry.shop_id == shop.id))).all()
    )
    assert total >= 2


async def test_settings_are_forbidden_to_an_anchor(anon_client, session, shop) -> None:
    anchor = await factories.make_staff(session, shop_id=shop.id, role="anchor")
    await log_in(anon_client, anchor.email)
    for url in (
        "/console/settings/shop",
        "/console/settings/staff",
        "/console/settings/api-keys",
        "/console/settings/audit",
    ):
        response = await anon_client.get(url)
        assert response.status_code == 403, url
        assert "你没有访问此页面的权限" in response.text
    dashboard = await anon_client.get("/console")
    assert dashboard.status_code == 200
    assert 'data-nav="staff"' not in dashboard.text
    assert 'data-nav="products"' in dashboard.text


async def test_analyst_reads_audit_but_not_staff(anon_client, session, shop) -> None:
    analyst = await factories.make_staff(session, shop_id=shop.id, role="analyst")
    await log_in(anon_client, analyst.email)
    assert (await anon_client.get("/console/settings/audit")).status_code == 200
    assert (await anon_client.get("/console/settings/staff")).status_code == 403
