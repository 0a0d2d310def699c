"""API shapes of the script library: categories, entries, search hits and a filled use."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, field_validator

from liveloop.core.schemas import OutModel, SortOrder, StrictModel

Scope = Literal["shop", "personal"]
MAX_TEXT = 2000


def check_url(value: str) -> str:
    """Images and links open in a customer's chat: absolute http(s) or a path on this site."""
    if not (value.startswith(("https://", "http://")) or value.startswith("/")) or (
        value.startswith("//") or any(c.isspace() for c in value)
    ):
        raise ValueError("must be an http(s):// address or a path starting with /")
    return value


Url = Annotated[str, Field(min_length=1, max_length=500)]


class LinkIn(StrictModel):
    title: str = Field(min_length=1, max_length=40)
    url: Url

    _check_url = field_validator("url")(check_url)


class CategoryIn(StrictModel):
    name: str = Field(min_length=1, max_length=40)
    position: SortOrder = 0


class CategoryPatch(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=40)
    position: SortOrder | None = None


class CategoryOut(OutModel):
    id: int
    name: str
    position: int
    entry_count: int = 0


Keyword = Annotated[str, Field(min_length=1, max_length=20)]


class EntryIn(StrictModel):
    title: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    category_id: int | None = Field(default=None, ge=1)
    scope: Scope = "shop"
    keywords: list[Keyword] = Field(default_factory=list, max_length=20)
    images: list[Url] = Field(default_factory=list, max_length=9)
    links: list[LinkIn] = Field(default_factory=list, max_length=5)

    @field_validator("images")
    @classmethod
    def _check_images(cls, values: list[str]) -> list[str]:
        return [check_url(value) for value in values]


class EntryPatch(StrictModel):
    """Fields left out keep their value; `category_id: null` takes the entry out of its
    category. The scope is fixed at creation (copy the entry to change it)."""

    title: str | None = Field(default=None, min_length=1, max_length=80)
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    category_id: int | None = Field(default=None, ge=1)
    keywords: list[Keyword] | None = Field(default=None, max_length=20)
    images: list[Url] | None = Field(default=None, max_length=9)
    links: list[LinkIn] | None = Field(default=None, max_length=5)

    @field_validator("images")
    @classmethod
    def _check_images(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else [check_url(value) for value in values]


class LinkOut(OutModel):
    title: str
    url: str


class EntryOut(OutModel):
    id: int
    category_id: int | None
    scope: Scope
    title: str
    text: str
    keywords: list[str]
    images: list[str]
    links: list[LinkOut]
    variables: list[str]
    usage_count: int
    last_used_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    # Search words of the question found in the entry (0 when listing without a question).
    matches: int = 0


class UseIn(StrictModel):
    """Fill an entry for the customer in front of the agent and count the use."""

    customer_id: int | None = Field(default=None, ge=1)


class UseOut(OutModel):
    entry_id: int
    text: str  # the entry's text with its variables filled
    message: str  # text and links, ready for a plain-text chat
    images: list[str]
    missing: list[str]  # variables this customer has no value for (a fallback was used)
    usage_count: int


class VariableOut(OutModel):
    name: str
    aliases: list[str]
    label: str
