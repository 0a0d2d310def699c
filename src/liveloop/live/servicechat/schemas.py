"""API shapes of in-room customer service."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TEXT = 1000


class MessageIn(BaseModel):
    """A plain-text message. (Replies from the script library come with the outreach issue:
    the console's script picker fills the reply box, the text still arrives here.)"""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=MAX_TEXT, examples=["这件有 M 码吗？"])
    client_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The page's id for this send: a retried send is stored once",
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        text = value.strip()
        if not text:
            raise ValueError("write a message first (it is empty)")
        return text


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to: int = Field(ge=0, le=2**63 - 1, description="The newest message id seen")


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sender: Literal["customer", "agent"]
    text: str
    created_at: dt.datetime
    live_session_id: int | None


class AgentMessageOut(MessageOut):
    staff_id: int | None
    staff_name: str = ""


class ViewerConversationOut(BaseModel):
    """The viewer's thread with the shop: no agent names, no customer id."""

    id: int
    status: str
    unread: int
    messages: list[MessageOut]


class ConversationOut(BaseModel):
    """A conversation in the agents' inbox."""

    id: int
    customer_id: int
    customer_name: str
    live_session_id: int | None
    live_session_title: str = ""
    status: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    last_message_at: dt.datetime | None
    last_preview: str
    last_sender: str
    agent_unread: int
    customer_unread: int


class CustomerCardOut(BaseModel):
    """Who is writing, as the agent may see them: phone and e-mail masked."""

    id: int
    name: str
    identities: list[dict[str, str]]
    tags: list[str]
    orders: list[dict[str, object]]
    order_count: int
    url: str


class ConversationDetailOut(ConversationOut):
    messages: list[AgentMessageOut]
    customer: CustomerCardOut | None = None
