"""In-room customer service (直播间客服): a viewer's private thread with the shop's agents.

A customer has one conversation with a shop (opened from a live room, remembered there),
messages go both ways in plain text, and each side has an unread count. Agents answer from
the console (/console/service) with the customer's profile and recent orders beside the
thread; every reply, close and reopen is in the audit log.

Delivery to the viewer is by polling (`GET /api/v1/public/service/conversations/{id}?after=`
every few seconds while the chat is open): the room protocol sends to every viewer or to
staff, not to one customer, and a private reply must never pass through the room's shared
history. Customer messages also reach the room console as a staff-only `service_chat`
message, so an anchor sees that someone is waiting.

The script library (话术库) is the outreach issue's: its picker fills the reply box in the
console (`{% include "outreach/_script_picker.html" %}`), and the text arrives here as any
reply does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Page, get_scoped, paginate, scoped, utcnow
from liveloop.core.errors import InvalidInput, NotFound, RateLimited, Unauthenticated
from liveloop.live.models import LiveSession
from liveloop.live.outbox import send_after_commit
from liveloop.live.servicechat.models import (
    ConversationStatus,
    Sender,
    ServiceConversation,
    ServiceMessage,
)
from liveloop.shops.service import Actor, record_audit

MESSAGES_PER_WINDOW = 10  # a customer's messages a minute, over all their devices
WINDOW_S = 60
PAGE_OF_MESSAGES = 50
PREVIEW_LENGTH = 80
RECENT_ORDERS = 5


# ----------------------------------------------------------------------------- reading


async def get_conversation(
    *, session: AsyncSession, shop_id: int, conversation_id: int
) -> ServiceConversation:
    return await get_scoped(
        session,
        ServiceConversation,
        shop_id=shop_id,
        record_id=conversation_id,
        label="conversation",
    )


async def customer_conversation(
    *, session: AsyncSession, shop_id: int, conversation_id: int, customer_id: int | None
) -> ServiceConversation:
    """The viewer's own conversation; anyone else's is 'not found'."""
    if customer_id is None:
        raise Unauthenticated(
            "verify your phone number first, so the shop knows whom to answer",
            code="customer_required",
        )
    conversation = (
        await session.execute(
            scoped(ServiceConversation, shop_id).where(
                ServiceConversation.id == conversation_id,
                ServiceConversation.customer_id == customer_id,
            )
        )
    ).scalar_one_or_none()
    if conversation is None:
        raise NotFound(
            f"conversation {conversation_id} was not found",
            code="conversation_not_found",
            field="id",
        )
    return conversation


async def conversation_of_customer(
    *, session: AsyncSession, shop_id: int, customer_id: int
) -> ServiceConversation | None:
    statement = scoped(ServiceConversation, shop_id).where(
        ServiceConversation.customer_id == customer_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def list_messages(
    *,
    session: AsyncSession,
    shop_id: int,
    conversation_id: int,
    after: int = 0,
    limit: int = PAGE_OF_MESSAGES,
) -> list[ServiceMessage]:
    """Messages after id `after`, oldest first; from the start (after=0): the latest `limit`."""
    statement = scoped(ServiceMessage, shop_id).where(
        ServiceMessage.conversation_id == conversation_id
    )
    if after:
        statement = statement.where(ServiceMessage.id > after).order_by(ServiceMessage.id)
        return list((await session.execute(statement.limit(limit))).scalars())
    statement = statement.order_by(ServiceMessage.id.desc()).limit(limit)
    return list(reversed(list((await session.execute(statement)).scalars())))


async def list_conversations(
    *,
    session: AsyncSession,
    shop_id: int,
    status: str | None = ConversationStatus.OPEN.value,
    live_session_id: int | None = None,
    unread_only: bool = False,
    page: int = 1,
    per_page: int = 30,
) -> Page[ServiceConversation]:
    """The agents' inbox: waiting on an answer first (the customer wrote last), then newest."""
    if status is not None and status not in {s.value for s in ConversationStatus}:
        raise InvalidInput(
            f"unknown status {status!r}; use open or closed (or leave it out for all)",
            code="invalid_status",
            field="status",
        )
    # A conversation opened but never written in is nobody's business yet.
    statement = scoped(ServiceConversation, shop_id).where(
        ServiceConversation.last_message_at.is_not(None)
    )
    if status is not None:
        statement = statement.where(ServiceConversation.status == status)
    if live_session_id is not None:
        statement = statement.where(ServiceConversation.live_session_id == live_session_id)
    if unread_only:
        statement = statement.where(ServiceConversation.agent_unread > 0)
    waiting = case((ServiceConversation.agent_unread > 0, 0), else_=1)
    statement = statement.order_by(
        waiting, ServiceConversation.last_message_at.desc(), ServiceConversation.id.desc()
    )
    return await paginate(session, statement, page=page, per_page=per_page)


