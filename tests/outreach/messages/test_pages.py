"""Console page of a saved message template: edit (read back from the database), the save-time
check shown beside the form with what was typed, a preview as a real customer, shop isolation."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from liveloop.outreach.contracts import ChannelKind
from liveloop.outreach.messages import service
from liveloop.outreach.messages.models import MessageTemplate
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.web.conftest import log_in, post_form


@pytest.fixture
async def console(anon_client, owner) -> Any:  # type: ignore[no-untyped-def]
    anon_client.csrf = await log_in(anon_client, owner.email)  # type: ignore[attr-defined]
    yield anon_client


async def _template(session, shop_id: int, kind: ChannelKind, parts: dict[str, Any], **kw: Any):  # type: ignore[no-untyped-def]
    data = service.TemplateIn(name=kw.pop("name", "开播提醒"), kind=kind, parts=parts, **kw)
    template = await service.create_template(session=session, shop_id=shop_id, data=data)
    await session.commit()
    return template


async def _stored(session, template_id: int) -> MessageTemplate:  # type: ignore[no-untyped-def]
    found = await session.scalar(
        select(MessageTemplate)
        .where(MessageTemplate.id == template_id)
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found


async def test_list_links_to_the_edit_page_which_shows_the_kinds_parts(
    session, shop, console
) -> None:  # type: ignore[no-untyped-def]
    email = await _template(
        session, shop.id, ChannelKind.EMAIL, {"subject": "嗨 {{ customer.name }}", "text": "正文"}
    )
    wecom = await _template(
        session, shop.id, ChannelKind.WECOM_CUSTOMER,
        {"text": "来看直播", "miniprogram": {"appid": "wx123", "pagepath": "pages/live", "title": "卡片"}},
        name="企微",
    )  # fmt: skip
    listing = (await console.get("/console/outreach/templates")).text
    assert f'href="/console/outreach/templates/{email.id}"' in listing
    assert f'href="/console/outreach/templates/{wecom.id}"' in listing

    page = await console.get(f"/console/outreach/templates/{email.id}")
    assert page.status_code == 200
    names = set(re.findall(r'<(?:input|textarea) name="([\w.]+)"', page.text))
    assert {"subject", "text", "html"} <= names and "miniprogram.appid" not in names
    assert html.escape("嗨 {{ customer.name }}", quote=False) in page.text
    assert "{{ customer.tier }}" in page.text and "{{ unsubscribe_url }}" in page.text  # variables

    page = (await console.get(f"/console/outreach/templates/{wecom.id}")).text
    names = set(re.findall(r'<(?:input|textarea) name="([\w.]+)"', page))
    assert {"text", "image_url", "link_url", "link_description", "miniprogram.appid"} <= names
    assert "subject" not in names and "html" not in names
    assert 'value="wx123"' in page and 'value="pages/live"' in page


async def test_edit_saves_and_is_audited(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    template = await _template(
        session, shop.id, ChannelKind.EMAIL, {"subject": "旧标题", "text": "旧正文"}
    )
    saved = await post_form(
        console, f"/console/outreach/templates/{template.id}",
        {
            "name": "新名字", "purpose": "invite", "marketing": "1", "subject": "新标题 {{ live.title }}",
            "text": "你好 {{ customer.name }}", "html": "<p>{{ customer.name }}</p>", "action": "save",
        },
    )  # fmt: skip
    assert saved.status_code == 303, re.findall(r'template-error"[^>]*>([^<]*)', saved.text)
    assert saved.headers["location"] == f"/console/outreach/templates/{template.id}"
    stored = await _stored(session, template.id)
    assert stored.name == "新名字" and stored.purpose == "invite" and stored.marketing is True
    assert stored.parts == {
        "subject": "新标题 {{ live.title }}",
        "text": "你好 {{ customer.name }}",
        "html": "<p>{{ customer.name }}</p>",
    }
    audit = (
        await session.execute(
            select(AuditEntry).where(
                AuditEntry.action == "outreach.template.update",
                AuditEntry.target_id == str(template.id),
            )
        )
    ).scalar_one()
    assert audit.shop_id == shop.id
    assert set(audit.details["changed"]) == {"name", "purpose", "parts"}

    # Unticking marketing and emptying html are saved too (an empty part is removed).
    again = await post_form(
        console, f"/console/outreach/templates/{template.id}",
        {"name": "新名字", "purpose": "general", "subject": "标题", "text": "正文", "html": "",
         "action": "save"},
    )  # fmt: skip
    assert again.status_code == 303
    stored = await _stored(session, template.id)
    assert stored.marketing is False and stored.parts == {"subject": "标题", "text": "正文"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好\n{{ customer.nmae }}", ["text, line 2", "customer.nmae"]),
        ("第一行\n第二行\n{{ customer.name", ["text, line 3"]),
    ],
)
async def test_a_mistake_is_refused_with_its_part_and_line_and_input_kept(
    session, shop, console, text: str, expected: list[str]
) -> None:  # type: ignore[no-untyped-def]
    template = await _template(
        session, shop.id, ChannelKind.SMS, {"text": "原来的 {{ customer.name }}"}
    )
    refused = await post_form(
        console, f"/console/outreach/templates/{template.id}",
        {"name": "改过的名字", "purpose": "general", "text": text, "action": "save"},
    )  # fmt: skip
    assert refused.status_code == 422
    error = re.search(r'id="template-error" data-field="text">([^<]*)<', refused.text)
    assert error, refused.text
    for words in expected:
        assert words in html.unescape(error.group(1))
    assert html.escape(text, quote=False) in refused.text  # what was typed is still there
    assert 'value="改过的名字"' in refused.text
    stored = await _stored(session, template.id)
    assert stored.name == "开播提醒" and stored.parts == {"text": "原来的 {{ customer.name }}"}


async def test_a_part_the_kind_cannot_carry_is_refused(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    template = await _template(session, shop.id, ChannelKind.SMS, {"text": "短信"})
    refused = await post_form(
        console, f"/console/outreach/templates/{template.id}",
        {"name": "短信", "text": "短信", "subject": "不该有", "action": "save"},
    )  # fmt: skip
    assert refused.status_code == 422 and "no part" in html.unescape(refused.text)
    assert (await _stored(session, template.id)).parts == {"text": "短信"}


async def test_a_taken_name_is_refused_and_nothing_changes(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    await _template(session, shop.id, ChannelKind.SMS, {"text": "一"}, name="甲")
    template = await _template(session, shop.id, ChannelKind.SMS, {"text": "二"}, name="乙")
    refused = await post_form(
        console, f"/console/outreach/templates/{template.id}",
        {"name": "甲", "text": "改了", "action": "save"},
    )  # fmt: skip
    assert refused.status_code == 422 and "exists already" in html.unescape(refused.text)
    stored = await _stored(session, template.id)
    assert stored.name == "乙" and stored.parts == {"text": "二"}


async def test_preview_as_a_chosen_customer_without_saving(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    chosen = await factories.make_customer(session, shop_id=shop.id, name="李雷")
    await factories.make_customer(session, shop_id=shop.id, name="韩梅梅")  # the newest
    template = await _template(session, shop.id, ChannelKind.SMS, {"text": "旧的"})

    page = (await console.get(f"/console/outreach/templates/{template.id}")).text
    assert f'<option value="{chosen.id}">李雷</option>' in page  # offered for the preview

    shown = await post_form(
        console, f"/console/outreach/templates/{template.id}",
        {"name": "开播提醒", "text": "你好 {{ customer.name }}，今晚见", "customer_id": str(chosen.id),
         "action": "preview"},
    )  # fmt: skip
    assert shown.status_code == 200
    preview = re.search(
        r'id="template-preview" data-customer="(\d+)">(.*?)</div>', shown.text, re.S
    )
    assert preview and int(preview.group(1)) == chosen.id
    assert "你好 李雷，今晚见" in preview.group(2) and "韩梅梅" not in preview.group(2)
    assert (await _stored(session, template.id)).parts == {"text": "旧的"}  # not saved

    newest = await post_form(
        console, f"/console/outreach/templates/{template.id}",
        {"name": "开播提醒", "text": "你好 {{ customer.name }}", "action": "preview"},
    )  # fmt: skip
    assert "你好 韩梅梅" in newest.text


async def test_another_shops_template_is_not_found(session, shop, other_shop, console) -> None:  # type: ignore[no-untyped-def]
    theirs = await _template(session, other_shop.id, ChannelKind.SMS, {"text": "别人的"})
    assert (await console.get(f"/console/outreach/templates/{theirs.id}")).status_code == 404
    posted = await post_form(
        console, f"/console/outreach/templates/{theirs.id}",
        {"name": "偷改", "text": "x", "action": "save"},
    )  # fmt: skip
    assert posted.status_code == 404
    assert (await _stored(session, theirs.id)).parts == {"text": "别人的"}
    # Previewing their customer from my template is refused too.
    mine = await _template(session, shop.id, ChannelKind.SMS, {"text": "我的"})
    stranger = await factories.make_customer(session, shop_id=other_shop.id, name="外人")
    await session.commit()
    peek = await post_form(
        console, f"/console/outreach/templates/{mine.id}",
        {"name": "开播提醒", "text": "{{ customer.name }}", "customer_id": str(stranger.id),
         "action": "preview"},
    )  # fmt: skip
    assert peek.status_code == 422 and "外人" not in peek.text
