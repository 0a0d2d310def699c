"""Viewer routes of in-room customer service: open my conversation with the shop, read it
(polled every few seconds while the chat is open), write, mark read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from liveloop.commerce.viewer_api import CurrentBuyer
from liveloop.core.deps import DbSession
from liveloop.live.servicechat import service
from liveloop.live.servicechat.models import Sender, ServiceConversation
from liveloop.live.servicechat.schemas import (
    MessageIn,
    MessageOut,
    ReadIn,
    ViewerConversationOut,
)

router = APIRouter(prefix="/api/v1/public/service", tags=["customer service (viewer)"])


async def thread(
    session: DbSession, conversation: ServiceConversation, after: int = 0
) -> ViewerConversationOut:
    messages = await service.list_messages(
        session=session,
        shop_id=conversation.shop_id,
        conversation_id=conversation.id,
        after=after,
    )
    return ViewerConversationOut(
        id=conversation.id,
        status=conversation.status,
        unread=conversation.customer_unread,
        messages=[MessageOut.model_validate(m) for m in messages],
    )


@router.post("/conversations", response_model=ViewerConversationOut)
async def open_mine(session: DbSession, claims: CurrentBuyer, response: Response) -> Any:
    """Open (201) or return (200) my conversation with the shop, tied to this live room;
    a closed one opens again. 401 customer_required: verify a phone number first."""
    found, created = await service.open_conversation(
        session=session,
        shop_id=claims.shop_id,
        customer_id=claims.customer_id,
        live_session_id=claims.live_session_id,
    )
    response.status_code = 201 if created else 200
    return await thread(session, found)


@router.get("/conversations/mine")
async def find_mine(session: DbSession, claims: CurrentBuyer) -> dict[str, Any]:
    """Whether I have a conversation with the shop, and how many replies I have not read
    (for the badge on the page); nothing is opened. A guest has none."""
    if claims.customer_id is None:
        return {"id": None, "status": None, "unread": 0}
    found = await service.conversation_of_customer(
        session=session, shop_id=claims.shop_id, customer_id=claims.customer_id
    )
    if found is None:
        return {"id": None, "status": None, "unread": 0}
    return {"id": found.id, "status": found.status, "unread": found.customer_unread}


@router.get("/conversations/{conversation_id}", response_model=ViewerConversationOut)
async def read_mine(
    conversation_id: int,
    session: DbSession,
    claims: CurrentBuyer,
    after: Annotated[int, Query(ge=0, description="Only messages after this id")] = 0,
) -> Any:
    """The latest 50 messages, or those after `after` (what the page polls for). Another
    customer's conversation is 404."""
    found = await service.customer_conversation(
        session=session,
        shop_id=claims.shop_id,
        conversation_id=conversation_id,
        customer_id=claims.customer_id,
    )
    return await thread(session, found, after)


@router.post(
    "/conversations/{conversation_id}/messages", response_model=MessageOut, status_code=201
)
async def write(
    conversation_id: int, data: MessageIn, session: DbSession, claims: CurrentBuyer
) -> Any:
    """Plain text up to 1,000 characters; 429 rate_limited past 10 a minute."""
    return await service.send_customer_message(
        session=session,
        shop_id=claims.shop_id,
        conversation_id=conversation_id,
        customer_id=claims.customer_id,
        text=data.text,
        client_id=data.client_id,
        live_session_id=claims.live_session_id,
    )


@router.post("/conversations/{conversation_id}/read", response_model=ViewerConversationOut)
async def mark_read(
    conversation_id: int, data: ReadIn, session: DbSession, claims: CurrentBuyer
) -> Any:
    found = await service.customer_conversation(
        session=session,
        shop_id=claims.shop_id,
        conversation_id=conversation_id,
        customer_id=claims.customer_id,
    )
    await service.mark_read(
        session=session, conversation=found, reader=Sender.CUSTOMER, up_to=data.up_to
    )
    return ViewerConversationOut(
        id=found.id, status=found.status, unread=found.customer_unread, messages=[]
    )
