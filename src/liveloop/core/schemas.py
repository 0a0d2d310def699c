"""Shapes shared by every domain's API: strict input models and the page envelope."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

T = TypeVar("T")


# The widest integer a column holds (BIGINT); a larger one can only be a mistake.
MAX_INT = 2**63 - 1


def parse_id(text: str | None) -> int | None:
    """A form field holding an id or count: ASCII digits that fit a BIGINT, else None.
    (`str.isdigit()` alone accepts '²', which `int()` then refuses.)"""
    value = (text or "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > MAX_INT:
        return None
    return int(value)


def check_storable(value: Any) -> Any:
    """Refuse what no column can hold (it would fail deep in the driver as a 500): integers
    beyond BIGINT, and text with a NUL character, which PostgreSQL stores in neither text nor
    JSONB (nested lists and objects included)."""
    values = value if isinstance(value, list | tuple | set) else (value,)
    if any(isinstance(v, int) and not -MAX_INT <= v <= MAX_INT for v in values):
        raise ValueError(f"a number must lie between {-MAX_INT} and {MAX_INT}")
    if _has_nul(value):
        raise ValueError("text must not contain a NUL character (\\u0000)")
    return value


def _has_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 32:
        return False
    if isinstance(value, dict):
        return any(_has_nul(k, depth + 1) or _has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return any(_has_nul(v, depth + 1) for v in value)
    return False


# Display order (sort, position): INTEGER columns; a generous range that never overflows them.
SortOrder = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]


class StrictModel(BaseModel):
    """Request bodies: unknown fields are refused (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _check_storable = field_validator("*", mode="after")(check_storable)


class OutModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    pages: int

    @classmethod
    def of(cls, page: Any, item_model: type[BaseModel]) -> PageOut[Any]:
        """Build the envelope from a `core.database.Page` of ORM rows."""
        return cls(
            items=[item_model.model_validate(item) for item in page.items],
            total=page.total,
            page=page.page,
            per_page=page.per_page,
            pages=page.pages,
        )


class PageParams(BaseModel):
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=500)
