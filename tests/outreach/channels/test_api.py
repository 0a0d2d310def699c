"""Channel routes (/api/v1/outreach/channels): create each kind, refusals naming the field,
secrets accepted but never returned and stored encrypted, update, delete, list by kind, a test
send to a real local receiver, shop isolation and the permission."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from liveloop.outreach.channels import service
from liveloop.outreach.channels.models import ShopChannel
from liveloop.shops.service import actor_for_staff
from tests import factories
from tests.outreach.channels.conftest import json_body, make_channels_records

URL = "/api/v1/outreach/channels"
HOOK_SECRET = "whsec_api_test_5f2c"

GOOD = {
    "email": (
        {"transport": "smtp", "host": "smtp.example.com", "security": "ssl",
         "username": "shop", "from_addr": "shop@example.com", "from_name": "茶语小铺"},
        {"password": "smtp-pass-9a1"},
    ),
    "webhook": ({"url": "https://hooks.example.com/in"}, {"signing_secret": HOOK_SECRET}),
    "wecom_customer": ({"corpid": "ww1234567890", "sender": ""}, {"corpsecret": "corp-sec-7b2"}),
    "wecom_group": ({"corpid": "ww1234567890", "sender": "zhangsan"}, {"corpsecret": "corp-3c"}),
    "sms": (
        {"url": "https://sms.example.com/v1/send", "ok_field": "code", "ok_values": ["OK"]},
        {"api_key": "sms-key-4d8e"},
    ),
}  # fmt: skip


async def _stored(session, channel_id: int) -> ShopChannel:  # type: ignore[no-untyped-def]
    return (
        await session.execute(
            select(ShopChannel)
            .where(ShopChannel.id == channel_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


@pytest.mark.parametrize("kind", sorted(GOOD))
async def test_each_kind_is_created_and_its_secret_never_comes_back(
    client, session, settings, kind
) -> None:  # type: ignore[no-untyped-def]
    config, secret = GOOD[kind]
    created = await client.post(
        URL, json={"kind": kind, "name": f"{kind} 渠道", "config": config, "secret": secret,
                   "rate_per_second": 25}
    )  # fmt: skip
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["has_secret"], body["rate_per_second"]) == (kind, True, 25)
    assert "secret" not in body
    for value in secret.values():
        assert value not in created.text
    # The config comes back cleaned (defaults filled in), the secret only as `has_secret`.
    assert {k: v for k, v in body["config"].items() if k in config} == config
    read = await client.get(f"{URL}/{body['id']}")
    listed = await client.get(URL)
    for response in (read, listed):
        assert response.status_code == 200
        for value in secret.values():
            assert value not in response.text
    # At rest: ciphertext that does not contain the secret, which decrypts back to it.
    stored = await _stored(session, body["id"])
    assert stored.secret is not None
    for value in secret.values():
        assert value.encode() not in stored.secret
    assert service.decrypt_secret(stored, settings=settings) == secret


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"kind": "fax", "name": "x"}, 422, "enum", "kind"),
        ({"kind": "webhook", "name": "", "config": {"url": "https://h.example.com"},
          "secret": {"signing_secret": "s"}}, 422, "string_too_short", "name"),
        ({"kind": "webhook", "name": "x", "config": {"url": "https://h.example.com"},
          "secret": {"signing_secret": "s"}, "rate_per_second": 0}, 422, "greater_than",
         "rate_per_second"),
        ({"kind": "webhook", "name": "x", "config": {"url": "https://h.example.com"}}, 422,
         "channel_secret", "secret.signing_secret"),
        ({"kind": "webhook", "name": "x", "config": {"url": "ftp://h.example.com"},
          "secret": {"signing_secret": "s"}}, 422, "channel_config", "config.url"),
        ({"kind": "webhook", "name": "x", "config": {"url": "https://h.example.com",
          "signing_secret": "s"}}, 422, "channel_config", "config.signing_secret"),
        ({"kind": "webhook", "name": "x", "config": {"url": "https://h.example.com"},
          "secret": {"signing_secret": "s", "token": "t"}}, 422, "channel_secret", "secret.token"),
        ({"kind": "email", "name": "x", "config": {"transport": "smtp", "host": "h"}}, 422,
         "channel_config", "config.from_addr"),
        ({"kind": "email", "name": "x", "config": {"from_addr": "not-an-address", "host": "h"}},
         422, "channel_config", "config.from_addr"),
        ({"kind": "email", "name": "x", "config": {"from_addr": "a@b.cn", "host": "h",
          "port": 70000}}, 422, "channel_config", "config.port"),
        ({"kind": "email", "name": "x", "config": {"from_addr": "a@b.cn", "host": "h",
          "security": "tls9"}}, 422, "channel_config", "config.security"),
        ({"kind": "email", "name": "x", "config": {"from_addr": "a@b.cn", "host": "h",
          "username": "u"}}, 422, "channel_secret", "secret.password"),
        ({"kind": "wecom_customer", "name": "x", "config": {"corpid": "ww1"}}, 422,
         "channel_secret", "secret.corpsecret"),
        ({"kind": "wecom_customer", "name": "x", "config": {}, "secret": {"corpsecret": "c"}},
         422, "channel_config", "config.corpid"),
        ({"kind": "wecom_group", "name": "x", "config": {"corpid": "ww1"},
          "secret": {"corpsecret": "c"}}, 422, "channel_config", "config.sender"),
        ({"kind": "sms", "name": "x", "config": {}}, 422, "channel_config", "config.url"),
        ({"kind": "sms", "name": "x", "config": {"url": "https://s.example.com",
          "ok_values": "OK"}}, 422, "channel_config", "config.ok_values"),
        ({"kind": "sms", "name": "x", "config": {"url": "https://s.example.com", "extra": [1]}},
         422, "channel_config", "config.extra"),
    ],
)  # fmt: skip
async def test_bad_channels_are_refused_with_code_and_field(
    client, session, shop, body, status, code, field
) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(URL, json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["field"] == field, error
    assert code in {error["code"], *(e["code"] for e in error.get("errors", []))}, error
    assert error["message"]
    assert await service.list_channels(session=session, shop_id=shop.id) == []


async def test_update_merges_secrets_and_checks_the_result(client, session, settings) -> None:  # type: ignore[no-untyped-def]
    config, secret = GOOD["email"]
    created = await client.post(
        URL, json={"kind": "email", "name": "邮件", "config": config, "secret": secret}
    )
    channel_id = created.json()["id"]
    renamed = await client.patch(
        f"{URL}/{channel_id}", json={"name": "会员邮件", "enabled": False, "rate_per_second": 3}
    )
    assert renamed.status_code == 200, renamed.text
    out = renamed.json()
    assert (out["name"], out["enabled"], out["rate_per_second"]) == ("会员邮件", False, 3)
    assert out["config"]["host"] == "smtp.example.com" and out["has_secret"] is True
    # A new password replaces the old one; the response still shows none of it.
    rotated = await client.patch(f"{URL}/{channel_id}", json={"secret": {"password": "new-pw-1"}})
    assert rotated.status_code == 200 and "new-pw-1" not in rotated.text
    stored = await _stored(session, channel_id)
    assert service.decrypt_secret(stored, settings=settings) == {"password": "new-pw-1"}
    # Removing the password while a username is set is refused, and changes nothing.
    refused = await client.patch(f"{URL}/{channel_id}", json={"secret": {"password": ""}})
    assert refused.status_code == 422
    assert (refused.json()["code"], refused.json()["field"]) == (
        "channel_secret",
        "secret.password",
    )
    bad_config = await client.patch(
        f"{URL}/{channel_id}", json={"config": {**config, "port": "587"}}
    )
    assert bad_config.status_code == 422 and bad_config.json()["field"] == "config.port"
    unknown = await client.patch(f"{URL}/{channel_id}", json={"colour": "red"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "colour"
    stored = await _stored(session, channel_id)
    assert service.decrypt_secret(stored, settings=settings) == {"password": "new-pw-1"}
    assert stored.config["port"] == 465
    # Dropping the username first makes the password removable: no secret left.
    plain = {k: v for k, v in config.items() if k != "username"}
    dropped = await client.patch(
        f"{URL}/{channel_id}", json={"config": plain, "secret": {"password": ""}}
    )
    assert dropped.status_code == 200, dropped.text
    assert dropped.json()["has_secret"] is False
    assert (await _stored(session, channel_id)).secret is None


async def test_list_by_kind_and_delete(client) -> None:  # type: ignore[no-untyped-def]
    ids = {}
    for kind in ("webhook", "sms", "webhook"):
        config, secret = GOOD[kind]
        response = await client.post(
            URL, json={"kind": kind, "name": kind, "config": config, "secret": secret}
        )
        ids.setdefault(kind, []).append(response.json()["id"])
    hooks = await client.get(URL, params={"kind": "webhook"})
    assert [c["id"] for c in hooks.json()] == ids["webhook"]
    assert [c["id"] for c in (await client.get(URL, params={"kind": "sms"})).json()] == ids["sms"]
    assert (await client.get(URL, params={"kind": "email"})).json() == []
    bad = await client.get(URL, params={"kind": "fax"})
    assert bad.status_code == 422 and bad.json()["field"] == "kind"
    first = ids["webhook"][0]
    assert (await client.delete(f"{URL}/{first}")).status_code == 204
    assert (await client.get(f"{URL}/{first}")).status_code == 404
    assert (await client.delete(f"{URL}/{first}")).status_code == 404
    remaining = [c["id"] for c in (await client.get(URL)).json()]
    assert remaining == sorted([ids["webhook"][1], *ids["sms"]])


async def test_test_send_reaches_the_receiver_signed(client, receiver) -> None:  # type: ignore[no-untyped-def]
    created = await client.post(
        URL,
        json={"kind": "webhook", "name": "回调", "config": {"url": receiver.url},
              "secret": {"signing_secret": HOOK_SECRET}},
    )  # fmt: skip
    channel_id = created.json()["id"]
    sent = await client.post(
        f"{URL}/{channel_id}/test", json={"address": "ops-42", "text": "测试一下"}
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "delivered" and sent.json()["provider_code"] == "200"
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert service.verify_signature(
        secret=HOOK_SECRET, header=headers["x-liveloop-signature"], body=request["body"]
    )
    payload = json_body(request)
    assert (payload["address"], payload["content"]["text"]) == ("ops-42", "测试一下")
    assert payload["content"]["marketing"] is False and payload["metadata"] == {"test": True}
    assert headers["idempotency-key"].startswith(f"test:{channel_id}:")
    # The receiver's refusal is the answer, with its words; a test send is not retried.
    receiver.replies.append((400, {}, "unknown address"))
    refused = await client.post(f"{URL}/{channel_id}/test", json={"address": "nobody"})
    assert refused.status_code == 200
    answer = refused.json()
    assert answer["status"] == "failed" and answer["provider_code"] == "400"
    assert "unknown address" in answer["reason"]
    receiver.replies.append((503, {}, "busy"))
    busy = await client.post(f"{URL}/{channel_id}/test", json={"address": "ops-42"})
    assert busy.json()["status"] == "retry" and len(receiver.requests) == 3


async def test_test_send_checks_the_address(client) -> None:  # type: ignore[no-untyped-def]
    config = {"transport": "mailbox", "from_addr": "shop@example.com"}
    created = await client.post(URL, json={"kind": "email", "name": "信箱", "config": config})
    channel_id = created.json()["id"]
    bad = await client.post(f"{URL}/{channel_id}/test", json={"address": "not-mail"})
    assert bad.status_code == 422
    assert (bad.json()["code"], bad.json()["field"]) == ("invalid_address", "address")
    empty = await client.post(f"{URL}/{channel_id}/test", json={"address": ""})
    assert empty.status_code == 422 and empty.json()["field"] == "address"


async def test_another_shops_channel_is_not_found(client, session, other_shop) -> None:  # type: ignore[no-untyped-def]
    ids = await make_channels_records(session, shop_id=other_shop.id)
    channel_id = ids["outreach_channel_id"]
    for method, path, body in [
        ("GET", f"{URL}/{channel_id}", None),
        ("PATCH", f"{URL}/{channel_id}", {"name": "抢过来"}),
        ("DELETE", f"{URL}/{channel_id}", None),
        ("POST", f"{URL}/{channel_id}/test", {"address": "a@b.cn"}),
    ]:
        response = await client.request(method, path, json=body)
        assert response.status_code == 404, (method, response.text)
        assert response.json()["code"] == "channel_not_found"
    assert (await client.get(URL)).json() == []
    still = await service.get_channel(session=session, shop_id=other_shop.id, channel_id=channel_id)
    assert still.name == "隔壁邮件"


@pytest.mark.parametrize("role", ["anchor", "analyst", "service_agent"])
async def test_a_role_without_outreach_manage_is_refused(app, session, shop, role) -> None:  # type: ignore[no-untyped-def]
    ids = await make_channels_records(session, shop_id=shop.id)
    staff = await factories.make_staff(session, shop_id=shop.id, role=role)
    key = await factories.make_api_key(session, actor=actor_for_staff(staff))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver",
        headers={"Authorization": f"Bearer {key}"},
    ) as http:  # fmt: skip
        config, secret = GOOD["webhook"]
        for method, path, body in [
            ("GET", URL, None),
            ("POST", URL, {"kind": "webhook", "name": "x", "config": config, "secret": secret}),
            ("GET", f"{URL}/{ids['outreach_channel_id']}", None),
            ("PATCH", f"{URL}/{ids['outreach_channel_id']}", {"name": "x"}),
            ("DELETE", f"{URL}/{ids['outreach_channel_id']}", None),
            ("POST", f"{URL}/{ids['outreach_channel_id']}/test", {"address": "a@b.cn"}),
        ]:
            response = await http.request(method, path, json=body)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["code"] == "permission_denied"
    assert [c.id for c in await service.list_channels(session=session, shop_id=shop.id)] == [
        ids["outreach_channel_id"]
    ]


async def test_without_a_key_nothing_is_served(anon_client) -> None:  # type: ignore[no-untyped-def]
    response = await anon_client.get(URL)
    assert response.status_code == 401
