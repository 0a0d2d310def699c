"""Saved message templates: save-time checks with the line, the sandbox, preview against a real
customer, use in a broadcast, and live posters whose QR code is the recipient's own link."""

from __future__ import annotations

import io

import pytest
from jinja2.exceptions import SecurityError, UndefinedError
from PIL import Image, ImageChops
from sqlalchemy import select

from liveloop.core.errors import InvalidInput
from liveloop.customers.channel_codes.qr import qr_image
from liveloop.customers.points.models import CustomerPoints, MemberTier
from liveloop.outreach.broadcasts import delivery, results, service
from liveloop.outreach.broadcasts.models import BroadcastRecipient
from liveloop.outreach.contracts import ChannelKind
from liveloop.outreach.messages import poster, render
from tests import factories
from tests.factories.live import make_live_session
from tests.outreach.broadcasts.conftest import RecordingSender, make_customers

EMAIL = {
    "subject": "{{ customer.name }}，{{ live.title }} 邀请",
    "text": "{{ customer.name }}（{{ customer.tier }}，{{ customer.points }} 积分）\n"
    "{{ live.starts_at }} 开播：{{ live.link }}\n"
    "{% for p in products %}{{ p.name }} {{ p.price }}\n{% endfor %}"
    "券码 {{ coupon.code }} 退订 {{ unsubscribe_url }}",
}


# --------------------------------------------------------------------------- save-time checks


def test_syntax_error_names_the_part_and_line() -> None:
    with pytest.raises(InvalidInput) as error:
        render.check_parts(ChannelKind.SMS, {"text": "第一行\n第二行 {{ customer.name"})
    assert error.value.code == "template_syntax"
    assert error.value.field == "parts.text"
    assert "line 2" in error.value.message


def test_unknown_variable_and_attribute_are_named_with_their_line() -> None:
    with pytest.raises(InvalidInput) as error:
        render.check_parts(ChannelKind.SMS, {"text": "你好\n\n{{ custmer.name }}"})
    assert error.value.code == "unknown_variable"
    assert "custmer" in error.value.message and "line 3" in error.value.message
    with pytest.raises(InvalidInput) as error:
        render.check_parts(ChannelKind.SMS, {"text": "{{ customer.nmae }}"})
    assert "customer.nmae" in error.value.message
    with pytest.raises(InvalidInput) as error:  # a loop variable is checked against its list
        render.check_parts(
            ChannelKind.SMS, {"text": "{% for p in products %}{{ p.cost }}{% endfor %}"}
        )
    assert "p.cost" in error.value.message
    render.check_parts(
        ChannelKind.SMS, {"text": "{% for p in products %}{{ loop.index }}{{ p.name }}{% endfor %}"}
    )


def test_parts_must_fit_the_channel() -> None:
    with pytest.raises(InvalidInput) as error:
        render.check_parts(ChannelKind.SMS, {"text": "hi", "html": "<p>hi</p>"})
    assert error.value.code == "unknown_part" and error.value.field == "parts.html"
    with pytest.raises(InvalidInput) as error:
        render.check_parts(ChannelKind.EMAIL, {"text": "hi"})
    assert error.value.field == "parts.subject"


def test_templates_cannot_reach_python_internals() -> None:
    compiled = render.compile_template({"text": "{{ ''.__class__.__mro__ }}"}, marketing=True)
    with pytest.raises((SecurityError, UndefinedError)):
        compiled.render({})
    compiled = render.compile_template({"text": "{{ customer.name.__class__ }}"}, marketing=True)
    with pytest.raises((SecurityError, UndefinedError)):
        compiled.render({"customer": {"name": "x"}})


def test_wecom_cards_render_every_part() -> None:
    parts = {
        "text": "{{ live.title }}",
        "image_url": "{{ live.poster_url }}",
        "link_url": "{{ live.link }}",
        "link_title": "进入 {{ live.title }}",
        "miniprogram": {
            "appid": "wx123",
            "pagepath": "pages/live?src={{ coupon.code }}",
            "title": "t",
        },
    }
    render.check_parts(ChannelKind.WECOM_CUSTOMER, parts)
    message = render.compile_template(parts, marketing=True).render(
        {"live": {"title": "夜场", "poster_url": "P", "link": "L"}, "coupon": {"code": "C1"}}
    )
    assert (message.text, message.image_url, message.link_url) == ("夜场", "P", "L")
    assert message.link_title == "进入 夜场"
    assert message.miniprogram == {"appid": "wx123", "pagepath": "pages/live?src=C1", "title": "t"}


# --------------------------------------------------------------------------- API


