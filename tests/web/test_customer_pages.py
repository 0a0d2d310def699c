"""Customer pages: list and filters, detail, reveal, tags, merge, tag admin, import, export."""

from __future__ import annotations

import re

from sqlalchemy import select

from liveloop.customers import service as customers_service
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.web.conftest import log_in, post_form


async def _audit_actions(session, shop_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    statement = select(AuditEntry.action).where(AuditEntry.shop_id == shop_id)
    return list((await session.execute(statement)).scalars())


async def test_list_filters_by_name_phone_tag_and_channel(console, session, shop) -> None:
    vip = await factories.make_tag(session, shop_id=shop.id, name="VIP")
    await factories.make_customer(
        session, shop_id=shop.id, name="王芳", phone="13800138000", tags=[vip]
    )
    await factories.make_customer(session, shop_id=shop.id, name="李娜", email="li@example.com")
    everyone = await console.get("/console/customers")
    assert everyone.status_code == 200
    assert "王芳" in everyone.text and "李娜" in everyone.text
    assert "138****8000" in everyone.text and "13800138000" not in everyone.text

    by_tag = await console.get("/console/customers", params={"tag": vip.id})
    assert "王芳" in by_tag.text and "李娜" not in by_tag.text
    by_name = await console.get("/console/customers", params={"q": "李"})
    assert "李娜" in by_name.text and "王芳" not in by_name.text
    by_phone = await console.get("/console/customers", params={"q": "138 0013 8000"})
    assert "王芳" in by_phone.text and "李娜" not in by_phone.text
    by_channel = await console.get("/console/customers", params={"channel": "email"})
    assert "李娜" in by_channel.text and "王芳" not in by_channel.text
    future = await console.get("/console/customers", params={"joined_from": "2999-01-01"})
    assert "王芳" not in future.text
    today = await console.get("/console/customers", params={"joined_to": "2999-01-01"})
    assert "王芳" in today.text
    bad_date = await console.get("/console/customers", params={"joined_from": "yesterday"})
    assert bad_date.status_code == 422 and "not a date" in bad_date.text


async def test_htmx_filter_returns_only_the_results(console, session, shop) -> None:
    await factories.make_customer(session, shop_id=shop.id, name="赵敏")
    response = await console.get(
        "/console/customers",
        params={"q": "赵"},
        headers={"HX-Request": "true", "HX-Target": "customer-results"},
    )
    assert response.status_code == 200
    assert "赵敏" in response.text
    assert "<html" not in response.text and "customer-filters" not in response.text


async def test_list_paginates(console, session, shop) -> None:
    for number in range(23):
        await factories.make_customer(session, shop_id=shop.id, name=f"顾客{number:02d}")
    first = await console.get("/console/customers")
    assert "顾客22" in first.text and "顾客00" not in first.text
    assert "共 23 条" in first.text
    second = await console.get("/console/customers", params={"page": 2})
    assert "顾客00" in second.text and "顾客22" not in second.text


async def test_detail_shows_profile_identities_tags_and_reveal(console, session, shop) -> None:
    customer = await factories.make_customer(
        session, shop_id=shop.id, name="陈静", phone="13912345678", city="杭州"
    )
    page = await console.get(f"/console/customers/{customer.id}")
    assert page.status_code == 200
    assert "陈静" in page.text and "杭州" in page.text
    assert "139****5678" in page.text and "13912345678" not in page.text
    assert 'id="reveal-button"' in page.text

    revealed = await post_form(
        console, f"/console/customers/{customer.id}/reveal", headers={"HX-Request": "true"}
    )
    assert revealed.status_code == 200
    assert "13912345678" in revealed.text and "<html" not in revealed.text
    assert "customer.pii_reveal" in await _audit_actions(session, shop.id)
    assert "13912345678" not in (await console.get(f"/console/customers/{customer.id}")).text


async def test_reveal_is_forbidden_without_the_permission(anon_client, session, shop) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id, phone="13700000001")
    analyst = await factories.make_staff(session, shop_id=shop.id, role="analyst")
    token = await log_in(anon_client, analyst.email)
    page = await anon_client.get(f"/console/customers/{customer.id}")
    assert page.status_code == 200 and 'id="reveal-button"' not in page.text
    response = await anon_client.post(
        f"/console/customers/{customer.id}/reveal", data={"csrf_token": token}
    )
    assert response.status_code == 403
    assert "13700000001" not in response.text
    assert "customer.pii_reveal" not in await _audit_actions(session, shop.id)


