"""A customer's timeline: its events and those of every customer merged into it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Page, paginate, scoped
from liveloop.customers import merge as merge_service
from liveloop.customers import service as customers_service


def _event_model() -> Any:
    """The events domain's table; None while that domain has not landed."""
    try:
        from liveloop.events.models import Event
    except ImportError:
        return None
    return Event


async def customer_timeline(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    types: list[str] | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Any]:
    """Events of this customer and of the customers merged into it, newest first.

    Events are never rewritten by a merge: they keep naming the customer they happened to.
    """
    await customers_service.get_customer(session=session, shop_id=shop_id, customer_id=customer_id)
    event = _event_model()
    if event is None:
        return Page(items=[], total=0, page=page, per_page=per_page)
    ids = await merge_service.merged_customer_ids(
        session=session, shop_id=shop_id, customer_id=customer_id
    )
    statement = (
        scoped(event, shop_id)
        .where(event.customer_id.in_(ids))
        .order_by(event.occurred_at.desc(), event.id.desc())
    )
    if types:
        statement = statement.where(event.type.in_(types))
    return await paginate(session, statement, page=page, per_page=per_page)