async def inbox_counts(*, session: AsyncSession, shop_id: int) -> dict[str, int]:
    """Open conversations, and those waiting on an answer (with unread customer messages)."""
    row = (
        await session.execute(
            scoped(
                ServiceConversation,
                shop_id,
                func.count(),
                func.coalesce(
                    func.sum(case((ServiceConversation.agent_unread > 0, 1), else_=0)), 0
                ),
            ).where(
                ServiceConversation.status == ConversationStatus.OPEN.value,
                ServiceConversation.last_message_at.is_not(None),
            )
        )
    ).one()
    return {"open": int(row[0] or 0), "waiting": int(row[1] or 0)}


async def describe_conversations(
    session: AsyncSession, shop_id: int, conversations: list[ServiceConversation]
) -> list[dict[str, Any]]:
    """Inbox rows: the customer's name and the session's title beside the conversation."""
    from liveloop.customers.communities import service as communities

    names = await communities.customer_names(
        session=session, shop_id=shop_id, customer_ids=[c.customer_id for c in conversations]
    )
    session_ids = {c.live_session_id for c in conversations if c.live_session_id}
    titles: dict[int, str] = {}
    if session_ids:
        rows = await session.execute(
            scoped(LiveSession, shop_id, LiveSession.id, LiveSession.title).where(
                LiveSession.id.in_(session_ids)
            )
        )
        titles = {row[0]: row[1] for row in rows}
    return [
        {
            "id": c.id,
            "customer_id": c.customer_id,
            "customer_name": names.get(c.customer_id) or f"#{c.customer_id}",
            "live_session_id": c.live_session_id,
            "live_session_title": titles.get(c.live_session_id or 0, ""),
            "status": c.status,
            "opened_at": c.opened_at,
            "closed_at": c.closed_at,
            "last_message_at": c.last_message_at,
            "last_preview": c.last_preview,
            "last_sender": c.last_sender,
            "agent_unread": c.agent_unread,
            "customer_unread": c.customer_unread,
        }
        for c in conversations
    ]


async def staff_names(
    session: AsyncSession, shop_id: int, messages: list[ServiceMessage]
) -> dict[int, str]:
    from liveloop.shops.models import Staff

    ids = {m.staff_id for m in messages if m.staff_id}
    if not ids:
        return {}
    rows = await session.execute(
        select(Staff.id, Staff.name).where(Staff.shop_id == shop_id, Staff.id.in_(ids))
    )
    return {row[0]: row[1] for row in rows}


async def customer_card(
    *, session: AsyncSession, shop_id: int, customer_id: int
) -> dict[str, Any] | None:
    """The customer beside the thread: name, identities masked (as on the customer page,
    where a permitted role may reveal them, audited), tags and the latest orders."""
    from liveloop.commerce.order_queries import OrderFilter, list_orders
    from liveloop.customers import service as customers_service

    try:
        customer = await customers_service.get_customer(
            session=session, shop_id=shop_id, customer_id=customer_id
        )
    except NotFound:
        return None
    orders = await list_orders(
        session=session,
        shop_id=shop_id,
        filters=OrderFilter(customer_id=customer.id),
        per_page=RECENT_ORDERS,
    )
    return {
        "id": customer.id,
        "name": customer.display_name or f"#{customer.id}",
        "identities": [
            {"channel": identity.channel, "value": identity.display_value}
            for identity in customer.identities
        ],
        "tags": [link.tag.name for link in customer.tag_links],
        "orders": [
            {
                "id": order.id,
                "number": order.number,
                "status": order.status,
                "total_fen": order.total_fen,
                "created_at": order.created_at,
                "live_session_id": order.live_session_id,
            }
            for order in orders.items
        ],
        "order_count": orders.total,
        "url": f"/console/customers/{customer.id}",
    }


