"""In-room customer service: open, write both ways, unread counts, close and reopen."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from liveloop.core.errors import NotFound, RateLimited, Unauthenticated
from liveloop.events.models import Event
from liveloop.live.servicechat import service
from liveloop.live.servicechat.models import Sender
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.factories.live import make_live_session


@pytest.fixture
async def room(session, shop):  # type: ignore[no-untyped-def]
    return await make_live_session(session, shop_id=shop.id, status="live")


@pytest.fixture
async def fan(session, shop):  # type: ignore[no-untyped-def]
    return await factories.make_customer(
        session, shop_id=shop.id, name="王小丫", phone="13800001111"
    )


@pytest.fixture
def sent(monkeypatch):  # type: ignore[no-untyped-def]
    messages: list = []
    monkeypatch.setattr(
        service, "send_after_commit",
        lambda _session, *, live_session_id, message: messages.append((live_session_id, message)),
    )  # fmt: skip
    return messages


async def write(session, shop_id, conversation, customer_id, text, **extra):  # type: ignore[no-untyped-def]
    return await service.send_customer_message(
        session=session, shop_id=shop_id, conversation_id=conversation.id,
        customer_id=customer_id, text=text, **extra,
    )  # fmt: skip


async def test_a_viewer_asks_and_an_agent_answers(session, shop, actor, room, fan, sent) -> None:  # type: ignore[no-untyped-def]
    conversation, created = await service.open_conversation(
        session=session, shop_id=shop.id, customer_id=fan.id, live_session_id=room.id
    )
    assert created and conversation.status == "open" and conversation.live_session_id == room.id
    again, created_again = await service.open_conversation(
        session=session, shop_id=shop.id, customer_id=fan.id, live_session_id=room.id
    )
    assert again.id == conversation.id and not created_again

    first = await write(session, shop.id, conversation, fan.id, "  这件有 M 码吗？ ")
    await write(session, shop.id, conversation, fan.id, "急")
    assert first.text == "这件有 M 码吗？" and first.sender == "customer"
    assert conversation.agent_unread == 2 and conversation.last_preview == "急"
    assert sent[-1] == (room.id, {"type": "service_chat", "to": "staff",
                                  "conversation_id": conversation.id, "agent_unread": 2})  # fmt: skip

    answer = await service.reply(
        session=session, actor=actor, conversation_id=conversation.id, text="有的，亲"
    )
    assert (answer.sender, answer.staff_id) == ("agent", actor.staff_id)
    assert (conversation.agent_unread, conversation.customer_unread) == (0, 1)
    assert conversation.last_sender == "agent"

    new = await service.list_messages(
        session=session, shop_id=shop.id, conversation_id=conversation.id, after=first.id
    )
    assert [m.text for m in new] == ["急", "有的，亲"]
    await service.mark_read(
        session=session, conversation=conversation, reader=Sender.CUSTOMER, up_to=answer.id
    )
    assert conversation.customer_unread == 0
    # Reading never goes back: an older mark leaves the count alone.
    await service.reply(
        session=session, actor=actor, conversation_id=conversation.id, text="还在吗"
    )
    await service.mark_read(
        session=session, conversation=conversation, reader=Sender.CUSTOMER, up_to=first.id
    )
    assert conversation.customer_unread == 1

    audit = (await session.execute(
        select(AuditEntry.action, AuditEntry.details).where(AuditEntry.shop_id == shop.id,
                                                            AuditEntry.action.like("service.%"))
    )).all()  # fmt: skip
    assert [a for a, _ in audit] == ["service.reply", "service.reply"]
    assert "有的" not in str(audit)  # the audit names the message, it does not copy it
    kinds = (await session.execute(
        select(Event.type).where(Event.shop_id == shop.id, Event.type.like("service_%"))
    )).scalars().all()  # fmt: skip
    assert sorted(kinds) == ["service_chat_open", "service_message", "service_message"]


async def test_close_and_reopen(session, shop, actor, room, fan) -> None:  # type: ignore[no-untyped-def]
    conversation, _ = await service.open_conversation(
        session=session, shop_id=shop.id, customer_id=fan.id, live_session_id=room.id
    )
    await write(session, shop.id, conversation, fan.id, "退货怎么办")
    closed = await service.close_conversation(
        session=session, actor=actor, conversation_id=conversation.id
    )
    assert closed.status == "closed" and closed.closed_by == actor.staff_id
    await service.close_conversation(session=session, actor=actor, conversation_id=conversation.id)
    # The customer writes again: open again, in the inbox again.
    await write(session, shop.id, conversation, fan.id, "还有一个问题")
    assert conversation.status == "open" and conversation.closed_at is None
    await service.close_conversation(session=session, actor=actor, conversation_id=conversation.id)
    reopened = await service.reopen_conversation(
        session=session, actor=actor, conversation_id=conversation.id
    )
    assert reopened.status == "open"
    actions = (await session.execute(
        select(AuditEntry.action).where(AuditEntry.shop_id == shop.id,
                                        AuditEntry.action.like("service.%")).order_by(AuditEntry.id)
    )).scalars().all()  # fmt: skip
    assert actions == ["service.close", "service.close", "service.reopen"]  # the repeat: nothing


async def test_the_inbox_puts_the_waiting_first(session, shop, actor, room) -> None:  # type: ignore[no-untyped-def]
    fans = [
        await factories.make_customer(session, shop_id=shop.id, name=n) for n in ("甲", "乙", "丙")
    ]
    threads = []
    for fan in fans:
        conversation, _ = await service.open_conversation(
            session=session, shop_id=shop.id, customer_id=fan.id, live_session_id=room.id
        )
        await write(session, shop.id, conversation, fan.id, "你好")
        threads.append(conversation)
    await service.reply(session=session, actor=actor, conversation_id=threads[0].id, text="您好")
    await service.close_conversation(session=session, actor=actor, conversation_id=threads[2].id)
    page = await service.list_conversations(session=session, shop_id=shop.id)
    assert [c.id for c in page.items] == [threads[1].id, threads[0].id]
    assert await service.inbox_counts(session=session, shop_id=shop.id) == {"open": 2, "waiting": 1}
    rows = await service.describe_conversations(session, shop.id, list(page.items))
    assert rows[0]["customer_name"] == "乙" and rows[0]["live_session_title"] == room.title
    closed = await service.list_conversations(session=session, shop_id=shop.id, status="closed")
    assert [c.id for c in closed.items] == [threads[2].id]


async def test_the_customer_card_masks_the_phone(session, shop, room, fan) -> None:  # type: ignore[no-untyped-def]
    card = await service.customer_card(session=session, shop_id=shop.id, customer_id=fan.id)
    assert card is not None and card["name"] == "王小丫"
    assert "13800001111" not in str(card)
    assert any(i["channel"] == "phone" and "****" in i["value"] for i in card["identities"])
    assert card["orders"] == [] and card["url"] == f"/console/customers/{fan.id}"


async def test_rate_limit_repeat_sends_and_strangers(session, shop, room, fan, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(service, "MESSAGES_PER_WINDOW", 3)
    conversation, _ = await service.open_conversation(
        session=session, shop_id=shop.id, customer_id=fan.id, live_session_id=room.id
    )
    once = await write(session, shop.id, conversation, fan.id, "一", client_id="send-1")
    twice = await write(session, shop.id, conversation, fan.id, "一", client_id="send-1")
    assert once.id == twice.id and conversation.agent_unread == 1
    await write(session, shop.id, conversation, fan.id, "二")
    await write(session, shop.id, conversation, fan.id, "三")
    with pytest.raises(RateLimited) as limited:
        await write(session, shop.id, conversation, fan.id, "四")
    assert limited.value.code == "rate_limited" and limited.value.field == "text"

    other = await factories.make_customer(session, shop_id=shop.id)
    with pytest.raises(NotFound):
        await write(session, shop.id, conversation, other.id, "我不是他")
    with pytest.raises(Unauthenticated):
        await write(session, shop.id, conversation, None, "游客")
    with pytest.raises(Unauthenticated):
        await service.open_conversation(
            session=session, shop_id=shop.id, customer_id=None, live_session_id=room.id
        )


async def test_another_shop_sees_nothing(session, shop, other_shop, room, fan) -> None:  # type: ignore[no-untyped-def]
    from liveloop.shops.service import system_actor

    conversation, _ = await service.open_conversation(
        session=session, shop_id=shop.id, customer_id=fan.id, live_session_id=room.id
    )
    with pytest.raises(NotFound):
        await service.reply(
            session=session, actor=system_actor(other_shop.id), conversation_id=conversation.id,
            text="串店了",
        )  # fmt: skip
    assert (await service.list_conversations(session=session, shop_id=other_shop.id)).total == 0
