"""API shapes of customers, identities, tags, merges, imports and the customer filter."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from liveloop.core.schemas import OutModel, SortOrder, StrictModel
from liveloop.customers.models import CHANNELS, GENDERS, STATUSES

Channel = Literal[
    "wecom", "wechat_openid", "wechat_unionid", "douyin", "miniprogram", "phone", "email"
]
assert set(Channel.__args__) == set(CHANNELS)  # type: ignore[attr-defined]
Gender = Literal["male", "female", "other"]
assert set(Gender.__args__) == set(GENDERS)  # type: ignore[attr-defined]
Status = Literal["active", "merged", "deleted"]
assert set(Status.__args__) == set(STATUSES)  # type: ignore[attr-defined]

_COLOR = r"^#[0-9a-fA-F]{6}$"


class IdentityIn(StrictModel):
    channel: Channel
    value: str = Field(min_length=1, max_length=254)


class CustomerProfile(StrictModel):
    """Profile fields a person edits; every field optional so PATCH can send only what changes."""

    display_name: str | None = Field(None, max_length=100)
    gender: Gender | None = None
    birthday: dt.date | None = None
    province: str | None = Field(None, max_length=32)
    city: str | None = Field(None, max_length=32)
    source_channel: str | None = Field(None, max_length=32)
    last_active_at: dt.datetime | None = None
    consent: dict[str, bool] | None = None
    notes: str | None = Field(None, max_length=5000)

    @field_validator("display_name", "province", "city", "source_channel", "notes")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("contains a NUL character; remove it")
        return value

    @field_validator("last_active_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2024-05-01T20:00:00+08:00")
        return value


class CustomerCreate(CustomerProfile):
    identities: list[IdentityIn] = Field(default_factory=list, max_length=50)
    tag_ids: list[int] = Field(default_factory=list, max_length=200)


class CustomerUpdate(CustomerProfile):
    """PATCH body: the profile fields, all optional; only those sent change (its own name so
    the OpenAPI schema and later update-only fields have a home)."""


class CustomerFilter(StrictModel):
    """One filter for search, export and bulk tagging. Naive times are in the shop's time zone."""

    q: str | None = Field(None, max_length=100, description="name contains")
    phone: str | None = Field(None, max_length=40, description="exact phone number")
    email: str | None = Field(None, max_length=254, description="exact e-mail address")
    tag_ids: list[int] = Field(default_factory=list, max_length=50)
    tag_match: Literal["all", "any"] = "all"
    channel: Channel | None = Field(None, description="has an identity on this channel")
    source: str | None = Field(None, max_length=32, description="source channel")
    status: Status = "active"
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    active_from: dt.datetime | None = None
    active_to: dt.datetime | None = None

    def described(self) -> dict[str, Any]:
        """The filter as written to the audit log (phone/e-mail replaced by a marker)."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        for name in ("phone", "email"):
            if name in data:
                data[name] = "(given)"
        return data


class IdentityOut(OutModel):
    id: int
    channel: str
    value: str = Field(validation_alias="display_value")
    created_at: dt.datetime


class IdentityRevealed(StrictModel):
    id: int
    channel: str
    value: str


class CustomerTagOut(OutModel):
    tag_id: int
    name: str
    color: str | None
    source: str
    tagged_at: dt.datetime
    tagged_by: str | None


class CustomerOut(OutModel):
    id: int
    display_name: str | None
    gender: str | None
    birthday: dt.date | None
    province: str | None
    city: str | None
    source_channel: str | None
    first_seen_at: dt.datetime | None
    last_active_at: dt.datetime | None
    consent: dict[str, Any]
    notes: str | None
    status: str
    merged_into_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    phone: str | None = Field(None, description="first phone, masked")
    email: str | None = Field(None, description="first e-mail, masked")
    identities: list[IdentityOut]
    tags: list[CustomerTagOut]

    @model_validator(mode="before")
    @classmethod
    def _from_customer(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        data = {name: getattr(value, name) for name in cls.model_fields if hasattr(value, name)}
        identities = list(value.identities)
        data["identities"] = identities
        data["phone"] = next((i.masked for i in identities if i.channel == "phone"), None)
        data["email"] = next((i.masked for i in identities if i.channel == "email"), None)
        data["tags"] = [
            {
                "tag_id": link.tag_id,
                "name": link.tag.name,
                "color": link.tag.color,
                "source": link.source,
                "tagged_at": link.tagged_at,
                "tagged_by": link.tagged_by,
            }
            for link in value.tag_links
        ]
        return data


class CustomerPii(StrictModel):
    customer_id: int
    identities: list[IdentityRevealed]


class TagGroupIn(StrictModel):
    name: str = Field(min_length=1, max_length=50)
    color: str | None = Field(None, pattern=_COLOR)
    position: SortOrder = 0


class TagGroupUpdate(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=50)
    color: str | None = Field(None, pattern=_COLOR)
    position: SortOrder | None = None


class TagGroupOut(OutModel):
    id: int
    name: str
    color: str | None
    position: int


class TagIn(StrictModel):
    name: str = Field(min_length=1, max_length=50)
    color: str | None = Field(None, pattern=_COLOR)
    group_id: int | None = None


class TagUpdate(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=50)
    color: str | None = Field(None, pattern=_COLOR)
    group_id: int | None = None


class TagOut(OutModel):
    id: int
    name: str
    color: str | None
    group_id: int | None


class BulkTagIn(StrictModel):
    """Tag (or untag) either the listed customers or every customer matching the filter."""

    tag_ids: list[int] = Field(min_length=1, max_length=50)
    customer_ids: list[int] | None = Field(None, max_length=10_000)
    filter: CustomerFilter | None = None
    action: Literal["tag", "untag"] = "tag"

    @model_validator(mode="after")
    def _one_target(self) -> BulkTagIn:
        if (self.customer_ids is None) == (self.filter is None):
            raise ValueError("give either customer_ids or filter")
        return self


class BulkTagOut(StrictModel):
    action: str
    tag_ids: list[int]
    customers: int
    changed: int


class MergeIn(StrictModel):
    source_id: int = Field(description="the customer merged into this one")


class MergeOut(OutModel):
    id: int
    target_id: int
    source_id: int
    merged_at: dt.datetime
    merged_by: str | None
    undone_at: dt.datetime | None
    undone_by: str | None
    moved_identities: int = 0
    added_tags: int = 0

    @model_validator(mode="before")
    @classmethod
    def _counts(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        data = {name: getattr(value, name) for name in cls.model_fields if hasattr(value, name)}
        snapshot = value.snapshot or {}
        data["moved_identities"] = len(snapshot.get("moved_identity_ids", []))
        data["added_tags"] = len(snapshot.get("added_tag_ids", []))
        return data


class TimelineEntry(StrictModel):
    id: int
    type: str
    customer_id: int | None
    occurred_at: dt.datetime
    live_session_id: int | None = None
    product_id: int | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class ImportRowError(StrictModel):
    line: int
    field: str | None
    message: str


class ImportResult(StrictModel):
    rows: int
    created: int
    updated: int
    duplicates: int = Field(description="rows that matched a customer seen earlier in the file")
    failed: int
    ignored_columns: list[str]
    errors: list[ImportRowError]