# ----------------------------------------------------------------------------- the viewer


async def open_conversation(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int | None,
    live_session_id: int | None,
) -> tuple[ServiceConversation, bool]:
    """The customer's conversation with the shop, opened now if it is new or was closed,
    and tied to this live session. (True: it was created.)"""
    if customer_id is None:
        raise Unauthenticated(
            "verify your phone number first, so the shop knows whom to answer",
            code="customer_required",
        )
    if live_session_id is not None:
        await get_scoped(
            session, LiveSession, shop_id=shop_id, record_id=live_session_id, label="live session"
        )
    now = utcnow()
    conversation = await conversation_of_customer(
        session=session, shop_id=shop_id, customer_id=customer_id
    )
    created = False
    if conversation is None:
        conversation = ServiceConversation(
            shop_id=shop_id, customer_id=customer_id, live_session_id=live_session_id,
            opened_at=now,
        )  # fmt: skip
        try:
            async with session.begin_nested():
                session.add(conversation)
                await session.flush()
            created = True
        except IntegrityError:  # opened from another device at the same moment
            found = await conversation_of_customer(
                session=session, shop_id=shop_id, customer_id=customer_id
            )
            if found is None:
                raise
            conversation = found
    reopened = False
    if not created and conversation.status == ConversationStatus.CLOSED.value:
        reopened = await _reopen(session, conversation, now)
    if live_session_id is not None and conversation.live_session_id != live_session_id:
        conversation.live_session_id = live_session_id
        await session.flush()
    if created or reopened:
        stamp = int(now.timestamp() * 1_000_000)
        await _record_event(
            session, conversation, "service_chat_open", f"svc-open-{conversation.id}-{stamp}"
        )
    return conversation, created