async def test_tag_and_untag_from_the_detail_page(console, session, shop) -> None:
    tag = await factories.make_tag(session, shop_id=shop.id, name="复购")
    customer = await factories.make_customer(session, shop_id=shop.id, name="周杰")
    response = await post_form(
        console, f"/console/customers/{customer.id}/tags", {"tag_id": tag.id}
    )
    assert response.status_code == 303
    loaded = await customers_service.get_customer(
        session=session, shop_id=shop.id, customer_id=customer.id
    )
    assert [link.tag_id for link in loaded.tag_links] == [tag.id]
    page = await console.get(f"/console/customers/{customer.id}")
    assert f'data-tag="{tag.id}"' in page.text
    await post_form(console, f"/console/customers/{customer.id}/tags/{tag.id}/remove")
    loaded = await customers_service.get_customer(
        session=session, shop_id=shop.id, customer_id=customer.id
    )
    assert loaded.tag_links == []


async def test_profile_edit_and_identity_add(console, session, shop) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id, name="旧名")
    response = await post_form(
        console,
        f"/console/customers/{customer.id}",
        {
            "display_name": "新名",
            "gender": "female",
            "city": "苏州",
            "province": "",
            "notes": "爱喝绿茶",
        },
    )
    assert response.status_code == 303
    added = await post_form(
        console,
        f"/console/customers/{customer.id}/identities",
        {"channel": "phone", "value": "13600000000"},
    )
    assert added.status_code == 303
    bad = await post_form(
        console, f"/console/customers/{customer.id}/identities", {"channel": "phone", "value": "12"}
    )
    assert bad.status_code == 303
    page = await console.get(f"/console/customers/{customer.id}")
    assert "新名" in page.text and "苏州" in page.text and "136****0000" in page.text
    assert "flash-error" in page.text


async def test_merge_and_undo_from_the_console(console, session, shop) -> None:
    keep = await factories.make_customer(
        session, shop_id=shop.id, name="主账号", phone="13500000001"
    )
    dup = await factories.make_customer(
        session, shop_id=shop.id, name="重复", email="dup@example.com"
    )
    response = await post_form(
        console, f"/console/customers/{keep.id}/merge", {"source_id": str(dup.id)}
    )
    assert response.status_code == 303
    page = await console.get(f"/console/customers/{keep.id}")
    assert "d**@example.com" in page.text or "example.com" in page.text
    merged = await console.get(f"/console/customers/{dup.id}")
    assert merged.status_code == 200 and f"/console/customers/{keep.id}" in merged.text
    undo = re.search(r"/console/customer-merges/(\d+)/undo", page.text)
    assert undo
    response = await post_form(console, undo.group(0))
    assert response.status_code == 303
    restored = await customers_service.get_customer(
        session=session, shop_id=shop.id, customer_id=dup.id
    )
    assert restored.status == "active"
    self_merge = await post_form(
        console, f"/console/customers/{keep.id}/merge", {"source_id": str(keep.id)}
    )
    assert self_merge.status_code == 303
    assert (
        "cannot be merged into itself" in (await console.get(f"/console/customers/{keep.id}")).text
    )


async def test_create_customer_form(console, session, shop) -> None:
    tag = await factories.make_tag(session, shop_id=shop.id, name="新客")
    assert (await console.get("/console/customers/new")).status_code == 200
    response = await post_form(
        console,
        "/console/customers",
        {"display_name": "孙丽", "phone": "13300000003", "tag": str(tag.id)},
    )
    assert response.status_code == 303
    page = await console.get(response.headers["location"])
    assert "孙丽" in page.text and "新客" in page.text
    taken = await post_form(
        console, "/console/customers", {"display_name": "又一个", "phone": "13300000003"}
    )
    assert taken.status_code == 422 and "already belongs" in taken.text


