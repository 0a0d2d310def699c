"""Agents' JSON routes of in-room customer service: the inbox, a thread with the customer's
profile and orders, reply, read, close and reopen.

Answering customers is writing to them: staff with `customers.write` (owner, operator,
service agent)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from liveloop.core.deps import DbSession
from liveloop.core.schemas import PageOut
from liveloop.live.servicechat import service
from liveloop.live.servicechat.models import Sender, ServiceConversation
from liveloop.live.servicechat.schemas import (
    AgentMessageOut,
    ConversationDetailOut,
    ConversationOut,
    MessageIn,
    ReadIn,
)
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(
    prefix="/api/v1/service", tags=["customer service"], dependencies=[Depends(current_actor)]
)

Agent = Annotated[Actor, requires(P.CUSTOMERS_WRITE)]


async def detail(
    session: DbSession, actor: Actor, conversation: ServiceConversation, after: int = 0
) -> ConversationDetailOut:
    (row,) = await service.describe_conversations(session, actor.shop_id, [conversation])
    messages = await service.list_messages(
        session=session, shop_id=actor.shop_id, conversation_id=conversation.id, after=after
    )
    names = await service.staff_names(session, actor.shop_id, messages)
    card = await service.customer_card(
        session=session, shop_id=actor.shop_id, customer_id=conversation.customer_id
    )
    return ConversationDetailOut(
        **row,
        messages=[
            AgentMessageOut.model_validate(m).model_copy(
                update={"staff_name": names.get(m.staff_id or 0, "")}
            )
            for m in messages
        ],
        customer=card,
    )


@router.get("/conversations", response_model=PageOut[ConversationOut])
async def inbox(
    session: DbSession,
    actor: Agent,
    status: Annotated[str | None, Query(description="open (default), closed, or all")] = "open",
    live_session_id: Annotated[int | None, Query(ge=1)] = None,
    unread: bool = False,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 30,
) -> Any:
    """Waiting on an answer first (unread customer messages), then the latest."""
    result = await service.list_conversations(
        session=session,
        shop_id=actor.shop_id,
        status=None if status == "all" else status,
        live_session_id=live_session_id,
        unread_only=unread,
        page=page,
        per_page=per_page,
    )
    rows = await service.describe_conversations(session, actor.shop_id, list(result.items))
    return {
        "items": rows, "total": result.total, "page": result.page,
        "per_page": result.per_page, "pages": result.pages,
    }  # fmt: skip


@router.get("/conversations/{conversation_id}", response_model=ConversationDetailOut)
async def conversation(
    conversation_id: int,
    session: DbSession,
    actor: Agent,
    after: Annotated[int, Query(ge=0)] = 0,
) -> ConversationDetailOut:
    """The thread (the latest 50 messages, or those after `after`), the customer's profile
    (phone masked) and latest orders."""
    found = await service.get_conversation(
        session=session, shop_id=actor.shop_id, conversation_id=conversation_id
    )
    return await detail(session, actor, found, after)


@router.post(
    "/conversations/{conversation_id}/messages", response_model=AgentMessageOut, status_code=201
)
async def reply(
    conversation_id: int, data: MessageIn, session: DbSession, actor: Agent
) -> AgentMessageOut:
    message = await service.reply(
        session=session, actor=actor, conversation_id=conversation_id, text=data.text
    )
    names = await service.staff_names(session, actor.shop_id, [message])
    out = AgentMessageOut.model_validate(message)
    return out.model_copy(update={"staff_name": names.get(message.staff_id or 0, "")})


@router.post("/conversations/{conversation_id}/read", response_model=ConversationOut)
async def read(conversation_id: int, data: ReadIn, session: DbSession, actor: Agent) -> Any:
    found = await service.get_conversation(
        session=session, shop_id=actor.shop_id, conversation_id=conversation_id
    )
    await service.mark_read(
        session=session, conversation=found, reader=Sender.AGENT, up_to=data.up_to
    )
    return (await service.describe_conversations(session, actor.shop_id, [found]))[0]


@router.post("/conversations/{conversation_id}/close", response_model=ConversationOut)
async def close(conversation_id: int, session: DbSession, actor: Agent) -> Any:
    found = await service.close_conversation(
        session=session, actor=actor, conversation_id=conversation_id
    )
    return (await service.describe_conversations(session, actor.shop_id, [found]))[0]


@router.post("/conversations/{conversation_id}/reopen", response_model=ConversationOut)
async def reopen(conversation_id: int, session: DbSession, actor: Agent) -> Any:
    found = await service.reopen_conversation(
        session=session, actor=actor, conversation_id=conversation_id
    )
    return (await service.describe_conversations(session, actor.shop_id, [found]))[0]
