"""Console pages of segments rendered through the app (the builder itself runs in Chromium)."""

from __future__ import annotations

import html

from liveloop.customers.segments import service
from liveloop.customers.segments.schemas import SegmentIn
from tests import factories
from tests.web.conftest import console, post_form  # noqa: F401  (fixture)


async def test_list_builder_detail_and_actions(console, session, shop, actor) -> None:  # noqa: F811
    empty = await console.get("/console/segments")
    assert empty.status_code == 200
    assert 'id="new-segment"' in empty.text

    await factories.make_customer(session, shop_id=shop.id, name="张小明", city="上海")
    await factories.make_customer(session, shop_id=shop.id, name="王芳", city="北京")
    segment = await service.create_segment(
        session=session,
        actor=actor,
        data=SegmentIn(
            name="上海客户",
            filter={"kind": "profile", "field": "city", "op": "eq", "value": "上海"},
        ),
    )
    listed = await console.get("/console/segments")
    assert "上海客户" in listed.text and f'data-segment="{segment.id}"' in listed.text

    builder = await console.get("/console/segments/new")
    assert builder.status_code == 200 and 'x-data="segmentBuilder"' in builder.text
    edit = await console.get(f"/console/segments/{segment.id}/edit")
    assert edit.status_code == 200 and "segment-initial" in edit.text and "上海客户" in edit.text

    detail = await console.get(f"/console/segments/{segment.id}")
    assert detail.status_code == 200
    assert "张小明" in detail.text and "王芳" not in detail.text
    assert '"value": "上海"' in html.unescape(detail.text)  # the filter, readable

    await factories.make_customer(session, shop_id=shop.id, name="李雷", city="上海")
    counted = await post_form(console, f"/console/segments/{segment.id}/count")
    assert counted.status_code == 303
    frozen = await post_form(console, f"/console/segments/{segment.id}/freeze")
    assert frozen.status_code == 303
    page = await console.get(f"/console/segments/{segment.id}")
    assert "李雷" in page.text
    deleted = await post_form(console, f"/console/segments/{segment.id}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/console/segments"
    assert (await console.get(f"/console/segments/{segment.id}")).status_code == 404


async def test_english_pages(console, session, shop, actor) -> None:  # noqa: F811
    await post_form(console, "/console/language", {"language": "en", "next": "/console/segments"})
    page = await console.get("/console/segments/new")
    assert "Live count" in page.text and "Add condition" in page.text
