"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import OpenSession


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