async def test_another_shops_customer_is_a_404_page(console, session, other_shop) -> None:
    stranger = await factories.make_customer(session, shop_id=other_shop.id, name="别家客户")
    response = await console.get(f"/console/customers/{stranger.id}")
    assert response.status_code == 404
    assert "页面不存在" in response.text and "别家客户" not in response.text
    response = await post_form(console, f"/console/customers/{stranger.id}/reveal")
    assert response.status_code == 404


async def test_tag_admin_pages(console, session, shop) -> None:
    response = await post_form(
        console, "/console/tags/groups", {"name": "生命周期", "color": "#0ea5e9"}
    )
    assert response.status_code == 303
    page = await console.get("/console/tags")
    group_id = int(re.search(r'data-group="(\d+)"', page.text).group(1))
    await post_form(
        console, "/console/tags", {"name": "新客", "group_id": str(group_id), "color": "#6366f1"}
    )
    await post_form(console, "/console/tags", {"name": "沉睡", "group_id": "", "color": "#6366f1"})
    duplicate = await post_form(console, "/console/tags", {"name": "新客"})
    assert duplicate.status_code == 303
    page = await console.get("/console/tags")
    assert "生命周期" in page.text and "新客" in page.text and "沉睡" in page.text
    assert "already exists" in page.text
    tag_id = int(re.search(r'data-tag="(\d+)"', page.text).group(1))
    await post_form(
        console, f"/console/tags/{tag_id}", {"name": "新客户", "group_id": str(group_id)}
    )
    await post_form(
        console, f"/console/tags/groups/{group_id}", {"name": "阶段", "color": "#000000"}
    )
    page = await console.get("/console/tags")
    assert "新客户" in page.text and "阶段" in page.text
    await post_form(console, f"/console/tags/{tag_id}/delete")
    await post_form(console, f"/console/tags/groups/{group_id}/delete")
    page = await console.get("/console/tags")
    assert "新客户" not in page.text and "阶段" not in page.text and "沉睡" in page.text


async def test_tag_admin_needs_tags_manage(anon_client, session, shop) -> None:
    analyst = await factories.make_staff(session, shop_id=shop.id, role="analyst")
    token = await log_in(anon_client, analyst.email)
    assert (await anon_client.get("/console/tags")).status_code == 200
    response = await anon_client.post("/console/tags", data={"name": "x", "csrf_token": token})
    assert response.status_code == 403


async def test_import_page_reports_counts_and_row_errors(console, session, shop) -> None:
    assert (await console.get("/console/customers/import")).status_code == 200
    csv_text = "姓名,手机号,标签\n吴磊,13100000001,VIP;新客\n郑爽,not-a-phone,\n"
    response = await console.post(
        "/console/customers/import",
        data={"csrf_token": console.csrf, "encoding": "auto"},
        files={"file": ("customers.csv", csv_text.encode("utf-8"), "text/csv")},
    )
    assert response.status_code == 200
    report = response.text[response.text.index('id="import-report"') :]
    figures = re.findall(r'<div class="figure-value">(\d+)</div>', report)
    assert figures[:5] == ["2", "1", "0", "0", "1"]
    assert '<td class="num">3</td>' in report
    listed = await console.get("/console/customers", params={"q": "吴磊"})
    assert "吴磊" in listed.text
    empty = await console.post(
        "/console/customers/import",
        data={"csrf_token": console.csrf},
        files={"file": ("empty.csv", b"", "text/csv")},
    )
    assert empty.status_code == 422


