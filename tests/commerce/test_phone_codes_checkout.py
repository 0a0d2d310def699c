"""Guests prove their phone with a texted code before the shop treats them as its customer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from liveloop.commerce.models import Order
from liveloop.customers.models import Customer
from liveloop.customers.phone_codes import service as phone_codes_service
from liveloop.customers.phone_codes.sms import demo_outbox
from liveloop.live.viewers import read_viewer_token
from tests import factories
from tests.commerce.conftest import ADDRESS, texted_code, viewer_token

VICTIM_PHONE = "13700007777"


@pytest.fixture(autouse=True)
def clean_outbox():  # type: ignore[no-untyped-def]
    demo_outbox.clear()
    yield
    demo_outbox.clear()


@pytest.fixture
async def thief(app, settings, shop) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    token = viewer_token(settings, shop.id, None, device_id="thief-device")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


@pytest.fixture
def real_sms(app, settings):  # type: ignore[no-untyped-def]
    """A provider that does not hand the code to the page (as a real carrier would not)."""
    app.state.settings = settings.model_copy(update={"sms_provider": "log"})
    return app


def order_body(tea, address):  # type: ignore[no-untyped-def]
    return {"lines": [{"sku_id": tea.skus[0].id, "quantity": 1}], "address": address}


async def count(session, model, shop_id: int) -> int:  # type: ignore[no-untyped-def]
    statement = select(func.count()).select_from(model).where(model.shop_id == shop_id)
    return (await session.execute(statement)).scalar_one()


async def test_a_guest_order_without_a_code_is_refused(guest, session, shop, tea) -> None:
    customers_before = await count(session, Customer, shop.id)
    response = await guest.post("/api/v1/public/orders", json=order_body(tea, ADDRESS))
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["field"]) == ("phone_code_required", "address.phone_code")
    assert "Get code" in body["message"]
    assert await count(session, Order, shop.id) == 0
    assert await count(session, Customer, shop.id) == customers_before
    bad_phone = await guest.post(
        "/api/v1/public/orders", json=order_body(tea, {**ADDRESS, "phone": "12345"})
    )
    assert (bad_phone.json()["code"], bad_phone.json()["field"]) == (
        "invalid_phone",
        "address.phone",
    )


async def test_a_guest_order_with_the_code_gets_an_order_and_a_customer_token(
    guest, session, shop, tea
) -> None:
    code = await texted_code(guest, ADDRESS["phone"])
    placed = await guest.post(
        "/api/v1/public/orders",
        json=order_body(tea, {**ADDRESS, "phone_code": code}),
        headers={"Idempotency-Key": "phone-code-1"},
    )
    assert placed.status_code == 201, placed.text
    token = placed.json()["viewer_token"]
    claims = read_viewer_token(guest._transport.app.state.settings, token)  # type: ignore[attr-defined]
    assert claims.customer_id == placed.json()["order"]["customer_id"]
    assert claims.device_id == "guest-device"
    mine = await guest.get("/api/v1/public/orders", headers={"Authorization": f"Bearer {token}"})
    assert [o["id"] for o in mine.json()["items"]] == [placed.json()["order"]["id"]]


async def test_a_customer_token_needs_no_code(viewer, tea) -> None:
    placed = await viewer.post(
        "/api/v1/public/orders", json=order_body(tea, {**ADDRESS, "phone": "13600006666"})
    )
    assert placed.status_code == 201, placed.text
    assert placed.json()["viewer_token"] is None


async def test_someone_elses_phone_does_not_open_their_orders(
    app, real_sms, session, shop, tea, thief
) -> None:
    victim = await factories.make_customer(session, shop_id=shop.id, phone=VICTIM_PHONE)
    victim_token = viewer_token(app.state.settings, shop.id, victim.id, device_id="victim-dev")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {victim_token}"},
    ) as owner:
        mine = await owner.post(
            "/api/v1/public/orders", json=order_body(tea, {**ADDRESS, "phone": VICTIM_PHONE})
        )
        assert mine.status_code == 201, mine.text
        # The victim asks for a code on their own phone...
        sent = await owner.post("/api/v1/public/phone-codes", json={"phone": VICTIM_PHONE})
        assert sent.status_code == 201 and sent.json()["demo_code"] is None

    # The thief types the victim's phone: no code, no customer.
    refused = await thief.post(
        "/api/v1/public/orders", json=order_body(tea, {**ADDRESS, "phone": VICTIM_PHONE})
    )
    assert refused.json()["code"] == "phone_code_required"
    # Asking for a code texts the victim, not the thief (no code in the answer).
    too_soon = await thief.post("/api/v1/public/phone-codes", json={"phone": VICTIM_PHONE})
    assert too_soon.status_code == 429
    assert too_soon.json()["code"] == "phone_code_too_soon"
    assert 0 < too_soon.json()["retry_after_s"] <= 60
    # Guessing: five wrong codes (through the order and the login) and the code is dead.
    codes = []
    for guess in ("000000", "111111", "222222"):
        wrong = await thief.post(
            "/api/v1/public/orders",
            json=order_body(tea, {**ADDRESS, "phone": VICTIM_PHONE, "phone_code": guess}),
        )
        codes.append(wrong.json()["code"])
        assert wrong.json()["field"] == "address.phone_code"
    for guess in ("333333", "444444"):
        wrong = await thief.post(
            "/api/v1/public/phone-login", json={"phone": VICTIM_PHONE, "code": guess}
        )
        codes.append(wrong.json()["code"])
    # The thief's device never got a code: nothing to guess against.
    assert set(codes) == {"phone_code_invalid"}
    assert (await thief.get("/api/v1/public/orders")).json()["code"] == "customer_required"
    assert await count(session, Order, shop.id) == 1


async def test_wrong_codes_stay_counted_though_the_order_fails(guest, session, shop, tea) -> None:
    code = await texted_code(guest, ADDRESS["phone"])
    guesses = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 6)]
    outcomes = []
    for guess in guesses:
        wrong = await guest.post(
            "/api/v1/public/orders", json=order_body(tea, {**ADDRESS, "phone_code": guess})
        )
        assert wrong.status_code == 422
        outcomes.append(wrong.json()["code"])
    assert outcomes == ["phone_code_invalid"] * 4 + ["phone_code_locked"]
    # Each refused request was answered, not rolled back: the right code is now too late.
    late = await guest.post(
        "/api/v1/public/orders", json=order_body(tea, {**ADDRESS, "phone_code": code})
    )
    assert (late.status_code, late.json()["code"]) == (422, "phone_code_locked")
    assert await count(session, Order, shop.id) == 0


async def test_phone_login_opens_my_orders_on_a_new_device(app, session, shop, tea) -> None:
    buyer = await factories.make_customer(session, shop_id=shop.id, phone="13500005555")
    old_device = viewer_token(app.state.settings, shop.id, buyer.id, device_id="old-phone-01")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {old_device}"},
    ) as viewer:
        placed = await viewer.post(
            "/api/v1/public/orders", json=order_body(tea, {**ADDRESS, "phone": "13500005555"})
        )
    order_id = placed.json()["order"]["id"]
    new_device = viewer_token(app.state.settings, shop.id, None, device_id="new-phone-01")
    headers = {"Authorization": f"Bearer {new_device}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as fresh:
        code = await texted_code(fresh, "13500005555")
        wrong = await fresh.post(
            "/api/v1/public/phone-login",
            json={"phone": "13500005555", "code": f"{(int(code) + 1) % 1_000_000:06d}"},
        )
        assert (wrong.status_code, wrong.json()["code"]) == (422, "phone_code_invalid")
        login = await fresh.post(
            "/api/v1/public/phone-login", json={"phone": "13500005555", "code": code}
        )
        assert login.status_code == 200, login.text
        assert login.json()["customer_id"] == buyer.id
        token = login.json()["viewer_token"]
        mine = await fresh.get(
            "/api/v1/public/orders", headers={"Authorization": f"Bearer {token}"}
        )
        assert [o["id"] for o in mine.json()["items"]] == [order_id]
        malformed = await fresh.post(
            "/api/v1/public/phone-login", json={"phone": "13500005555", "code": "12ab"}
        )
        assert malformed.status_code == 422 and malformed.json()["field"] == "code"


async def test_a_retried_order_reuses_the_code_on_the_same_device_only(guest, thief, tea) -> None:
    code = await texted_code(guest, ADDRESS["phone"])
    body = order_body(tea, {**ADDRESS, "phone_code": code})
    first = await guest.post(
        "/api/v1/public/orders", json=body, headers={"Idempotency-Key": "retry-1"}
    )
    again = await guest.post(
        "/api/v1/public/orders", json=body, headers={"Idempotency-Key": "retry-1"}
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["order"]["id"] == again.json()["order"]["id"]
    stolen = await thief.post(
        "/api/v1/public/orders", json=body, headers={"Idempotency-Key": "retry-1"}
    )
    assert (stolen.status_code, stolen.json()["code"]) == (422, "phone_code_invalid")


async def test_a_guest_flash_buy_needs_the_code_too(client, guest, session, shop) -> None:
    from tests.commerce.flash.test_api import sale_body

    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=5)
    sale = (await client.post("/api/v1/flash-sales", json=sale_body(product.skus[0].id))).json()
    url = f"/api/v1/public/flash-sales/{sale['id']}/buy"
    refused = await guest.post(url, json={"address": ADDRESS}, headers={"Idempotency-Key": "f1"})
    assert (refused.status_code, refused.json()["code"]) == (422, "phone_code_required")
    code = await texted_code(guest, ADDRESS["phone"])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    guessed = await guest.post(url, json={"address": {**ADDRESS, "phone_code": wrong}})
    assert (guessed.status_code, guessed.json()["code"]) == (422, "phone_code_invalid")
    bought = await guest.post(
        url, json={"address": {**ADDRESS, "phone_code": code}}, headers={"Idempotency-Key": "f2"}
    )
    assert bought.status_code == 201, bought.text
    assert bought.json()["viewer_token"]
    (row,) = await phone_codes_service.codes_sent(
        session=session, shop_id=shop.id, phone=ADDRESS["phone"]
    )
    assert (row.attempts, row.uses) == (1, 1)  # the wrong try stayed counted


async def test_the_share_pages_and_my_orders_carry_the_phone_code_field(
    client, guest, anon_client, session, shop
) -> None:
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900)
    sku_id = product.skus[0].id
    campaign = await client.post(
        "/api/v1/group-buys",
        json={"title": "二人团", "sku_id": sku_id, "group_price_fen": 6900, "group_size": 2},
    )
    code = await texted_code(guest, ADDRESS["phone"])
    opened = await guest.post(
        f"/api/v1/public/group-buys/{campaign.json()['id']}/groups",
        json={"address": {**ADDRESS, "phone_code": code}},
    )
    assert opened.status_code == 201, opened.text
    group_page = await anon_client.get(opened.json()["share_path"])
    assert 'id="llg-phone-code"' in group_page.text and 'name="phone_code"' in group_page.text
    assist_campaign = await client.post(
        "/api/v1/assists",
        json={"title": "砍一刀", "reward_kind": "price_cut", "sku_id": sku_id,
              "target_price_fen": 1000, "helpers_needed": 2},
    )  # fmt: skip
    owner = opened.json()["viewer_token"]  # the guest is a customer now: no code to start
    started = await anon_client.post(
        f"/api/v1/public/assists/campaigns/{assist_campaign.json()['id']}/start",
        json={"name": "李娜"},
        headers={"Authorization": f"Bearer {owner}"},
    )
    assert started.status_code == 201, started.text
    assist_page = await anon_client.get(started.json()["share_path"])
    assert 'id="llg-phone-code"' in assist_page.text
    orders_page = await anon_client.get(f"/mall/{shop.id}/orders")
    assert 'id="llm-login"' in orders_page.text and 'id="llm-login-code"' in orders_page.text
