"""API shapes of live sessions, reservations, entry links, viewer tokens and moderation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from liveloop.core.schemas import OutModel, StrictModel
from liveloop.customers.phone_codes.schemas import PhoneCodeValue
from liveloop.live.models import EntryChannel, LiveStatus, WordAction

MAX_LINEUP = 100
DeviceId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=8, max_length=64, pattern=r"^[\w\-.:]+$"),
]
LinkCode = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^[\w\-]*$")
]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give the time with its zone, e.g. 2026-11-24T20:00:00+08:00")
    return value.astimezone(dt.UTC) if value is not None else None


AwareTime = Annotated[dt.datetime, AfterValidator(_aware)]


def _http_url(value: str) -> str:
    if value and not value.startswith(("https://", "http://", "/")):
        raise ValueError("the playback URL must start with https://, http:// or /")
    return value


HlsUrl = Annotated[str, StringConstraints(max_length=500), AfterValidator(_http_url)]


class LiveSessionCreate(StrictModel):
    title: str = Field(min_length=1, max_length=200)
    anchor_id: int | None = Field(None, description="The staff member who presents.")
    planned_start: AwareTime
    planned_end: AwareTime | None = None
    hls_url: HlsUrl = ""
    notice: str = Field("", max_length=2000, description="Room notice shown under the video.")
    product_ids: list[int] = Field(default_factory=list, max_length=MAX_LINEUP)

    @model_validator(mode="after")
    def _end_after_start(self) -> LiveSessionCreate:
        if self.planned_end is not None and self.planned_end <= self.planned_start:
            raise ValueError("planned_end must come after planned_start")
        return self


class LiveSessionUpdate(StrictModel):
    """Only the fields sent change."""

    title: str | None = Field(None, min_length=1, max_length=200)
    anchor_id: int | None = None
    planned_start: AwareTime | None = None
    planned_end: AwareTime | None = None
    hls_url: HlsUrl | None = None
    notice: str | None = Field(None, max_length=2000)


class Lineup(StrictModel):
    product_ids: list[int] = Field(
        max_length=MAX_LINEUP, description="The whole line-up, in order."
    )


class LiveSessionOut(OutModel):
    id: int
    code: str
    title: str
    anchor_id: int | None
    cover_url: str | None = None
    hls_url: str
    notice: str
    planned_start: dt.datetime
    planned_end: dt.datetime | None
    status: LiveStatus
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    comments_enabled: bool
    pushed_product_id: int | None
    announcement: str
    pinned: dict[str, Any] | None
    peak_viewers: int
    total_viewers: int
    like_total: int
    product_ids: list[int] = Field(default_factory=list)
    created_at: dt.datetime
    updated_at: dt.datetime


class Announcement(StrictModel):
    text: str = Field("", max_length=500, description='"" clears the announcement.')


class Pinned(StrictModel):
    text: str = Field("", max_length=200, description='"" unpins.')


class ProductPush(StrictModel):
    product_id: int


class CommentsSwitch(StrictModel):
    enabled: bool


# ------------------------------------------------------------------------------- audience


class ReservationCreate(StrictModel):
    customer_id: int
    source_code: LinkCode = ""


class ReservationOut(OutModel):
    id: int
    live_session_id: int
    customer_id: int
    customer_name: str = ""
    source_code: str
    created_at: dt.datetime
    reminded_at: dt.datetime | None


class EntryLinkCreate(StrictModel):
    channel: EntryChannel
    label: str = Field("", max_length=100)
    staff_id: int | None = None
    customer_id: int | None = Field(None, description="The KOL/KOC customer behind the link.")


class EntryLinkOut(OutModel):
    id: int
    live_session_id: int
    code: str
    channel: EntryChannel
    label: str
    staff_id: int | None
    customer_id: int | None
    url: str = ""
    created_at: dt.datetime


class SharerOut(StrictModel):
    customer_id: int | None
    name: str
    viewers: int


class Identity(StrictModel):
    channel: str = Field(min_length=1, max_length=32)
    value: str = Field(min_length=1, max_length=128)


class ViewerTokenRequest(StrictModel):
    """Exactly one of customer_id, identity, device_id says who watches."""

    customer_id: int | None = None
    identity: Identity | None = None
    device_id: DeviceId | None = None
    nickname: str | None = Field(None, max_length=20)
    source_code: LinkCode = ""
    share_code: LinkCode = ""

    @model_validator(mode="after")
    def _one_viewer(self) -> ViewerTokenRequest:
        given = [self.customer_id is not None, self.identity is not None, bool(self.device_id)]
        if sum(given) != 1:
            raise ValueError("give exactly one of customer_id, identity or device_id")
        return self


class ViewerTokenOut(StrictModel):
    token: str
    expires_in: int
    live_session_id: int
    viewer_key: str
    name: str
    role: str
    ws_url: str


# ----------------------------------------------------------------------------- moderation


class RestrictionCreate(StrictModel):
    customer_id: int | None = None
    device_id: str = Field("", max_length=64)
    minutes: int | None = Field(None, ge=1, le=366 * 24 * 60, description="None: until lifted.")
    shop_wide: bool = Field(False, description="Every session of the shop, not only this one.")
    reason: str = Field("", max_length=200)


class KickCreate(StrictModel):
    customer_id: int | None = None
    device_id: str = Field("", max_length=64)
    reason: str = Field("", max_length=200)


class RestrictionOut(OutModel):
    id: int
    live_session_id: int | None
    kind: str
    customer_id: int | None
    device_id: str
    until: dt.datetime | None
    reason: str
    created_by_id: int | None
    created_at: dt.datetime


class CommentDelete(StrictModel):
    comment_id: str = Field(min_length=1, max_length=64)
    text: str = Field("", max_length=500, description="The comment's text, for the record.")


class WordsCreate(StrictModel):
    words: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    ] = Field(min_length=1, max_length=1000)
    action: WordAction = WordAction.MASK


class WordUpdate(StrictModel):
    action: WordAction


class WordOut(OutModel):
    id: int
    word: str
    action: WordAction
    created_at: dt.datetime


# --------------------------------------------------------------------------------- public


class PublicTokenRequest(StrictModel):
    device_id: DeviceId
    nickname: str | None = Field(None, max_length=20)
    src: LinkCode = ""
    share: LinkCode = ""


class PublicTokenRefreshRequest(PublicTokenRequest):
    token: str = Field(
        min_length=1, max_length=4000, description="A customer's viewer token this page kept"
    )


class PublicReservationRequest(StrictModel):
    phone: str | None = Field(None, max_length=32, description="Needed when the viewer is a guest.")
    phone_code: PhoneCodeValue | None = Field(
        None, description="The code texted to `phone` (a guest proves the phone)"
    )


class ShareOut(StrictModel):
    code: str
    url: str