async def test_export_is_masked_and_audited(console, session, shop) -> None:
    await factories.make_customer(session, shop_id=shop.id, name="冯雪", phone="13200000002")
    await factories.make_customer(session, shop_id=shop.id, name="不导出")
    page = await console.get("/console/customers", params={"q": "冯"})
    link = re.search(r'id="export-link" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    response = await console.get(link)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "冯雪" in response.text and "不导出" not in response.text
    assert "132****0002" in response.text and "13200000002" not in response.text
    assert "customer.export" in await _audit_actions(session, shop.id)


async def test_anchor_cannot_export_or_import(anon_client, session, shop) -> None:
    anchor = await factories.make_staff(session, shop_id=shop.id, role="anchor")
    await log_in(anon_client, anchor.email)
    assert (await anon_client.get("/console/customers")).status_code == 200
    assert (await anon_client.get("/console/customers/export.csv")).status_code == 403
    assert (await anon_client.get("/console/customers/import")).status_code == 403


async def _tag_ids_of(session, shop_id: int, customer_id: int) -> list[int]:
    loaded = await customers_service.get_customer(
        session=session, shop_id=shop_id, customer_id=customer_id
    )
    return [link.tag_id for link in loaded.tag_links]


async def test_bulk_tag_all_matching_then_untag_ticked(console, session, shop) -> None:
    vip = await factories.make_tag(session, shop_id=shop.id, name="VIP")
    zhang = await factories.make_customer(session, shop_id=shop.id, name="张三")
    zhang_two = await factories.make_customer(session, shop_id=shop.id, name="张四")
    li = await factories.make_customer(session, shop_id=shop.id, name="李四")
    listing = await console.get("/console/customers", params={"q": "张"})
    assert 'id="bulk-tag"' in listing.text
    assert 'name="q" value="张"' in listing.text  # the bulk form carries the list's filter
    response = await post_form(
        console, "/console/customers/bulk-tag", {"tag_id": vip.id, "q": "张", "action": "tag"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/customers?q=%E5%BC%A0"
    assert await _tag_ids_of(session, shop.id, zhang.id) == [vip.id]
    assert await _tag_ids_of(session, shop.id, zhang_two.id) == [vip.id]
    assert await _tag_ids_of(session, shop.id, li.id) == []
    page = await console.get(response.headers["location"])
    assert "已为 2 位客户中的 2 位打上标签" in page.text
    response = await post_form(
        console,
        "/console/customers/bulk-tag",
        {"tag_id": vip.id, "q": "张", "action": "untag", "customer_ids": [zhang.id]},
    )
    assert response.status_code == 303
    assert await _tag_ids_of(session, shop.id, zhang.id) == []
    assert await _tag_ids_of(session, shop.id, zhang_two.id) == [vip.id]
    assert (
        "已从 1 位客户中的 1 位移除该标签" in (await console.get(response.headers["location"])).text
    )


async def test_bulk_tag_refuses_another_shops_tag_and_customers(
    console, session, shop, other_shop
) -> None:
    theirs = await factories.make_tag(session, shop_id=other_shop.id, name="别家")
    stranger = await factories.make_customer(session, shop_id=other_shop.id, name="外人")
    mine = await factories.make_tag(session, shop_id=shop.id, name="自家")
    await post_form(console, "/console/customers/bulk-tag", {"tag_id": theirs.id})
    page = await console.get("/console/customers")
    assert "flash-error" in page.text
    await post_form(
        console, "/console/customers/bulk-tag", {"tag_id": mine.id, "customer_ids": [stranger.id]}
    )
    assert await _tag_ids_of(session, other_shop.id, stranger.id) == []


async def test_list_with_the_any_tag_option_is_not_an_error(console, session, shop) -> None:
    await factories.make_customer(session, shop_id=shop.id, name="任意")
    response = await console.get("/console/customers?q=&tag=&channel=&joined_from=&joined_to=")
    assert response.status_code == 200
    assert "任意" in response.text
    response = await console.get("/console/customers?tag=abc")
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]


async def test_console_validation_errors_render_a_page_not_json(console) -> None:
    response = await console.get("/console/customers?page=abc")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "page" in response.text


async def test_merge_and_tag_forms_refuse_ids_that_are_not_plain_numbers(
    console, session, shop
) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id, name="目标")
    for bad in ("²", "99999999999999999999999"):
        response = await post_form(
            console, f"/console/customers/{customer.id}/merge", {"source_id": bad}
        )
        assert response.status_code == 303
        page = await console.get(response.headers["location"])
        assert "flash-error" in page.text
    response = await post_form(console, "/console/tags", {"name": "上标组", "group_id": "²"})
    assert response.status_code == 303
    from liveloop.customers import tags as tags_service

    tags = await tags_service.list_tags(session=session, shop_id=shop.id)
    assert [(t.name, t.group_id) for t in tags] == [("上标组", None)]