async def test_template_crud_and_errors(client, session, shop, other_shop) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "邀请邮件", "kind": "email", "purpose": "invite", "parts": EMAIL}
    made = await client.post("/api/v1/outreach/templates", json=body)
    assert made.status_code == 201, made.text
    template = made.json()
    assert template["parts"] == EMAIL and template["purpose"] == "invite"

    again = await client.post("/api/v1/outreach/templates", json=body)
    assert again.status_code == 409 and again.json()["field"] == "name"

    broken = await client.post(
        "/api/v1/outreach/templates",
        json={**body, "name": "坏的", "parts": {"subject": "s", "text": "a\n{% if %}"}},
    )
    assert broken.status_code == 422
    assert broken.json()["field"] == "parts.text"
    assert "line 2" in broken.json()["message"]

    service_message = await client.post(
        "/api/v1/outreach/templates",
        json={
            "name": "开播提醒",
            "kind": "sms",
            "purpose": "reminder_start",
            "parts": {"text": "x"},
        },
    )
    assert service_message.status_code == 422
    assert service_message.json()["field"] == "marketing"

    changed = await client.put(
        f"/api/v1/outreach/templates/{template['id']}",
        json={**body, "parts": {**EMAIL, "subject": "新标题"}},
    )
    assert changed.status_code == 200 and changed.json()["parts"]["subject"] == "新标题"
    listed = await client.get("/api/v1/outreach/templates", params={"kind": "email"})
    assert [t["id"] for t in listed.json()] == [template["id"]]
    assert (await client.get("/api/v1/outreach/templates", params={"kind": "sms"})).json() == []

    from liveloop.outreach.messages.models import MessageTemplate

    foreign = MessageTemplate(shop_id=other_shop.id, name="别家", kind="sms", parts={"text": "x"})
    session.add(foreign)
    await session.flush()
    assert (await client.get(f"/api/v1/outreach/templates/{foreign.id}")).status_code == 404
    assert (await client.delete(f"/api/v1/outreach/templates/{template['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/outreach/templates/{template['id']}")).status_code == 404


