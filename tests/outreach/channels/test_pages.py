"""Console pages of outreach channels: a form per kind (what is stored, what is refused and
where), a channel's page (blank secret keeps it, audit), a test send with the provider's answer,
secrets never in a page, and another shop's channel not found."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from liveloop.core.errors import Conflict
from liveloop.outreach.channels import service
from liveloop.outreach.channels.models import ShopChannel
from liveloop.outreach.channels.pages import KIND_FIELDS
from liveloop.outreach.channels.senders import SECRET_FIELDS
from liveloop.shops.models import AuditEntry
from tests.outreach.channels.conftest import free_port, json_body
from tests.web.conftest import log_in, post_form

URL = "/console/outreach/channels"


@pytest.fixture
async def console(anon_client, owner) -> Any:  # type: ignore[no-untyped-def]
    anon_client.csrf = await log_in(anon_client, owner.email)  # type: ignore[attr-defined]
    yield anon_client


async def _stored(session, channel_id: int) -> ShopChannel:  # type: ignore[no-untyped-def]
    return (
        await session.execute(
            select(ShopChannel)
            .where(ShopChannel.id == channel_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def _only_channel(session, shop_id: int) -> ShopChannel:  # type: ignore[no-untyped-def]
    [channel] = await service.list_channels(session=session, shop_id=shop_id)
    return await _stored(session, channel.id)


def _field(page: str, name: str) -> str:
    """The <label> of one input, with its error if any."""
    found = re.search(rf'<label data-field="{re.escape(name)}">(.*?)</label>', page, re.S)
    assert found, f"no field {name}"
    return found.group(1)


# (form fields, stored config, stored secret) per kind
KINDS: dict[str, tuple[dict[str, str], dict[str, Any], dict[str, str]]] = {
    "email": (
        {"email.transport": "smtp", "email.host": "smtp.example.com", "email.port": "2525",
         "email.security": "ssl", "email.username": "shop", "email.password": "pw-Secret-1",
         "email.from_addr": "shop@example.com", "email.from_name": "小店"},
        {"transport": "smtp", "host": "smtp.example.com", "port": 2525, "security": "ssl",
         "username": "shop", "from_addr": "shop@example.com", "from_name": "小店"},
        {"password": "pw-Secret-1"},
    ),
    "webhook": (
        {"webhook.url": "https://hooks.example.com/in", "webhook.signing_secret": "whsec-Secret-2"},
        {"url": "https://hooks.example.com/in"},
        {"signing_secret": "whsec-Secret-2"},
    ),
    "wecom_customer": (
        {"wecom_customer.corpid": "ww0001", "wecom_customer.corpsecret": "corp-Secret-3"},
        {"corpid": "ww0001", "sender": ""},
        {"corpsecret": "corp-Secret-3"},
    ),
    "wecom_group": (
        {"wecom_group.corpid": "ww0002", "wecom_group.sender": "zhangsan",
         "wecom_group.api_base": "http://127.0.0.1:9/wecom",
         "wecom_group.corpsecret": "corp-Secret-4"},
        {"corpid": "ww0002", "sender": "zhangsan", "api_base": "http://127.0.0.1:9/wecom"},
        {"corpsecret": "corp-Secret-4"},
    ),
    "sms": (
        {"sms.url": "https://sms.example.com/send", "sms.api_key": "key-Secret-5",
         "sms.api_key_header": "X-Api-Key", "sms.to_field": "mobile", "sms.text_field": "content",
         "sms.ok_field": "code", "sms.ok_values": "OK, 0", "sms.retry_values": "BUSY",
         "sms.id_field": "data.id", "sms.extra": '{"sign_name": "小店"}'},
        {"url": "https://sms.example.com/send", "api_key_header": "X-Api-Key",
         "to_field": "mobile", "text_field": "content", "ok_field": "code",
         "ok_values": ["OK", "0"], "retry_values": ["BUSY"], "id_field": "data.id",
         "extra": {"sign_name": "小店"}},
        {"api_key": "key-Secret-5"},
    ),
}  # fmt: skip


def test_each_kind_asks_for_the_secrets_its_sender_takes() -> None:
    for kind, fields in KIND_FIELDS.items():
        assert {f.key for f in fields if f.secret} == set(SECRET_FIELDS[kind]), kind


async def test_the_add_form_has_a_fieldset_per_kind(console) -> None:  # type: ignore[no-untyped-def]
    page = (await console.get(URL)).text
    for kind, (fields, _config, _secret) in KINDS.items():
        assert f"x-show=\"kind === '{kind}'\"" in page
        for name in fields:
            assert f'name="{name}"' in page
    assert 'name="config"' not in page and 'name="secret"' not in page  # no raw JSON boxes


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_each_kind_is_added_through_its_fields(
    session, settings, shop, console, kind
) -> None:  # type: ignore[no-untyped-def]
    fields, config, secret = KINDS[kind]
    # Without JavaScript every kind's fields are posted: only the chosen kind's are read.
    others = {n: "https://other.example.com/x" for k, (f, _c, _s) in KINDS.items() if k != kind
              for n in f if n.endswith(".url")}  # fmt: skip
    made = await post_form(
        console,
        URL,
        {"kind": kind, "name": f"{kind} 渠道", "rate_per_second": "25", **fields, **others},
    )
    assert made.status_code == 303, re.findall(r'channel-error">([^<]*)', made.text)
    channel = await _only_channel(session, shop.id)
    assert (channel.kind, channel.name, channel.rate_per_second) == (kind, f"{kind} 渠道", 25)
    assert channel.config == config
    assert service.decrypt_secret(channel, settings=settings) == secret
    audit = (
        await session.execute(
            select(AuditEntry).where(
                AuditEntry.action == "outreach.channel.create",
                AuditEntry.target_id == str(channel.id),
            )
        )
    ).scalar_one()
    assert audit.details == {"kind": kind}
    for url in (URL, f"{URL}/{channel.id}"):
        page = (await console.get(url)).text
        assert f'href="{URL}/{channel.id}"' in page or url != URL
        for value in secret.values():
            assert value not in page


@pytest.mark.parametrize(
    ("kind", "fields", "missing", "words"),
    [
        ("webhook", {"webhook.signing_secret": "whsec-Kept-Out"}, "webhook.url", "is required"),
        ("webhook", {"webhook.url": "https://h.example.com"}, "webhook.signing_secret", "signing secret"),
        ("webhook", {"webhook.url": "ftp://h.example.com", "webhook.signing_secret": "whsec-Kept-Out"},
         "webhook.url", "http:// or https://"),
        ("email", {"email.host": "smtp.example.com"}, "email.from_addr", "is required"),
        ("email", {"email.host": "h", "email.from_addr": "a@b.cn", "email.port": "seventy"},
         "email.port", "port number"),
        ("email", {"email.host": "h", "email.from_addr": "a@b.cn", "email.username": "u"},
         "email.password", "password is needed"),
        ("wecom_group", {"wecom_group.corpid": "ww1", "wecom_group.corpsecret": "corp-Kept-Out"},
         "wecom_group.sender", "is required"),
        ("wecom_customer", {"wecom_customer.corpsecret": "corp-Kept-Out"}, "wecom_customer.corpid",
         "is required"),
        ("sms", {"sms.url": "https://s.example.com", "sms.extra": "[1, 2]", "sms.api_key": "key-Kept-Out"},
         "sms.extra", "JSON object"),
    ],
)  # fmt: skip
async def test_a_missing_or_bad_field_is_refused_beside_it(
    session, shop, console, kind, fields, missing, words
) -> None:  # type: ignore[no-untyped-def]
    refused = await post_form(console, URL, {"kind": kind, "name": "保留的名字", **fields})
    assert refused.status_code == 422
    page = refused.text
    assert words in html.unescape(_field(page, missing))  # the sentence sits by its input
    assert words in html.unescape(re.search(r'id="channel-error">([^<]*)<', page).group(1))  # type: ignore[union-attr]
    assert 'value="保留的名字"' in page  # typed values are kept...
    for name, value in fields.items():
        if "Kept-Out" in value:
            assert value not in page  # ...but never a secret
        elif not name.endswith(".extra"):
            assert f'value="{html.escape(value)}"' in page
    assert f'<option value="{kind}" selected>' in page
    assert await service.list_channels(session=session, shop_id=shop.id) == []


async def test_bad_name_rate_and_kind_are_refused(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    hook = {"webhook.url": "https://h.example.com", "webhook.signing_secret": "whsec-Kept-Out"}
    for form, name in (
        ({"kind": "webhook", "name": "", **hook}, "name"),
        ({"kind": "webhook", "name": "x", "rate_per_second": "fast", **hook}, "rate_per_second"),
        ({"kind": "webhook", "name": "x", "rate_per_second": "0", **hook}, "rate_per_second"),
        ({"kind": "fax", "name": "x", **hook}, "kind"),
    ):
        refused = await post_form(console, URL, form)
        assert refused.status_code == 422, form
        label = re.search(
            rf'<label>[^<]*<(?:input|select) name="{name}".*?</label>', refused.text, re.S
        )
        assert label and "field-error" in label.group(0), name
        assert "whsec-Kept-Out" not in refused.text
    assert await service.list_channels(session=session, shop_id=shop.id) == []


async def _webhook(
    session, settings, shop_id: int, url: str, secret: str = "whsec-Old-1"
) -> ShopChannel:  # type: ignore[no-untyped-def]
    channel = await service.create_channel(
        session=session, shop_id=shop_id, kind="webhook", name="回调",
        config={"url": url}, secret={"signing_secret": secret}, settings=settings,
    )  # fmt: skip
    await session.commit()
    return channel


async def test_edit_with_a_blank_secret_keeps_it(session, settings, shop, console) -> None:  # type: ignore[no-untyped-def]
    channel = await _webhook(session, settings, shop.id, "https://h.example.com/a")
    page = (await console.get(f"{URL}/{channel.id}")).text
    assert 'value="https://h.example.com/a"' in page and 'value="回调"' in page
    assert 'data-secret="signing_secret"' in page and "whsec-Old-1" not in page

    saved = await post_form(
        console, f"{URL}/{channel.id}",
        {"name": "新回调", "rate_per_second": "3.5", "webhook.url": "https://h.example.com/b",
         "webhook.signing_secret": ""},
    )  # fmt: skip
    # "enabled" was not ticked: the channel is now disabled.
    assert saved.status_code == 303, re.findall(r'channel-error">([^<]*)', saved.text)
    stored = await _stored(session, channel.id)
    assert (stored.name, stored.rate_per_second, stored.enabled) == ("新回调", 3.5, False)
    assert stored.config == {"url": "https://h.example.com/b"}
    assert service.decrypt_secret(stored, settings=settings) == {"signing_secret": "whsec-Old-1"}
    audit = (
        await session.execute(
            select(AuditEntry).where(
                AuditEntry.action == "outreach.channel.update",
                AuditEntry.target_id == str(channel.id),
            )
        )
    ).scalar_one()
    assert audit.details["changed"] == ["config", "enabled", "name", "rate_per_second"]
    assert audit.details["secrets_replaced"] == []
    assert "whsec" not in str(audit.details)

    replaced = await post_form(
        console, f"{URL}/{channel.id}",
        {"name": "新回调", "rate_per_second": "3.5", "enabled": "1",
         "webhook.url": "https://h.example.com/b", "webhook.signing_secret": "whsec-New-2"},
    )  # fmt: skip
    assert replaced.status_code == 303
    stored = await _stored(session, channel.id)
    assert stored.enabled is True
    assert service.decrypt_secret(stored, settings=settings) == {"signing_secret": "whsec-New-2"}
    assert "whsec-New-2" not in (await console.get(replaced.headers["location"])).text


async def test_secrets_stored_under_another_key_are_said_and_can_be_typed_again(
    session, settings, shop, console
) -> None:  # type: ignore[no-untyped-def]
    """After LIVELOOP_SECRET_KEY changes, a channel's page still opens and says what happened;
    the channel refuses to send with a clear error until its secrets are typed in again."""
    old_key = settings.model_copy(update={"secret_key": "the key of a previous install " * 2})
    channel = await _webhook(session, old_key, shop.id, "https://h.example.com/a")
    with pytest.raises(Conflict) as refused:
        service.decrypt_secret(channel, settings=settings)
    assert (refused.value.code, refused.value.field) == ("channel_secret_unreadable", "secret")
    assert "LIVELOOP_SECRET_KEY" in refused.value.message

    page = await console.get(f"{URL}/{channel.id}")
    assert page.status_code == 200 and 'id="channel-secrets-unreadable"' in page.text
    assert 'data-secret="signing_secret"' in page.text

    fields = {"name": "回调", "rate_per_second": "1", "enabled": "1",
              "webhook.url": "https://h.example.com/a"}  # fmt: skip
    blank = await post_form(
        console, f"{URL}/{channel.id}", {**fields, "webhook.signing_secret": ""}
    )
    assert blank.status_code == 422  # nothing readable to keep: the required secret is missing
    again = await post_form(
        console, f"{URL}/{channel.id}", {**fields, "webhook.signing_secret": "whsec-Again-3"}
    )
    assert again.status_code == 303
    stored = await _stored(session, channel.id)
    assert service.decrypt_secret(stored, settings=settings) == {"signing_secret": "whsec-Again-3"}
    assert 'id="channel-secrets-unreadable"' not in (await console.get(f"{URL}/{channel.id}")).text


async def test_edit_refusal_keeps_input_and_changes_nothing(
    session, settings, shop, console
) -> None:  # type: ignore[no-untyped-def]
    channel = await _webhook(session, settings, shop.id, "https://h.example.com/a")
    refused = await post_form(
        console, f"{URL}/{channel.id}",
        {"name": "改名", "rate_per_second": "10", "enabled": "1", "webhook.url": "not a url",
         "webhook.signing_secret": "whsec-Typed-3"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "http:// or https://" in html.unescape(_field(refused.text, "webhook.url"))
    assert 'value="改名"' in refused.text and 'value="not a url"' in refused.text
    assert "whsec-Typed-3" not in refused.text
    stored = await _stored(session, channel.id)
    assert (stored.name, stored.config) == ("回调", {"url": "https://h.example.com/a"})
    assert service.decrypt_secret(stored, settings=settings) == {"signing_secret": "whsec-Old-1"}


async def test_test_send_shows_the_receivers_answer(
    session, settings, shop, console, receiver
) -> None:  # type: ignore[no-untyped-def]
    channel = await _webhook(session, settings, shop.id, receiver.url, secret="whsec-Test-4")
    sent = await post_form(
        console, f"{URL}/{channel.id}/test", {"address": "ops-7", "text": "测一下"}
    )
    assert sent.status_code == 200
    assert 'id="test-result" data-status="delivered"' in sent.text
    assert 'id="test-provider-code">200<' in sent.text
    [request] = receiver.requests
    assert json_body(request)["content"]["text"] == "测一下"
    assert service.verify_signature(
        secret="whsec-Test-4",
        header=request["headers"]["X-LiveLoop-Signature"],
        body=request["body"],
    )
    assert "whsec-Test-4" not in sent.text

    receiver.replies.append((400, {}, "no such address"))
    refused = await post_form(console, f"{URL}/{channel.id}/test", {"address": "nobody"})
    assert 'data-status="failed"' in refused.text
    reason = re.search(r'id="test-reason">([^<]*)<', refused.text)
    assert reason and "HTTP 400" in reason.group(1) and "no such address" in reason.group(1)
    assert 'id="test-provider-code">400<' in refused.text


async def test_test_send_to_a_failing_host_says_why(session, settings, shop, console) -> None:  # type: ignore[no-untyped-def]
    channel = await _webhook(session, settings, shop.id, f"http://127.0.0.1:{free_port()}/hook")
    sent = await post_form(console, f"{URL}/{channel.id}/test", {"address": "ops-7"})
    assert sent.status_code == 200 and 'data-status="retry"' in sent.text
    reason = re.search(r'id="test-reason">([^<]*)<', sent.text)
    assert reason and "could not reach the receiver" in reason.group(1)


async def test_test_send_checks_the_address(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    channel = await service.create_channel(
        session=session, shop_id=shop.id, kind="email", name="信箱",
        config={"transport": "mailbox", "from_addr": "shop@example.com"},
    )  # fmt: skip
    await session.commit()
    page = (await console.get(f"{URL}/{channel.id}")).text
    assert 'name="subject"' in page  # an e-mail test has a subject
    for address in ("not-mail", ""):
        bad = await post_form(console, f"{URL}/{channel.id}/test", {"address": address})
        assert bad.status_code == 422 and 'id="test-result"' not in bad.text
        label = re.search(r'<label>[^<]*<input name="address".*?</label>', bad.text, re.S)
        assert label and "field-error" in label.group(0)


async def test_another_shops_channel_is_not_found(
    session, settings, shop, other_shop, console
) -> None:  # type: ignore[no-untyped-def]
    theirs = await _webhook(session, settings, other_shop.id, "https://them.example.com")
    assert (await console.get(f"{URL}/{theirs.id}")).status_code == 404
    changed = await post_form(
        console, f"{URL}/{theirs.id}",
        {"name": "偷改", "rate_per_second": "1", "webhook.url": "https://me.example.com",
         "webhook.signing_secret": "whsec-Mine"},
    )  # fmt: skip
    assert changed.status_code == 404
    sent = await post_form(console, f"{URL}/{theirs.id}/test", {"address": "x"})
    assert sent.status_code == 404
    stored = await _stored(session, theirs.id)
    assert (stored.name, stored.config) == ("回调", {"url": "https://them.example.com"})
    assert service.decrypt_secret(stored, settings=settings) == {"signing_secret": "whsec-Old-1"}
    assert f'data-id="{theirs.id}"' not in (await console.get(URL)).text
