"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request = one unit of work: commit when the route returns, roll back if it raises."""
    async for session in request.app.state.database.unit_of_work():
        yield session


DbSession = Annotated[AsyncSession, Depends(get_session)]
