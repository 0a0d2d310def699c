"""Fixtures shared by the outreach tests."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.outreach.consent import service as consent_service


async def without_quiet_hours(session: AsyncSession, shop_id: int) -> None:
    """Give the shop no quiet hours. Marketing sent "now" is otherwise held until 08:00 shop
    time whenever the suite runs between 22:00 and 08:00, and a test about sending would pass
    or fail by the hour of the day."""
    await consent_service.save_policy(
        session=session, shop_id=shop_id, data={"quiet_start": None, "quiet_end": None}
    )


@pytest.fixture
async def any_hour(session, shop) -> None:  # type: ignore[no-untyped-def]
    """The `shop` sends marketing at any hour (see without_quiet_hours)."""
    await without_quiet_hours(session, shop.id)
