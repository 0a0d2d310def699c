"""The payment routes: a viewer pays, the provider notifies, the console refunds."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from liveloop.commerce.payments import pages
from liveloop.commerce.payments.models import PaymentNotification
from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from tests.commerce.payments.conftest import demo_notification
from tests.web.conftest import log_in


def viewer_headers(settings, shop_id: int, customer_id: int | None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    claims = ViewerClaims(
        shop_id=shop_id,
        live_session_id=None,
        customer_id=customer_id,
        device_id="dev-1",
        name="王*",
    )
    return {"Authorization": f"Bearer {sign_viewer_token(settings, claims)}"}


@pytest.fixture
def viewer(settings, shop, buyer):  # type: ignore[no-untyped-def]
    return viewer_headers(settings, shop.id, buyer.id)


async def pay_over_http(anon_client, order, viewer, key: str = "pay-1") -> httpx.Response:  # type: ignore[no-untyped-def]
    return await anon_client.post(
        f"/api/v1/public/orders/{order.id}/payments",
        json={"provider": "demo", "return_url": "/live/abc"},
        headers={**viewer, "Idempotency-Key": key},
    )


async def test_a_viewer_pays_and_the_notification_marks_the_order_paid(
    anon_client, client, order, viewer, settings, shop
) -> None:
    created = await pay_over_http(anon_client, order, viewer)
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["prepay"]["pay_url"].startswith(f"{settings.public_base_url}/pay/demo/")
    again = await pay_over_http(anon_client, order, viewer)
    assert again.json()["id"] == payment["id"]

    class Row:  # what the demo bank knows of the payment
        shop_id = shop.id
        number = payment["number"]
        amount_fen = payment["amount_fen"]

    headers, body = demo_notification(settings, Row)  # type: ignore[arg-type]
    notified = await anon_client.post(
        f"/api/v1/payments/demo/notify/{shop.id}", content=body, headers=headers
    )
    assert notified.status_code == 200, notified.text
    assert notified.json()["code"] == "SUCCESS"
    replay = await anon_client.post(
        f"/api/v1/payments/demo/notify/{shop.id}", content=body, headers=headers
    )
    assert replay.status_code == 200

    forged = await anon_client.post(
        f"/api/v1/payments/demo/notify/{shop.id}",
        content=body.replace(b"SUCCESS", b"SUCCESS "),
        headers=headers,
    )
    assert forged.status_code == 401
    assert forged.json()["code"] == "signature_invalid"

    listed = await client.get(f"/api/v1/orders/{order.id}/payments")
    assert [p["status"] for p in listed.json()] == ["succeeded"]
    notes = await client.get(f"/api/v1/payments/{payment['id']}/notifications")
    assert sorted(n["status"] for n in notes.json()) == ["applied", "duplicate"]
    mine = await anon_client.get(f"/api/v1/public/payments/{payment['id']}", headers=viewer)
    assert mine.json()["status"] == "succeeded"


async def test_a_forged_notification_is_stored_even_though_refused(
    anon_client, session, shop
) -> None:
    response = await anon_client.post(
        f"/api/v1/payments/demo/notify/{shop.id}",
        content=b'{"resource":{}}',
        headers={"Wechatpay-Signature": "x", "Wechatpay-Timestamp": "1", "Wechatpay-Nonce": "n"},
    )
    assert response.status_code == 401
    stored = (
        await session.execute(
            select(PaymentNotification).where(PaymentNotification.shop_id == shop.id)
        )
    ).scalar_one()
    assert (stored.status, bytes(stored.body)) == ("rejected", b'{"resource":{}}')


async def test_unknown_provider_or_shop_is_not_found(anon_client, shop) -> None:
    assert (await anon_client.post(f"/api/v1/payments/alipay/notify/{shop.id}")).status_code == 404
    assert (await anon_client.post("/api/v1/payments/demo/notify/999999")).status_code == 404


async def test_paying_needs_a_customer_token_of_the_orders_owner(
    anon_client, order, settings, shop, session
) -> None:
    guest = viewer_headers(settings, shop.id, None)
    response = await pay_over_http(anon_client, order, guest)
    assert (response.status_code, response.json()["code"]) == (401, "customer_required")
    from tests import factories

    stranger = await factories.make_customer(session, shop_id=shop.id, name="路人")
    response = await pay_over_http(
        anon_client, order, viewer_headers(settings, shop.id, stranger.id)
    )
    assert response.status_code == 404
    response = await anon_client.post(
        f"/api/v1/public/orders/{order.id}/payments", json={"provider": "alipay"}
    )
    assert response.status_code in (401, 422)


async def test_console_refunds_over_the_api(
    anon_client, client, order, viewer, settings, shop
) -> None:
    payment = (await pay_over_http(anon_client, order, viewer)).json()

    class Row:
        shop_id = shop.id
        number = payment["number"]
        amount_fen = payment["amount_fen"]

    headers, body = demo_notification(settings, Row)  # type: ignore[arg-type]
    await anon_client.post(f"/api/v1/payments/demo/notify/{shop.id}", content=body, headers=headers)

    too_much = await client.post(
        f"/api/v1/orders/{order.id}/refunds", json={"amount_fen": 10**7, "reason": "x"}
    )
    assert too_much.status_code == 422
    assert too_much.json()["code"] == "refund_exceeds_paid"
    both = await client.post(
        f"/api/v1/orders/{order.id}/refunds",
        json={"amount_fen": 1, "lines": [{"order_line_id": order.lines[0].id, "quantity": 1}]},
    )
    assert both.status_code == 422

    made = await client.post(
        f"/api/v1/orders/{order.id}/refunds",
        json={"lines": [{"order_line_id": order.lines[0].id, "quantity": 1}], "reason": "破损"},
        headers={"Idempotency-Key": "refund-1"},
    )
    assert made.status_code == 201, made.text
    repeat = await client.post(
        f"/api/v1/orders/{order.id}/refunds",
        json={"lines": [{"order_line_id": order.lines[0].id, "quantity": 1}], "reason": "破损"},
        headers={"Idempotency-Key": "refund-1"},
    )
    assert repeat.json()["id"] == made.json()["id"]
    assert made.json()["amount_fen"] == 5990

    asked = await anon_client.post(
        f"/api/v1/public/orders/{order.id}/refunds",
        json={"amount_fen": 100, "reason": "差价"},
        headers=viewer,
    )
    assert asked.status_code == 201 and asked.json()["status"] == "requested"
    rejected = await client.post(
        f"/api/v1/refunds/{asked.json()['id']}/reject", json={"reason": "不支持"}
    )
    assert rejected.json()["status"] == "rejected"
    listed = await client.get(f"/api/v1/orders/{order.id}/refunds")
    assert [r["status"] for r in listed.json()] == ["pending", "rejected"]
    mine = await anon_client.get(f"/api/v1/public/orders/{order.id}/refunds", headers=viewer)
    assert len(mine.json()) == 2


async def test_wechatpay_account_keys_are_never_shown_back(client) -> None:
    from tests.commerce.payments.fake_wechatpay import load_sample

    keys = load_sample("test_keys.json")
    body = {
        name: keys[name]
        for name in (
            "mchid",
            "appid",
            "serial_no",
            "platform_serial",
            "private_key_pem",
            "api_v3_key",
            "platform_public_key_pem",
        )
    }
    saved = await client.put("/api/v1/payment-accounts/wechatpay", json=body)
    assert saved.status_code == 200, saved.text
    shown = (await client.get("/api/v1/payment-accounts/wechatpay")).json()
    assert shown["mchid"] == keys["mchid"] and shown["configured"] is True
    assert keys["api_v3_key"] not in str(shown)
    assert "PRIVATE KEY" not in str(shown)
    broken = await client.put(
        "/api/v1/payment-accounts/wechatpay", json={**body, "api_v3_key": "short"}
    )
    assert broken.status_code == 422
    assert broken.json()["field"] == "api_v3_key"


async def test_the_console_order_page_section_and_refund_form(
    anon_client, client, owner, order, viewer, settings, shop
) -> None:
    payment = (await pay_over_http(anon_client, order, viewer)).json()

    class Row:
        shop_id = shop.id
        number = payment["number"]
        amount_fen = payment["amount_fen"]

    headers, body = demo_notification(settings, Row)  # type: ignore[arg-type]
    await anon_client.post(f"/api/v1/payments/demo/notify/{shop.id}", content=body, headers=headers)

    csrf = await log_in(anon_client, owner.email)
    detail = await anon_client.get(f"/console/orders/{order.id}")
    assert f'hx-get="/console/orders/{order.id}/refunds"' in detail.text  # the section's slot
    section = await anon_client.get(f"/console/orders/{order.id}/refunds")
    assert section.status_code == 200
    assert payment["number"] in section.text
    assert 'data-testid="refund-form"' in section.text
    posted = await anon_client.post(
        f"/console/orders/{order.id}/refunds",
        data={"csrf_token": csrf, "mode": "amount", "amount_yuan": "12.50", "reason": "补偿"},
    )
    assert posted.status_code == 303
    listed = (await client.get(f"/api/v1/orders/{order.id}/refunds")).json()
    assert [(r["amount_fen"], r["reason"]) for r in listed] == [(1250, "补偿")]
    wrong = await anon_client.post(
        f"/console/orders/{order.id}/refunds",
        data={"csrf_token": csrf, "mode": "amount", "amount_yuan": "99999", "reason": ""},
    )
    assert wrong.status_code == 303  # back to the order page with the reason flashed
    assert len((await client.get(f"/api/v1/orders/{order.id}/refunds")).json()) == 1


async def test_the_demo_pay_page_shows_the_order_and_polls(
    anon_client, order, viewer, settings, monkeypatch
) -> None:
    sent: list[tuple[str, int, int]] = []

    def enqueue(session, declared, *, shop_id: int, payment_id: int) -> None:  # type: ignore[no-untyped-def]
        # (the test's transaction never commits, so nothing after commit would run;
        # tests/commerce/payments/test_demo_flow.py runs the job against a real server)
        sent.append((declared.name, shop_id, payment_id))

    monkeypatch.setattr(pages, "enqueue_after_commit", enqueue)
    payment = (await pay_over_http(anon_client, order, viewer)).json()
    path = payment["prepay"]["pay_url"].removeprefix(settings.public_base_url)
    page = await anon_client.get(path, headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert order.number in page.text
    assert "¥378.70" in page.text
    assert "Confirm payment" in page.text
    zh = await anon_client.get(path + "?lang=zh_CN")
    assert "确认支付" in zh.text and "应付金额" in zh.text
    status = await anon_client.get(path + "/status")
    assert status.json() == {
        "payment_status": "pending",
        "order_status": "pending_payment",
        "paid": False,
        "return_url": "/live/abc",
    }
    confirmed = await anon_client.post(path + "/confirm")
    assert confirmed.status_code == 303
    assert confirmed.headers["location"].endswith("?waiting=1")
    assert sent == [(pages.send_demo_notification.name, order.shop_id, payment["id"])]
    cancelled = await anon_client.post(path + "/cancel")
    assert cancelled.headers["location"] == "/live/abc"
    bad = await anon_client.get("/pay/demo/not-a-token")
    assert bad.status_code == 404


async def test_the_payment_settings_page_saves_keys_and_never_shows_them(
    anon_client, client, owner
) -> None:
    from tests.commerce.payments.fake_wechatpay import load_sample

    keys = load_sample("test_keys.json")
    csrf = await log_in(anon_client, owner.email)
    page = await anon_client.get("/console/settings/payments")
    assert page.status_code == 200
    assert "/api/v1/payments/wechatpay/notify/" in page.text
    form = {
        "csrf_token": csrf,
        "enabled": "1",
        **{
            name: keys[name]
            for name in (
                "mchid",
                "appid",
                "serial_no",
                "platform_serial",
                "private_key_pem",
                "api_v3_key",
                "platform_public_key_pem",
            )
        },
    }
    saved = await anon_client.post("/console/settings/payments", data=form)
    assert saved.status_code == 303
    page = await anon_client.get("/console/settings/payments")
    assert keys["mchid"] in page.text
    assert keys["api_v3_key"] not in page.text
    assert "BEGIN PRIVATE KEY-----\nMII" not in page.text
    shown = (await client.get("/api/v1/payment-accounts/wechatpay")).json()
    assert shown["enabled"] is True and shown["serial_no"] == keys["serial_no"]

    assert 'data-testid="demo-state">已停用' in page.text  # WeChat Pay on: demo off
    turned = await anon_client.post(
        "/console/settings/payments/demo", data={"csrf_token": csrf, "allowed": "1"}
    )
    assert turned.status_code == 303
    page = await anon_client.get("/console/settings/payments")
    assert 'data-testid="demo-state">已启用' in page.text

    broken = await anon_client.post(
        "/console/settings/payments", data={**form, "private_key_pem": "not a key"}
    )
    assert broken.status_code == 303
    followed = await anon_client.get("/console/settings/payments")
    assert "PEM RSA private key" in followed.text
