"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import OpenSession
from liveloop.core.errors import InvalidInput
from liveloop.core.schemas import MAX_INT, parse_id


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request = one unit of work: commit when the route returns, roll back if it raises."""
    async with request.app.state.database.unit_of_work() as session:
        yield session


# scope="function": the commit runs when the route function returns, before the response is
# built, so a failed commit is an error response and never a 200 for lost work.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_session_opener(request: Request) -> OpenSession:
    """For work that outlives the route function (a streamed CSV): it opens its own unit of
    work when it runs, because the request's session has been committed and closed by then."""
    opener: OpenSession = request.app.state.database.unit_of_work
    return opener


SessionOpener = Annotated[OpenSession, Depends(get_session_opener)]


def _int_out_of_range(text: str) -> bool:
    digits = text.removeprefix("-")
    return digits.isascii() and digits.isdigit() and parse_id(digits) is None


async def check_number_ranges(request: Request) -> None:
    """Every route: an id or number in the path or query that no column can hold is a 422
    naming the parameter, not an overflow deep in the database driver."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if isinstance(value, str) and _int_out_of_range(value):
            raise InvalidInput(
                f"{name} {value[:24]}… is out of range (at most {MAX_INT})",
                code="number_out_of_range",
                field=name,
            )
