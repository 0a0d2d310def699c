"""API shapes of mic requests."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

MAX_GUESTS = 6  # seats a media server's co-streaming layout usually offers


class MicSettingsIn(BaseModel):
    """Open or close the mic of a live room, and how many guests it takes at once."""

    model_config = ConfigDict(extra="forbid")

    is_open: bool = Field(description="True: viewers may request; False: closes the mic")
    max_guests: int = Field(1, ge=1, le=MAX_GUESTS, description="Guests on mic at once")


class MicRequestIn(BaseModel):
    """A viewer asks to go on mic."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=100, description="What they want to talk about")


class MicDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=200, description="Shown to the viewer")


class MicRoomOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    live_session_id: int
    is_open: bool
    max_guests: int
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None


class MicRequestOut(BaseModel):
    """A request as the console sees it (the customer's name in clear, no phone)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    live_session_id: int
    customer_id: int
    name: str = ""
    status: str
    note: str
    seat: int | None
    requested_at: dt.datetime
    decided_at: dt.datetime | None
    accepted_at: dt.datetime | None
    ended_at: dt.datetime | None
    ended_by: str
    reason: str
    wait_seconds: int | None
    on_mic_seconds: int | None


class MicConsoleOut(BaseModel):
    mic: MicRoomOut
    queue: list[MicRequestOut]  # waiting, oldest first
    guests: list[MicRequestOut]  # on mic, by seat
    history: list[MicRequestOut]  # finished, newest first


class MyMicOut(BaseModel):
    """Where the viewer stands: their open (else latest) request of this session."""

    id: int | None = None
    status: str | None = None
    seat: int | None = None
    position: int | None = None  # place in the queue while waiting (1 = next)
    reason: str = ""
    requested_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
