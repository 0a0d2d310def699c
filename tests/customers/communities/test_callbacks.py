"""Inbound callbacks over HTTP: the signed join callback (valid, forged, stale, replayed) and
WeCom's encrypted contact and group events, built here the way WeCom builds them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import time

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import select

from liveloop.customers.channel_codes import service as codes_service
from liveloop.customers.channel_codes.models import ChannelCodeArrival
from liveloop.customers.channel_codes.schemas import ChannelCodeIn, WecomSettingsIn
from liveloop.customers.channel_codes.wecom_callback import (
    WecomCallbackError,
    WecomCrypto,
    parse_event,
)
from liveloop.customers.communities import callbacks
from liveloop.customers.communities import service as communities_service
from liveloop.customers.communities.models import CommunityMember
from liveloop.customers.communities.schemas import CommunityIn
from liveloop.customers.models import Customer, CustomerIdentity, CustomerTag
from liveloop.events.models import Event
from liveloop.shops.models import AuditEntry
from tests import factories

SECRET = "test-secret-key-not-for-production"
CORP_ID = "ww0123456789abcdef"
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # WeCom's documented sample key


@pytest.fixture
async def community(session, shop):  # type: ignore[no-untyped-def]
    return await communities_service.create_community(
        session=session,
        shop_id=shop.id,
        data=CommunityIn(
            name="新人福利群", kind="newcomer", channel="wecom_group", external_id="wrOgQhDgAAcwMTB"
        ),
    )


def signed(shop_id: int, payload: dict, *, key_shop: int | None = None, skew: int = 0):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()) + skew)
    key = callbacks.join_callback_key(SECRET, key_shop or shop_id)
    signature = callbacks.sign_join_callback(key, timestamp, body)
    headers = {
        callbacks.SHOP_HEADER: str(shop_id),
        callbacks.TIMESTAMP_HEADER: timestamp,
        callbacks.SIGNATURE_HEADER: signature,
        "Content-Type": "application/json",
    }
    return body, headers


URL = "/api/v1/public/communities/join-callback"


async def stays(session, community_id: int) -> list[CommunityMember]:  # type: ignore[no-untyped-def]
    return list(
        (
            await session.execute(
                select(CommunityMember).where(CommunityMember.community_id == community_id)
            )
        ).scalars()
    )


async def test_a_signed_join_then_leave(anon_client, session, shop, community) -> None:
    payload = {
        "external_id": community.external_id,
        "identity": {"channel": "wechat_unionid", "value": "oUNION123"},
        "joined_at": "2026-11-20T20:00:00+08:00",
        "state": "live-7",
    }
    body, headers = signed(shop.id, payload)
    response = await anon_client.post(URL, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "joined"
    (stay,) = await stays(session, community.id)
    assert (stay.source, stay.trigger) == ("join_link", "live-7")
    assert stay.joined_at.isoformat() == "2026-11-20T12:00:00+00:00"
    identity = (
        await session.execute(select(CustomerIdentity).where(CustomerIdentity.key == "oUNION123"))
    ).scalar_one()
    assert identity.customer_id == stay.customer_id

    body, headers = signed(
        shop.id, {**payload, "event": "leave", "joined_at": "2026-11-21T20:00:00+08:00"}
    )
    response = await anon_client.post(URL, content=body, headers=headers)
    assert response.json()["status"] == "left"
    (stay,) = await stays(session, community.id)
    assert stay.left_at is not None


async def test_forged_stale_and_other_shops_signatures_are_refused(
    anon_client, session, shop, other_shop, community
) -> None:
    payload = {"community_id": community.id, "identity": {"channel": "wecom", "value": "wmX1"}}
    body, headers = signed(shop.id, payload)
    tampered = body.replace(b"wmX1", b"wmX2")
    stale_body, stale_headers = signed(shop.id, payload, skew=-3600)
    foreign_body, foreign_headers = signed(shop.id, payload, key_shop=other_shop.id)
    attempts = [
        (tampered, headers),
        (body, {**headers, callbacks.SIGNATURE_HEADER: "0" * 64}),
        (stale_body, stale_headers),
        (foreign_body, foreign_headers),
    ]
    for content, sent_headers in attempts:
        response = await anon_client.post(URL, content=content, headers=sent_headers)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "bad_signature"
    assert await stays(session, community.id) == []
    audits = (
        (
            await session.execute(
                select(AuditEntry).where(
                    AuditEntry.shop_id == shop.id,
                    AuditEntry.action == "community.join_callback_refused",
                )
            )
        )
        .scalars()
        .all()
    )
    assert len(audits) == 4


async def test_a_replayed_callback_changes_nothing(anon_client, session, shop, community) -> None:
    payload = {"community_id": community.id, "identity": {"channel": "wecom", "value": "wmR1"}}
    body, headers = signed(shop.id, payload)
    first = await anon_client.post(URL, content=body, headers=headers)
    assert first.json()["status"] == "joined"
    # The member leaves; an attacker replays the recorded join: it must not bring them back.
    customer_id = first.json()["customer_id"]
    await communities_service.leave_community(
        session=session, shop_id=shop.id, community_id=community.id, customer_id=customer_id
    )
    replay = await anon_client.post(URL, content=body, headers=headers)
    assert replay.status_code == 200
    assert replay.json() == {"status": "duplicate"}
    assert [s.left_at is not None for s in await stays(session, community.id)] == [True]


async def test_bad_bodies_and_unknown_communities(anon_client, shop, community) -> None:
    body, headers = signed(shop.id, {"community_id": community.id, "identity": {"channel": "fax"}})
    response = await anon_client.post(URL, content=body, headers=headers)
    assert response.status_code == 422
    body, headers = signed(
        shop.id, {"external_id": "nope", "identity": {"channel": "wecom", "value": "wmQ"}}
    )
    assert (await anon_client.post(URL, content=body, headers=headers)).status_code == 404
    response = await anon_client.post(URL, content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 422


async def test_a_join_through_a_channel_code_is_an_arrival(
    anon_client, session, shop, community
) -> None:
    tag = await factories.make_tag(session, shop_id=shop.id, name="活码新客")
    code = await codes_service.create_code(
        session=session,
        shop_id=shop.id,
        data=ChannelCodeIn(
            name="进群码", kind="channel", community_id=community.id, tag_ids=[tag.id]
        ),
    )
    payload = {
        "community_id": community.id,
        "identity": {"channel": "wecom", "value": "wmNEW1"},
        "state": code.code,
    }
    body, headers = signed(shop.id, payload)
    response = await anon_client.post(URL, content=body, headers=headers)
    assert response.json()["status"] == "joined"
    customer = await session.get(Customer, response.json()["customer_id"])
    assert customer.source_channel == f"code:{code.code}"
    (stay,) = await stays(session, community.id)
    assert (stay.source, stay.trigger) == ("channel_code", code.code)
    arrival = (await session.execute(select(ChannelCodeArrival))).scalar_one()
    assert (arrival.customer_id, arrival.via) == (customer.id, "join_callback")
    tagged = (
        await session.execute(select(CustomerTag).where(CustomerTag.customer_id == customer.id))
    ).scalar_one()
    assert tagged.tag_id == tag.id


# ------------------------------------------------------------------------------ WeCom


def wecom_encrypt(message: str, *, corp_id: str = CORP_ID) -> str:
    """WeCom's encryption, written from its documentation (independent of the app's code)."""
    key = base64.b64decode(AES_KEY + "=")
    body = message.encode()
    plain = os.urandom(16) + struct.pack(">I", len(body)) + body + corp_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def wecom_request(message: str, *, token: str = TOKEN, corp_id: str = CORP_ID):  # type: ignore[no-untyped-def]
    encrypted = wecom_encrypt(message, corp_id=corp_id)
    timestamp, nonce = str(int(time.time())), "1372623149"
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode())
    params = {"msg_signature": signature.hexdigest(), "timestamp": timestamp, "nonce": nonce}
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<AgentID><![CDATA[]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return params, body, encrypted


def contact_event(external_user_id: str, state: str) -> str:
    return (
        "<xml><ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName>"
        "<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1732356000</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>"
        "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
        "<UserID><![CDATA[zhangsan]]></UserID>"
        f"<ExternalUserID><![CDATA[{external_user_id}]]></ExternalUserID>"
        f"<State><![CDATA[{state}]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode>"
        "</xml>"
    )


def chat_event(chat_id: str, detail: str, members: list[str]) -> str:
    items = "".join(f"<Item><![CDATA[{m}]]></Item>" for m in members)
    return (
        "<xml><ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName>"
        "<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1732356000</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_chat]]></Event>"
        f"<ChatId><![CDATA[{chat_id}]]></ChatId><ChangeType><![CDATA[update]]></ChangeType>"
        f"<UpdateDetail><![CDATA[{detail}]]></UpdateDetail><JoinScene>1</JoinScene>"
        f"<QuitScene>0</QuitScene><MemChangeCnt>{len(members)}</MemChangeCnt>"
        f"<MemChangeList>{items}</MemChangeList><LastMemVer>a</LastMemVer><CurMemVer>b</CurMemVer>"
        "</xml>"
    )


def test_the_crypto_reads_what_wecom_writes_and_refuses_tampering() -> None:
    crypto = WecomCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id=CORP_ID)
    message = contact_event("wmABC", "abc")
    params, body, _ = wecom_request(message)
    opened = crypto.open_message(
        params["msg_signature"], params["timestamp"], params["nonce"], body.encode()
    )
    assert opened == message
    event = parse_event(opened)
    assert (event.event, event.change_type, event.external_user_id, event.state) == (
        "change_external_contact", "add_external_contact", "wmABC", "abc",
    )  # fmt: skip
    # And the other way: what the app encrypts, WeCom's algorithm decrypts.
    sealed = crypto.encrypt("你好")
    assert crypto.decrypt(sealed) == "你好"
    with pytest.raises(WecomCallbackError) as forged:
        crypto.open_message("0" * 40, params["timestamp"], params["nonce"], body.encode())
    assert forged.value.forged
    other_corp = wecom_request(message, corp_id="wwSOMEONEELSE")
    with pytest.raises(WecomCallbackError) as wrong_corp:
        crypto.open_message(
            other_corp[0]["msg_signature"], other_corp[0]["timestamp"], other_corp[0]["nonce"],
            other_corp[1].encode(),
        )  # fmt: skip
    assert wrong_corp.value.forged
    with pytest.raises(WecomCallbackError):
        crypto.open_message(
            params["msg_signature"], params["timestamp"], params["nonce"],
            b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>',
        )  # fmt: skip
    chat = parse_event(chat_event("wrX", "add_member", ["wmA", "zhangsan"]))
    assert (chat.chat_id, chat.update_detail, chat.members) == (
        "wrX",
        "add_member",
        ["wmA", "zhangsan"],
    )


@pytest.fixture
async def wecom(session, shop):  # type: ignore[no-untyped-def]
    return await codes_service.save_wecom_settings(
        session=session,
        shop_id=shop.id,
        data=WecomSettingsIn(corp_id=CORP_ID, token=TOKEN, encoding_aes_key=AES_KEY),
    )


async def test_wecom_url_check_and_a_contact_added_through_a_code(
    anon_client, session, shop, community, wecom
) -> None:
    path = f"/api/v1/public/wecom/{shop.id}/callback"
    params, _, encrypted = wecom_request("4620091512")
    check = await anon_client.get(path, params={**params, "echostr": encrypted})
    assert check.status_code == 200 and check.text == "4620091512"

    agent = await factories.make_staff(session, shop_id=shop.id, role="service_agent")
    tag = await factories.make_tag(session, shop_id=shop.id, name="门店新客")
    code = await codes_service.create_code(
        session=session,
        shop_id=shop.id,
        data=ChannelCodeIn(
            name="门店活码",
            staff=[{"staff_id": agent.id, "contact_url": "https://work.weixin.qq.com/ca/x"}],
            tag_ids=[tag.id],
            welcome_message="欢迎来到茶语小铺！",
            community_id=community.id,
        ),
    )
    links = await codes_service.staff_links(session=session, shop_id=shop.id, code_ids=[code.id])
    state = f"{code.code}.{links[code.id][0].id}"
    params, body, _ = wecom_request(contact_event("wmCODE1", state))
    response = await anon_client.post(path, params=params, content=body)
    assert response.status_code == 200 and response.text == "success"
    # WeCom retries a callback it thinks failed: the same event again records nothing more.
    params, body, _ = wecom_request(contact_event("wmCODE1", state))
    assert (await anon_client.post(path, params=params, content=body)).status_code == 200

    arrival = (await session.execute(select(ChannelCodeArrival))).scalar_one()
    assert (arrival.via, arrival.staff_id) == ("wecom", agent.id)
    customer = await session.get(Customer, arrival.customer_id)
    assert customer.source_channel == f"code:{code.code}"
    events = (
        await session.execute(
            select(Event.type, Event.properties).where(Event.customer_id == customer.id)
        )
    ).all()
    types = sorted(e[0] for e in events)
    assert types == ["channel_code_arrival", "welcome_due"]
    welcome = next(props for kind, props in events if kind == "welcome_due")
    assert welcome["text"] == "欢迎来到茶语小铺！" and welcome["staff_id"] == agent.id
    (stay,) = await stays(session, community.id)
    assert (stay.customer_id, stay.source) == (customer.id, "channel_code")
    stats = await codes_service.code_stats(session=session, shop_id=shop.id, code_ids=[code.id])
    assert stats[code.id].arrivals == 1


async def test_wecom_group_members_join_and_leave(
    anon_client, session, shop, community, wecom
) -> None:
    path = f"/api/v1/public/wecom/{shop.id}/callback"
    params, body, _ = wecom_request(
        chat_event(community.external_id, "add_member", ["wmG1", "wmG2", "lisi"])
    )
    response = await anon_client.post(path, params=params, content=body)
    assert response.status_code == 200
    members = await stays(session, community.id)
    assert len(members) == 2  # "lisi" is a staff member of the group
    params, body, _ = wecom_request(chat_event(community.external_id, "del_member", ["wmG1"]))
    await anon_client.post(path, params=params, content=body)
    current = await communities_service.list_members(
        session=session, shop_id=shop.id, community_id=community.id
    )
    assert current.total == 1


async def test_a_forged_wecom_callback_is_refused_and_audited(
    anon_client, session, shop, wecom
) -> None:
    path = f"/api/v1/public/wecom/{shop.id}/callback"
    params, body, _ = wecom_request(contact_event("wmEVIL", "x"), token="not-the-token")
    response = await anon_client.post(path, params=params, content=body)
    assert response.status_code == 401
    assert (
        await session.execute(select(CustomerIdentity).where(CustomerIdentity.key == "wmEVIL"))
    ).scalar_one_or_none() is None
    audit = (
        await session.execute(
            select(AuditEntry).where(AuditEntry.action == "wecom.callback_refused")
        )
    ).scalar_one()
    assert audit.shop_id == shop.id
    # A shop without WeCom settings has no callback.
    unknown = await anon_client.post("/api/v1/public/wecom/999999/callback", params=params)
    assert unknown.status_code == 404
