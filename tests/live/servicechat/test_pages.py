"""The service console page: agents open it from the nav, in both languages, through the
session (the page's JSON calls go through the same login and CSRF)."""

from __future__ import annotations

import pytest

from tests import factories
from tests.factories.live import make_live_session
from tests.web.conftest import log_in


@pytest.fixture
async def agent_console(anon_client, session, shop):  # type: ignore[no-untyped-def]
    agent = await factories.make_staff(session, shop_id=shop.id, role="service_agent")
    anon_client.csrf = await log_in(anon_client, agent.email)
    return anon_client


@pytest.mark.parametrize(("language", "lang"), [("zh_CN", "zh-CN"), ("en", "en")])
async def test_agents_open_the_service_page(agent_console, language, lang) -> None:  # type: ignore[no-untyped-def]
    await agent_console.post(
        "/console/language", data={"language": language, "csrf_token": agent_console.csrf}
    )
    page = await agent_console.get("/console/service")
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text and 'id="svc-page"' in page.text
    assert 'href="/console/service"' in page.text  # the nav entry
    assert "servicechat_console.js" in page.text


async def test_the_page_writes_through_the_session_with_csrf(
    app, settings, agent_console, session, shop
) -> None:  # type: ignore[no-untyped-def]
    from liveloop.live.servicechat import service

    room = await make_live_session(session, shop_id=shop.id, status="live")
    fan = await factories.make_customer(session, shop_id=shop.id, name="韩梅梅")
    conversation, _ = await service.open_conversation(
        session=session, shop_id=shop.id, customer_id=fan.id, live_session_id=room.id
    )
    await service.send_customer_message(
        session=session, shop_id=shop.id, conversation_id=conversation.id, customer_id=fan.id,
        text="发货了吗",
    )  # fmt: skip
    url = f"/api/v1/service/conversations/{conversation.id}/messages"
    refused = await agent_console.post(url, json={"text": "已发货"})
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    sent = await agent_console.post(
        url, json={"text": "已发货"}, headers={"X-CSRF-Token": agent_console.csrf}
    )
    assert sent.status_code == 201 and sent.json()["staff_name"]


async def test_anchors_do_not_get_the_page(anon_client, session, shop) -> None:  # type: ignore[no-untyped-def]
    anchor = await factories.make_staff(session, shop_id=shop.id, role="anchor")
    anon_client.csrf = await log_in(anon_client, anchor.email)
    page = await anon_client.get("/console/service")
    assert page.status_code == 403
    assert 'href="/console/service"' not in (await anon_client.get("/console")).text
