"""Channel codes over HTTP: define, QR codes (PNG, SVG), the landing page, statistics."""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ElementTree

from PIL import Image
from sqlalchemy import select

from liveloop.commerce import orders as orders_service
from liveloop.core.database import utcnow
from liveloop.customers.channel_codes import service
from liveloop.customers.channel_codes.schemas import ChannelCodeIn
from liveloop.events.models import Event
from tests import factories


async def create(client, session, shop, **extra):  # type: ignore[no-untyped-def]
    agents = [
        await factories.make_staff(
            session, shop_id=shop.id, role="service_agent", email=f"a{i}-{shop.id}@example.com"
        )
        for i in range(2)
    ]
    body = {
        "name": "小王的活码",
        "kind": "staff",
        "routing": "round_robin",
        "staff": [
            {"staff_id": a.id, "contact_url": f"https://work.weixin.qq.com/ca/cawc{a.id}"}
            for a in agents
        ],
        **extra,
    }
    response = await client.post("/api/v1/channel-codes", json=body)
    assert response.status_code == 201, response.text
    return response.json(), agents


async def test_create_list_update_and_isolation(client, session, shop, other_shop) -> None:
    created, agents = await create(client, session, shop, daily_limit=100)
    assert created["landing_path"] == f"/c/{created['code']}"
    assert [s["staff_id"] for s in created["staff"]] == [a.id for a in agents]
    listed = (await client.get("/api/v1/channel-codes")).json()
    assert [c["id"] for c in listed] == [created["id"]]
    assert listed[0]["stats"] == {"scans": 0, "routed": 0, "arrivals": 0, "conversions": 0}
    patched = await client.patch(
        f"/api/v1/channel-codes/{created['id']}", json={"routing": "capacity"}
    )
    assert patched.status_code == 422  # capacity routing needs a cap on every staff
    assert "daily_cap" in patched.json()["message"]
    patched = await client.patch(
        f"/api/v1/channel-codes/{created['id']}",
        json={
            "routing": "capacity",
            "staff": [
                {"staff_id": agents[0].id, "contact_url": "https://x.example/a", "daily_cap": 5}
            ],
        },
    )
    assert patched.status_code == 200, patched.text
    assert [(s["staff_id"], s["daily_cap"]) for s in patched.json()["staff"]] == [(agents[0].id, 5)]
    stranger = await factories.make_staff(session, shop_id=other_shop.id, email="x@other.example")
    foreign = await client.post(
        "/api/v1/channel-codes",
        json={"name": "x", "staff": [{"staff_id": stranger.id, "contact_url": "https://x.cn"}]},
    )
    assert foreign.status_code == 404
    other_code = await service.create_code(
        session=session,
        shop_id=other_shop.id,
        data=ChannelCodeIn.model_validate(
            {"name": "y", "staff": [{"staff_id": stranger.id, "contact_url": "https://x.cn"}]}
        ),
    )
    assert (await client.get(f"/api/v1/channel-codes/{other_code.id}")).status_code == 404
    assert (await client.get(f"/api/v1/channel-codes/{other_code.id}/qr.png")).status_code == 404


async def test_qr_codes_are_a_valid_png_and_svg(client, session, shop) -> None:
    created, _ = await create(client, session, shop)
    png = await client.get(f"/api/v1/channel-codes/{created['id']}/qr.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    image.load()
    assert image.format == "PNG" and image.size[0] == image.size[1] >= 21 * 8
    svg = await client.get(f"/api/v1/channel-codes/{created['id']}/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(svg.content)
    assert root.tag.endswith("svg")
    assert (await client.get(f"/api/v1/channel-codes/{created['id']}/qr.gif")).status_code == 404
    community = await client.post(
        "/api/v1/communities",
        json={"name": "VIP会员群", "join_url": "https://work.weixin.qq.com/gm/vip"},
    )
    qr = await client.get(f"/api/v1/communities/{community.json()['id']}/qr.png")
    assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG\r\n\x1a\n")
    bare = await client.post("/api/v1/communities", json={"name": "无链接群"})
    assert (await client.get(f"/api/v1/communities/{bare.json()['id']}/qr.svg")).status_code == 404


async def test_the_landing_page_routes_each_scan_and_counts_it(
    anon_client, client, session, shop
) -> None:
    created, agents = await create(client, session, shop)
    pages = [await anon_client.get(f"/c/{created['code']}") for _ in range(3)]
    assert [p.status_code for p in pages] == [200, 200, 200]
    urls = [f"https://work.weixin.qq.com/ca/cawc{a.id}" for a in agents]
    assert urls[0] in pages[0].text and urls[1] in pages[1].text and urls[0] in pages[2].text
    assert 'src="data:image/svg+xml' in pages[0].text
    stats = (await client.get(f"/api/v1/channel-codes/{created['id']}")).json()["stats"]
    assert (stats["scans"], stats["routed"]) == (3, 3)
    scans = (
        (await session.execute(select(Event).where(Event.type == "channel_code_scan")))
        .scalars()
        .all()
    )
    assert len(scans) == 3 and {e.properties["channel_code_id"] for e in scans} == {created["id"]}
    assert (await anon_client.get("/c/nosuchcode")).status_code == 404
    await client.post(f"/api/v1/channel-codes/{created['id']}/archive")
    assert (await anon_client.get(f"/c/{created['code']}")).status_code == 404


async def test_arrivals_and_conversions_per_code_and_day(client, session, shop) -> None:
    created, _ = await create(client, session, shop)
    buyer = await factories.make_customer(
        session, shop_id=shop.id, name="买家", source_channel="douyin"
    )
    browser = await factories.make_customer(session, shop_id=shop.id, name="只看")
    browser.source_channel = None  # e.g. imported without a source
    early = await factories.make_customer(session, shop_id=shop.id, name="先买后来")
    product = await factories.make_product(session, shop_id=shop.id)
    # `early` paid before arriving through the code: not a conversion of the code.
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=early.id, lines=[(product.skus[0].id, 1)]
    )
    await orders_service.mark_order_paid(
        session=session, shop_id=shop.id, order_id=order.id, amount_fen=order.total_fen,
        paid_at=utcnow() - dt.timedelta(hours=1), payment_ref="P-early",
    )  # fmt: skip
    for customer in (buyer, browser, early):
        arrival = await service.record_arrival(
            session=session, shop_id=shop.id, code_id=created["id"], customer_id=customer.id,
            via="wecom",
        )  # fmt: skip
        assert arrival.created
    again = await service.record_arrival(
        session=session, shop_id=shop.id, code_id=created["id"], customer_id=buyer.id, via="wecom"
    )
    assert not again.created
    assert buyer.source_channel == "douyin"  # a customer's first source is kept
    assert browser.source_channel == f"code:{created['code']}"
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(product.skus[0].id, 1)]
    )
    await orders_service.mark_order_paid(
        session=session, shop_id=shop.id, order_id=order.id, amount_fen=order.total_fen,
        paid_at=utcnow() + dt.timedelta(seconds=1), payment_ref="P-buyer",
    )  # fmt: skip
    stats = (await client.get(f"/api/v1/channel-codes/{created['id']}")).json()["stats"]
    assert (stats["arrivals"], stats["conversions"]) == (3, 1)
    days = (await client.get(f"/api/v1/channel-codes/{created['id']}/stats")).json()
    assert len(days) == 1
    assert (days[0]["arrivals"], days[0]["conversions"]) == (3, 1)
