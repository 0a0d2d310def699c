"""Running a live room: announcement, pinned message, product push (上链接) and the comments
switch. Each updates the session row (what a later viewer's snapshot shows) and sends its room
message after commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.catalog.models import ProductStatus
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.live.lineups import lineup_ids, product_card, replace_lineup
from liveloop.live.models import LiveSession
from liveloop.live.outbox import send_after_commit
from liveloop.live.service import check_may_run, check_open, get_live_session
from liveloop.shops.service import Actor, record_audit

# ------------------------------------------------------------------------- room controls


async def _open_room(session: AsyncSession, actor: Actor, live_session_id: int) -> LiveSession:
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_may_run(actor, live_session)
    check_open(live_session, "change its room")
    return live_session


async def _room_audit(
    session: AsyncSession, actor: Actor, live_session: LiveSession, action: str, **details: Any
) -> None:
    await record_audit(
        session=session,
        actor=actor,
        action=f"live.{action}",
        target_type="live_session",
        target_id=live_session.id,
        details=details,
    )


async def set_announcement(
    *, session: AsyncSession, actor: Actor, live_session_id: int, text: str
) -> LiveSession:
    live_session = await _open_room(session, actor, live_session_id)
    live_session.announcement = text.strip()[:500]
    await session.flush()
    await _room_audit(session, actor, live_session, "announcement", text=live_session.announcement)
    send_after_commit(
        session,
        live_session_id=live_session.id,
        message={"type": "announcement", "text": live_session.announcement},
    )
    return live_session


def _staff_name(actor: Actor) -> str:
    return actor.label.split(" <", 1)[0]  # the staff label is "Name <email>": no e-mail shown


async def set_pinned(
    *, session: AsyncSession, actor: Actor, live_session_id: int, text: str
) -> LiveSession:
    live_session = await _open_room(session, actor, live_session_id)
    text = text.strip()[:200]
    live_session.pinned = {"text": text, "by": _staff_name(actor)} if text else None
    await session.flush()
    await _room_audit(session, actor, live_session, "pinned", text=text)
    send_after_commit(
        session,
        live_session_id=live_session.id,
        message={"type": "pinned", "message": live_session.pinned},
    )
    return live_session


async def push_product(
    *, session: AsyncSession, actor: Actor, live_session_id: int, product_id: int
) -> dict[str, Any]:
    """上链接: show a product's card to everyone in the room (added to the line-up if missing).
    Returns the card sent."""
    live_session = await _open_room(session, actor, live_session_id)
    try:
        product = await catalog_service.get_product(
            session=session, shop_id=actor.shop_id, product_id=product_id
        )
    except NotFound:
        raise InvalidInput(
            f"product {product_id} was not found in this shop",
            code="product_not_found",
            field="product_id",
        ) from None
    if product.status != ProductStatus.ON_SHELF.value:
        raise Conflict(
            f"product {product_id} ({product.name}) is off the shelf; put it on the shelf first",
            code="product_off_shelf",
            field="product_id",
        )
    if not product.active_skus:
        raise Conflict(
            f"product {product_id} ({product.name}) has no active SKU to sell",
            code="product_without_skus",
            field="product_id",
        )
    ids = await lineup_ids(session=session, live_session=live_session)
    if product_id not in ids:
        await replace_lineup(session, live_session, [*ids, product_id])
    live_session.pushed_product_id = product_id
    await session.flush()
    await _room_audit(session, actor, live_session, "push", product_id=product_id)
    card = product_card(product)
    send_after_commit(
        session, live_session_id=live_session.id, message={"type": "product_push", "product": card}
    )
    return card


async def unpush_product(
    *, session: AsyncSession, actor: Actor, live_session_id: int
) -> LiveSession:
    live_session = await _open_room(session, actor, live_session_id)
    product_id = live_session.pushed_product_id
    if product_id is None:
        raise Conflict(
            f"live session {live_session_id} has no product pushed",
            code="nothing_pushed",
            field="product_id",
        )
    live_session.pushed_product_id = None
    await session.flush()
    await _room_audit(session, actor, live_session, "unpush", product_id=product_id)
    send_after_commit(
        session,
        live_session_id=live_session.id,
        message={"type": "product_unpush", "product_id": product_id},
    )
    return live_session


async def set_comments_enabled(
    *, session: AsyncSession, actor: Actor, live_session_id: int, enabled: bool
) -> LiveSession:
    live_session = await _open_room(session, actor, live_session_id)
    live_session.comments_enabled = enabled
    await session.flush()
    await _room_audit(session, actor, live_session, "comments", enabled=enabled)
    send_after_commit(
        session,
        live_session_id=live_session.id,
        message={
            "type": "room_state",
            "status": live_session.status,
            "comments_enabled": enabled,
        },
    )
    return live_session