async def _reopen(
    session: AsyncSession, conversation: ServiceConversation, now: dt.datetime
) -> bool:
    """Closed -> open (a conditional UPDATE); True when this call opened it."""
    result = await session.execute(
        update(ServiceConversation)
        .where(
            ServiceConversation.id == conversation.id,
            ServiceConversation.status == ConversationStatus.CLOSED.value,
        )
        .values(status=ConversationStatus.OPEN.value, opened_at=now, closed_at=None,
                closed_by=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    await session.refresh(conversation)
    return getattr(result, "rowcount", 0) == 1


async def send_customer_message(
    *,
    session: AsyncSession,
    shop_id: int,
    conversation_id: int,
    customer_id: int | None,
    text: str,
    client_id: str | None = None,
    live_session_id: int | None = None,
) -> ServiceMessage:
    """The viewer writes; a closed conversation opens again. A repeat of one `client_id`
    returns the first message."""
    conversation = await customer_conversation(
        session=session, shop_id=shop_id, conversation_id=conversation_id, customer_id=customer_id
    )
    if client_id:
        repeat = await _by_client_id(session, conversation, client_id)
        if repeat is not None:
            return repeat
    now = utcnow()
    recent = await session.scalar(
        scoped(ServiceMessage, shop_id, func.count()).where(
            ServiceMessage.conversation_id == conversation.id,
            ServiceMessage.sender == Sender.CUSTOMER.value,
            ServiceMessage.created_at > now - dt.timedelta(seconds=WINDOW_S),
        )
    )
    if int(recent or 0) >= MESSAGES_PER_WINDOW:
        raise RateLimited(
            f"you may send {MESSAGES_PER_WINDOW} messages a minute; an agent will answer "
            f"soon, wait a moment",
            code="rate_limited",
            field="text",
        )
    message = await _add_message(
        session, conversation, Sender.CUSTOMER, text, now,
        client_id=client_id, live_session_id=live_session_id,
    )  # fmt: skip
    if message.id is None:  # the same client_id won a race from another tab
        found = await _by_client_id(session, conversation, client_id or "")
        assert found is not None
        return found
    await _record_event(session, conversation, "service_message", f"svc-msg-{message.id}")
    if conversation.live_session_id is not None:
        send_after_commit(
            session,
            live_session_id=conversation.live_session_id,
            message={
                "type": "service_chat",
                "to": "staff",
                "conversation_id": conversation.id,
                "agent_unread": conversation.agent_unread,
            },
        )
    return message


async def _by_client_id(
    session: AsyncSession, conversation: ServiceConversation, client_id: str
) -> ServiceMessage | None:
    statement = scoped(ServiceMessage, conversation.shop_id).where(
        ServiceMessage.conversation_id == conversation.id, ServiceMessage.client_id == client_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def _add_message(
    session: AsyncSession,
    conversation: ServiceConversation,
    sender: Sender,
    text: str,
    now: dt.datetime,
    *,
    client_id: str | None = None,
    live_session_id: int | None = None,
    staff_id: int | None = None,
) -> ServiceMessage:
    """Store the message and move the conversation's counters in one UPDATE (no lost
    increments when both sides write at once). A client_id already stored gives a message
    without an id (the caller returns the stored one)."""
    text = text.strip()
    if not text:
        raise InvalidInput("write a message first (it is empty)", code="empty", field="text")
    message = ServiceMessage(
        shop_id=conversation.shop_id,
        conversation_id=conversation.id,
        sender=sender.value,
        staff_id=staff_id,
        live_session_id=live_session_id or conversation.live_session_id,
        text=text,
        client_id=client_id,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(message)
            await session.flush()
    except IntegrityError:
        return ServiceMessage(text=text)
    counter = (
        {"agent_unread": ServiceConversation.agent_unread + 1}
        if sender is Sender.CUSTOMER
        else {"customer_unread": ServiceConversation.customer_unread + 1, "last_agent_id": staff_id}
    )
    reopen: dict[str, Any] = {}
    if conversation.status == ConversationStatus.CLOSED.value:
        reopen = {"status": ConversationStatus.OPEN.value, "opened_at": now, "closed_at": None,
                  "closed_by": None}  # fmt: skip
    await session.execute(
        update(ServiceConversation)
        .where(ServiceConversation.id == conversation.id)
        .values(
            **counter,
            **reopen,
            last_message_at=now,
            last_preview=text[:PREVIEW_LENGTH],
            last_sender=sender.value,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(conversation)
    return message


async def notify_customer(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    text: str,
    client_id: str,
    live_session_id: int | None = None,
) -> ServiceMessage:
    """A message from the shop itself (no agent) in the customer's conversation, opened if
    need be: how a lottery winner hears of the prize after leaving the room. The viewer page
    shows it with an unread badge; agents see it in the inbox. Idempotent by `client_id`."""
    conversation, _ = await open_conversation(
        session=session, shop_id=shop_id, customer_id=customer_id, live_session_id=live_session_id
    )
    repeat = await _by_client_id(session, conversation, client_id)
    if repeat is not None:
        return repeat
    message = await _add_message(
        session, conversation, Sender.AGENT, text, utcnow(),
        client_id=client_id, live_session_id=live_session_id,
    )  # fmt: skip
    if message.id is None:  # the same notice won a race
        found = await _by_client_id(session, conversation, client_id)
        assert found is not None
        return found
    await _record_event(session, conversation, "service_notice", f"svc-notice-{message.id}")
    return message


async def mark_read(
    *, session: AsyncSession, conversation: ServiceConversation, reader: Sender, up_to: int
) -> ServiceConversation:
    """The reader has seen the other side's messages up to id `up_to`: their unread count
    becomes what came after it. Reading never moves backwards."""
    other = Sender.AGENT if reader is Sender.CUSTOMER else Sender.CUSTOMER
    newest = await session.scalar(
        scoped(ServiceMessage, conversation.shop_id, func.max(ServiceMessage.id)).where(
            ServiceMessage.conversation_id == conversation.id
        )
    )
    up_to = min(up_to, int(newest or 0))
    mark = (
        ServiceConversation.customer_read_up_to
        if reader is Sender.CUSTOMER
        else ServiceConversation.agent_read_up_to
    )
    unread_column = "customer_unread" if reader is Sender.CUSTOMER else "agent_unread"
    still_unread = (
        scoped(ServiceMessage, conversation.shop_id, func.count())
        .where(
            ServiceMessage.conversation_id == conversation.id,
            ServiceMessage.sender == other.value,
            ServiceMessage.id > up_to,
        )
        .scalar_subquery()
    )
    await session.execute(
        update(ServiceConversation)
        .where(ServiceConversation.id == conversation.id, mark < up_to)
        .values({mark.key: up_to, unread_column: still_unread})
        .execution_options(synchronize_session=False)
    )
    await session.refresh(conversation)
    return conversation


# ----------------------------------------------------------------------------- the agents


async def reply(
    *, session: AsyncSession, actor: Actor, conversation_id: int, text: str
) -> ServiceMessage:
    """An agent answers (a closed conversation opens again); audited."""
    conversation = await get_conversation(
        session=session, shop_id=actor.shop_id, conversation_id=conversation_id
    )
    message = await _add_message(
        session, conversation, Sender.AGENT, text, utcnow(), staff_id=actor.staff_id
    )
    # Answering is reading: what the customer wrote before this reply has been seen.
    await mark_read(
        session=session, conversation=conversation, reader=Sender.AGENT, up_to=message.id
    )
    await record_audit(
        session=session,
        actor=actor,
        action="service.reply",
        target_type="service_conversation",
        target_id=conversation.id,
        details={"message_id": message.id, "customer_id": conversation.customer_id,
                 "length": len(message.text)},
    )  # fmt: skip
    return message


async def close_conversation(
    *, session: AsyncSession, actor: Actor, conversation_id: int
) -> ServiceConversation:
    """Done for now; it opens again when either side writes. Closing twice changes nothing."""
    conversation = await get_conversation(
        session=session, shop_id=actor.shop_id, conversation_id=conversation_id
    )
    now = utcnow()
    result = await session.execute(
        update(ServiceConversation)
        .where(
            ServiceConversation.id == conversation.id,
            ServiceConversation.status == ConversationStatus.OPEN.value,
        )
        .values(status=ConversationStatus.CLOSED.value, closed_at=now, closed_by=actor.staff_id,
                updated_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    await session.refresh(conversation)
    if getattr(result, "rowcount", 0) == 1:
        await record_audit(
            session=session, actor=actor, action="service.close",
            target_type="service_conversation", target_id=conversation.id,
            details={"customer_id": conversation.customer_id},
        )  # fmt: skip
    return conversation


async def reopen_conversation(
    *, session: AsyncSession, actor: Actor, conversation_id: int
) -> ServiceConversation:
    conversation = await get_conversation(
        session=session, shop_id=actor.shop_id, conversation_id=conversation_id
    )
    if await _reopen(session, conversation, utcnow()):
        await record_audit(
            session=session, actor=actor, action="service.reopen",
            target_type="service_conversation", target_id=conversation.id,
            details={"customer_id": conversation.customer_id},
        )  # fmt: skip
    return conversation


async def _record_event(
    session: AsyncSession, conversation: ServiceConversation, kind: str, client_event_id: str
) -> None:
    from liveloop.events import service as events_service

    await events_service.ingest_events(
        session=session,
        shop_id=conversation.shop_id,
        items=[
            {
                "type": kind,
                "customer_id": conversation.customer_id,
                "live_session_id": conversation.live_session_id,
                "properties": {"conversation_id": conversation.id},
                "client_event_id": client_event_id,
            }
        ],
    )
