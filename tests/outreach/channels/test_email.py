"""E-mail end to end against a local SMTP server (aiosmtpd), and the demo mailbox file."""

from __future__ import annotations

import email
import mailbox
from email import policy

from liveloop.outreach.channels import service
from liveloop.outreach.channels.email import mailbox_path
from liveloop.outreach.channels.models import ShopChannel
from liveloop.outreach.contracts import (
    ChannelKind,
    DeliveryStatus,
    OutgoingMessage,
    RenderedMessage,
)


def smtp_channel(port: int) -> ShopChannel:
    return ShopChannel(
        id=1,
        shop_id=7,
        kind="email",
        name="smtp",
        config={
            "transport": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from_addr": "shop@example.com",
            "from_name": "小店",
        },
        rate_per_second=5,
    )


def message(address: str, key: str = "bc:1:2") -> OutgoingMessage:
    return OutgoingMessage(
        key=key,
        shop_id=7,
        kind=ChannelKind.EMAIL,
        address=address,
        content=RenderedMessage(
            text="明晚8点直播，等你来",
            subject="直播邀请",
            html="<p>明晚8点<b>直播</b></p>",
        ),
        customer_id=2,
        metadata={"unsubscribe_url": "http://testserver/u/abc"},
    )


async def test_an_email_reaches_the_smtp_server_with_both_parts(smtp_server, settings) -> None:
    box, port = smtp_server
    sender = service.open_sender(smtp_channel(port), settings=settings)
    result = await service.deliver(sender, message("fan@example.com"), backoff=0)
    await sender.aclose()
    assert result.status is DeliveryStatus.DELIVERED and result.provider_code == "250"
    assert result.provider_message_id == "<bc.1.2@example.com>"
    assert len(box.messages) == 1
    envelope = box.messages[0]
    assert envelope.mail_from == "shop@example.com"
    assert envelope.rcpt_tos == ["fan@example.com"]
    received = email.message_from_bytes(envelope.content, policy=policy.default)
    assert received["Subject"] == "直播邀请"
    assert received["X-LiveLoop-Key"] == "bc:1:2"
    assert received["List-Unsubscribe"] == "<http://testserver/u/abc>"
    assert received.get_body(("plain",)).get_content().strip() == "明晚8点直播，等你来"
    assert "<b>直播</b>" in received.get_body(("html",)).get_content()
    assert "X-LiveLoop-Mailbox" not in received


async def test_a_refused_recipient_fails_with_the_servers_words(smtp_server, settings) -> None:
    box, port = smtp_server
    box.refuse["gone@example.com"] = "550 5.1.1 No such user here"
    sender = service.open_sender(smtp_channel(port), settings=settings)
    result = await service.deliver(sender, message("gone@example.com"), backoff=0)
    assert result.status is DeliveryStatus.FAILED
    assert result.provider_code == "550"
    assert "No such user here" in (result.reason or "")
    assert box.messages == []


async def test_a_temporary_refusal_is_retried_then_recorded(smtp_server, settings) -> None:
    box, port = smtp_server
    box.refuse["busy@example.com"] = "451 4.7.1 Greylisted, try later"
    sender = service.open_sender(smtp_channel(port), settings=settings)
    result = await service.deliver(sender, message("busy@example.com"), retries=2, backoff=0)
    assert result.status is DeliveryStatus.FAILED
    assert result.provider_code == "451"
    assert result.reason is not None
    assert result.reason.startswith("gave up after 3 attempts:")
    assert "Greylisted, try later" in result.reason


async def test_no_smtp_server_is_a_retry_then_a_failure(settings) -> None:
    from tests.outreach.channels.conftest import free_port

    sender = service.open_sender(smtp_channel(free_port()), settings=settings)
    result = await sender.send(message("fan@example.com"))
    assert result.status is DeliveryStatus.RETRY
    assert "could not talk to the SMTP server" in (result.reason or "")
    final = await service.deliver(sender, message("fan@example.com"), retries=1, backoff=0)
    assert final.status is DeliveryStatus.FAILED


async def test_the_mailbox_transport_writes_a_labelled_message(settings) -> None:
    channel = ShopChannel(
        id=2,
        shop_id=7,
        kind="email",
        name="demo",
        config={"transport": "mailbox", "from_addr": "shop@example.com", "from_name": ""},
        rate_per_second=5,
    )
    sender = service.open_sender(channel, settings=settings)
    first = await sender.send(message("a@example.com", key="bc:1:1"))
    second = await sender.send(message("b@example.com", key="bc:1:2"))
    assert first.status is DeliveryStatus.DELIVERED and second.status is DeliveryStatus.DELIVERED
    path = mailbox_path(settings.var_dir)
    assert path == settings.var_dir / "mail" / "outbox.mbox"
    box = mailbox.mbox(path)
    try:
        mine = [m for m in box if m["X-LiveLoop-Key"] in ("bc:1:1", "bc:1:2")]
        assert [m["To"] for m in mine][-2:] == ["a@example.com", "b@example.com"]
        assert all(m["X-LiveLoop-Mailbox"] == "demo - not sent" for m in mine)
        assert all(m["X-LiveLoop-Shop"] == "7" for m in mine)
    finally:
        box.close()
