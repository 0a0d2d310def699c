"""Console pages of tag rules and RFM/lifecycle, through the real app (login, CSRF, forms)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.customers.rfm import service as rfm
from liveloop.customers.tagrules import service
from tests import factories
from tests.web.conftest import post_form

COMMENTED = {"kind": "event", "type": "comment", "count": {"op": "at_least", "value": 1}}


@pytest.fixture
async def people(session: AsyncSession, shop: Any) -> dict[str, Any]:
    tag = await factories.make_tag(session, shop_id=shop.id, name="爱评论")
    chatty = await factories.make_customer(session, shop_id=shop.id, name="chatty")
    quiet = await factories.make_customer(session, shop_id=shop.id, name="quiet")
    await factories.make_events(
        session, shop_id=shop.id, customer_id=chatty.id, types=("comment",), n=1
    )
    return {"tag": tag, "chatty": chatty, "quiet": quiet}


@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_pages_render_in_both_languages(
    console: httpx.AsyncClient, people: dict[str, Any], language: str
) -> None:
    await console.post("/console/language", data={"language": language, "csrf_token": console.csrf})  # type: ignore[attr-defined]
    for path in ("/console/tag-rules", "/console/rfm", f"/console/customers/{people['chatty'].id}"):
        response = await console.get(path)
        assert response.status_code == 200, path
    page = await console.get("/console/rfm")
    assert ("重要价值客户" in page.text) == (language == "zh_CN")
    assert ("Important value" in page.text) == (language == "en")


async def test_create_apply_and_see_why_on_the_customer_page(
    console: httpx.AsyncClient, session: AsyncSession, shop: Any, people: dict[str, Any]
) -> None:
    bad = await post_form(
        console,
        "/console/tag-rules",
        {
            "name": "爱评论",
            "tag_id": str(people["tag"].id),
            "condition": "{not json",
            "enabled": "1",
        },
    )
    assert bad.status_code == 422
    assert "not valid JSON" in bad.text
    wrong = await post_form(
        console,
        "/console/tag-rules",
        {"name": "爱评论", "tag_id": str(people["tag"].id), "condition": '{"kind": "nope"}'},
    )
    assert wrong.status_code == 422
    assert 'id="rule-error"' in wrong.text and "condition" in wrong.text

    preview = await post_form(
        console, "/console/tag-rules/preview", {"condition": json.dumps(COMMENTED)}
    )
    assert 'data-matching="1"' in preview.text

    created = await post_form(
        console,
        "/console/tag-rules",
        {"name": "爱评论", "tag_id": str(people["tag"].id), "condition": json.dumps(COMMENTED),
         "enabled": "1"},
    )  # fmt: skip
    assert created.status_code == 303
    rule_url = created.headers["location"]
    ran = await post_form(console, f"{rule_url}/run")
    assert ran.status_code == 303
    detail = await console.get(rule_url)
    assert 'id="rule-members">1<' in detail.text
    customer = await console.get(f"/console/customers/{people['chatty'].id}")
    assert 'data-source="rule"' in customer.text
    assert 'data-tag-change="added"' in customer.text
    assert "rule 爱评论" in customer.text


async def test_a_rule_for_everyone_needs_the_confirmation(
    console: httpx.AsyncClient, shop: Any, people: dict[str, Any]
) -> None:
    form = {"name": "全部", "tag_id": str(people["tag"].id), "condition": '{"all": []}'}
    asked = await post_form(console, "/console/tag-rules", form)
    assert asked.status_code == 422
    assert 'id="confirm-all"' in asked.text
    confirmed = await post_form(console, "/console/tag-rules", {**form, "confirm_all": "1"})
    assert confirmed.status_code == 303


async def test_recompute_and_settings_from_the_console(
    console: httpx.AsyncClient, session: AsyncSession, shop: Any, people: dict[str, Any]
) -> None:
    done = await post_form(console, "/console/rfm/recompute")
    assert done.status_code == 303
    page = await console.get("/console/rfm")
    assert 'data-segment="no_purchase"><td>未购买</td><td class="num">2<' in page.text
    stage = await rfm.get_customer_lifecycle(
        session=session, shop_id=shop.id, customer_id=people["quiet"].id
    )
    assert stage is not None and stage.stage == "new"

    saved = await post_form(
        console,
        "/console/rfm/settings",
        {"window_days": "180", "scoring": "thresholds", "r_thresholds": "7, 30, 90, 180",
         "f_thresholds": "2,3,4,5", "m_thresholds_yuan": "100, 300, 1000, 3000",
         "new_days": "14", "active_days": "30", "churn_days": "120", "recalled_days": "30",
         "high_value_spend_yuan": "5000"},
    )  # fmt: skip
    assert saved.status_code == 303
    settings = await rfm.get_settings(session=session, shop_id=shop.id)
    assert (settings.window_days, settings.scoring) == (180, "thresholds")
    assert settings.m_thresholds == [10_000, 30_000, 100_000, 300_000]
    assert settings.lifecycle["churn_days"] == 120
    assert settings.lifecycle["high_value_spend_fen"] == 500_000

    refused = await post_form(
        console, "/console/rfm/settings", {"window_days": "90", "churn_days": "10"}
    )
    assert refused.status_code == 303
    settings = await rfm.get_settings(session=session, shop_id=shop.id)
    assert settings.window_days == 180  # the whole form was refused
    assert "churn_days" in (await console.get("/console/rfm")).text
    assert await service.list_rules(session=session, shop_id=shop.id) == []