async def test_preview_fills_a_real_customers_values(client, session, shop) -> None:  # type: ignore[no-untyped-def]
    product = await factories.make_product(
        session, shop_id=shop.id, name="明前龙井", price_fen=12900
    )
    live = await make_live_session(
        session, shop_id=shop.id, title="春茶专场", product_ids=[product.id]
    )
    customer = await factories.make_customer(session, shop_id=shop.id, name="王小明")
    tier = MemberTier(shop_id=shop.id, name="金卡", level=2)
    session.add(tier)
    await session.flush()
    session.add(
        CustomerPoints(shop_id=shop.id, customer_id=customer.id, balance=320, tier_id=tier.id)
    )
    await session.flush()

    answer = await client.post(
        "/api/v1/outreach/templates/preview",
        json={
            "kind": "email",
            "parts": EMAIL,
            "customer_id": customer.id,
            "live_session_id": live.id,
        },
    )
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["subject"] == "王小明，春茶专场 邀请"
    assert "王小明（金卡，320 积分）" in preview["text"]
    assert "明前龙井 ¥129.00" in preview["text"]
    assert "券码 PREVIEW" in preview["text"]

    unknown = await client.post(
        "/api/v1/outreach/templates/preview",
        json={"kind": "sms", "parts": {"text": "{{ customer.age }}"}, "customer_id": customer.id},
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_variable"


@pytest.mark.usefixtures("any_hour")
async def test_broadcast_sends_a_saved_template(session, shop, settings) -> None:  # type: ignore[no-untyped-def]
    from liveloop.outreach.messages import service as messages

    customers = await make_customers(session, shop.id, 3)
    live = await make_live_session(session, shop_id=shop.id, title="周五夜场")
    saved = await messages.create_template(
        session=session, shop_id=shop.id,
        data=messages.TemplateIn(
            name="回调邀请", kind=ChannelKind.WEBHOOK,
            parts={"text": "{{ customer.name }} 看 {{ live.title }}", "image_url": "{{ live.poster_url }}"},
        ),
    )  # fmt: skip
    sms = await messages.create_template(
        session=session,
        shop_id=shop.id,
        data=messages.TemplateIn(name="短信", kind=ChannelKind.SMS, parts={"text": "x"}),
    )
    data = service.BroadcastIn(
        name="模板群发", kind=ChannelKind.WEBHOOK, live_session_id=live.id, audience={"all": True},
        variants=[{"key": "A", "weight": 100, "template_id": sms.id}],
    )  # fmt: skip
    with pytest.raises(InvalidInput) as error:
        await service.create_broadcast(session=session, shop_id=shop.id, data=data)
    assert error.value.code == "template_kind_mismatch"

    data.variants = [{"key": "A", "weight": 100, "template_id": saved.id}]
    broadcast = await service.create_broadcast(session=session, shop_id=shop.id, data=data)
    await service.start_broadcast(session=session, shop_id=shop.id, broadcast_id=broadcast.id)
    await session.commit()
    sender = RecordingSender()
    await delivery.deliver_broadcast(
        session=session, shop_id=shop.id, broadcast_id=broadcast.id, sender=sender,
        settings=settings,
    )  # fmt: skip
    texts = sorted(m.content.text for m in sender.messages)
    assert texts == sorted(f"{c.display_name} 看 周五夜场" for c in customers)
    secret = settings.resolved_secret_key()
    tokens = {
        customer_id: results.click_token(secret, recipient_id)
        for customer_id, recipient_id in (
            await session.execute(
                select(BroadcastRecipient.customer_id, BroadcastRecipient.id).where(
                    BroadcastRecipient.broadcast_id == broadcast.id
                )
            )
        ).all()
    }
    for message in sender.messages:
        assert message.content.image_url == (
            f"{settings.public_base_url}/r/{tokens[message.customer_id]}/poster.png"
        )


# --------------------------------------------------------------------------- posters


def _qr_of(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (poster.WIDTH, poster.HEIGHT)
    left, top = (poster.WIDTH - poster.QR_SIZE) // 2, poster.HEIGHT - poster.QR_SIZE - 70
    return image.crop((left, top, left + poster.QR_SIZE, top + poster.QR_SIZE))


def _expected_qr(link: str) -> Image.Image:
    with Image.open(io.BytesIO(qr_image(link, "png", scale=6))) as code:
        return code.convert("RGB").resize(
            (poster.QR_SIZE, poster.QR_SIZE), Image.Resampling.NEAREST
        )


def _same(a: Image.Image, b: Image.Image) -> bool:
    return ImageChops.difference(a, b).getbbox() is None


async def test_posters_carry_the_right_link(client, anon_client, session, shop, settings) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, title="春茶专场")
    room = f"{settings.public_base_url}/live/{live.code}"

    operator = await client.get(f"/api/v1/outreach/posters/live/{live.id}.png")
    assert operator.status_code == 200 and operator.headers["content-type"] == "image/png"
    assert _same(_qr_of(operator.content), _expected_qr(room))
    assert not _same(_qr_of(operator.content), _expected_qr(room + "?src=x"))

    public = await anon_client.get(f"/live/{live.code}/poster.png", params={"src": "rm-start"})
    assert public.status_code == 200
    assert _same(_qr_of(public.content), _expected_qr(room + "?src=rm-start"))
    bad = await anon_client.get(f"/live/{live.code}/poster.png", params={"src": "<x>"})
    assert bad.status_code == 422

    await make_customers(session, shop.id, 1)
    data = service.BroadcastIn(
        name="海报", kind=ChannelKind.WEBHOOK, live_session_id=live.id, audience={"all": True},
        variants=[{"key": "A", "weight": 100, "parts": {"text": "{{ live.link }}"}}],
    )  # fmt: skip
    broadcast = await service.create_broadcast(session=session, shop_id=shop.id, data=data)
    await service.start_broadcast(session=session, shop_id=shop.id, broadcast_id=broadcast.id)
    recipient_id = (
        await session.execute(
            select(BroadcastRecipient.id).where(BroadcastRecipient.broadcast_id == broadcast.id)
        )
    ).scalar_one()
    token = results.click_token(settings.resolved_secret_key(), recipient_id)
    mine = await anon_client.get(f"/r/{token}/poster.png")
    assert mine.status_code == 200
    assert _same(_qr_of(mine.content), _expected_qr(delivery.click_url(settings, token)))
    assert (await anon_client.get("/r/nosuchtoken/poster.png")).status_code == 404


async def test_invite_words_speak_to_each_layer(session, shop, settings) -> None:  # type: ignore[no-untyped-def]
    from liveloop.core.database import utcnow
    from liveloop.outreach.broadcasts.invite import default_parts
    from liveloop.outreach.messages import contexts

    member = await factories.make_customer(session, shop_id=shop.id, name="金卡客")
    newcomer = await factories.make_customer(session, shop_id=shop.id, name="新客")
    buyer = await factories.make_customer(session, shop_id=shop.id, name="老客")
    tier = MemberTier(shop_id=shop.id, name="金卡", level=2)
    session.add(tier)
    await session.flush()
    session.add(CustomerPoints(shop_id=shop.id, customer_id=member.id, balance=88, tier_id=tier.id))
    product = await factories.make_product(session, shop_id=shop.id)
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(product.skus[0].id, 1)]
    )
    order.paid_at = utcnow()
    await session.flush()
    live = await make_live_session(session, shop_id=shop.id, title="夜场")
    found = await contexts.contexts_for(
        session=session, shop_id=shop.id, customer_ids=[member.id, newcomer.id, buyer.id],
        live_session_id=live.id, link_for=lambda cid: f"L{cid}", coupon_code="NEW10",
        base_url=settings.public_base_url,
    )  # fmt: skip
    compiled = render.compile_template(default_parts(ChannelKind.SMS), marketing=True)
    text = {cid: compiled.render(found[cid]).text for cid in found}
    assert "金卡会员专享价，积分 88 可抵现" in text[member.id]
    assert "新人首单立减，券码 NEW10" in text[newcomer.id]
    assert "老朋友回来看看" in text[buyer.id]
    assert all(f"L{cid}" in text[cid] for cid in text)
    html = render.compile_template(
        {"subject": "s", "html": "<p>{{ customer.name }}</p>"}, marketing=True
    ).render({"customer": {"name": "<b>x</b>"}})
    assert html.html == "<p>&lt;b&gt;x&lt;/b&gt;</p>"
