"""The promotion cards a live room shows now (coupon, flash sale, group buy), so that a viewer
who joins after a card was pushed finds it in the snapshot (docs/live-protocol.md §4).

Each process keeps its rooms' cards in memory, current with the control messages that pass
through the room (the same messages, in the same sequence, in every process). A room opened
later in a process starts from what the database knows: the session's active flash sale and
its newest open group buy; a coupon push is not recorded anywhere, so it shows again only
when pushed again (or on a process that had the room open at the time).
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger(__name__)

KINDS = ("coupon", "flash_sale", "group_buy")
# Interaction tools (docs/live-protocol.md "Interaction tools"): a message `{"type": T, "card":
# {...}}` replaces the room's card of kind T; `"card": null` takes it down. A card stays in the
# snapshot until its `show_until` (else `ends_at`) passes, so a joining viewer sees a lottery's
# winners or a closed poll's results for a while after the end.
TOOL_TYPES = ("lottery", "red_packet", "poll", "quiz", "qa", "welfare", "mic")
# The module of each tool that knows its current card, for a room opening in a process: it has
# `async def current_room_card(*, session, shop_id, live_session_id) -> dict | None`.
TOOL_CARD_MODULES = {
    "lottery": "liveloop.live.lottery.service",
    "red_packet": "liveloop.live.redpackets.service",
    "poll": "liveloop.live.polls.service",
    "quiz": "liveloop.live.polls.quiz",
    "qa": "liveloop.live.polls.questions",
    "welfare": "liveloop.live.welfare.service",
    "mic": "liveloop.live.mic.service",
}
# The room messages that change the cards (all control messages: never dropped).
MESSAGE_TYPES = frozenset(
    {
        "coupon_push",
        "flash_sale",
        "flash_stock",
        "group_buy_push",
        "group_buy",
        "promotion_withdraw",
        *TOOL_TYPES,
    }
)
MAX_OPEN_GROUPS = 5  # a phone shows a few groups to join; more would push the danmaku away
FINISHED_FLASH_STATES = ("stopped", "ended")


def _parse(moment: Any) -> dt.datetime | None:
    if not moment:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(moment))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _past(moment: Any, now: dt.datetime) -> bool:
    parsed = _parse(moment)
    return parsed is not None and parsed <= now


def is_past(moment: Any) -> bool:
    """Whether an ISO time of a card (its ends_at, show_until) has passed."""
    return _past(moment, dt.datetime.now(dt.UTC))


class RoomPromotions:
    """The current cards of one room, by kind; `None` where nothing is on show."""

    def __init__(self, cards: dict[str, dict[str, Any] | None] | None = None) -> None:
        self.cards: dict[str, dict[str, Any] | None] = dict.fromkeys((*KINDS, *TOOL_TYPES))
        for kind, card in (cards or {}).items():
            if kind in self.cards:
                self.cards[kind] = card

    def apply(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind in TOOL_TYPES:
            card = msg.get("card")
            self.cards[str(kind)] = dict(card) if isinstance(card, dict) else None
        elif kind == "coupon_push" and isinstance(msg.get("coupon"), dict):
            self.cards["coupon"] = dict(msg["coupon"])
        elif kind == "flash_sale" and isinstance(msg.get("flash_sale"), dict):
            sale = dict(msg["flash_sale"])
            finished = sale.get("state") in FINISHED_FLASH_STATES
            current = self.cards["flash_sale"]
            if not finished:
                self.cards["flash_sale"] = sale
            elif current is not None and current.get("id") == sale.get("id"):
                self.cards["flash_sale"] = None
        elif kind == "flash_stock":
            shown = self.cards["flash_sale"]
            if shown is not None and shown.get("id") == msg.get("flash_sale_id"):
                shown["remaining"] = msg.get("remaining")
        elif kind == "group_buy_push" and isinstance(msg.get("group_buy"), dict):
            card = dict(msg["group_buy"])
            card["groups"] = list(card.get("groups") or [])[:MAX_OPEN_GROUPS]
            self.cards["group_buy"] = card
        elif kind == "group_buy" and isinstance(msg.get("group"), dict):
            self._apply_group(msg["group"])
        elif kind == "promotion_withdraw":
            what = msg.get("kind")
            withdrawn = self.cards.get(what) if isinstance(what, str) else None
            if withdrawn is not None and msg.get("id") in (None, withdrawn.get("id")):
                self.cards[str(what)] = None

    def _apply_group(self, group: dict[str, Any]) -> None:
        card = self.cards["group_buy"]
        if card is None or card.get("id") != group.get("campaign_id"):
            return
        groups = [g for g in card.get("groups") or [] if g.get("code") != group.get("code")]
        if group.get("status") == "open" and int(group.get("seats_taken") or 0) < int(
            group.get("group_size") or 0
        ):
            groups.insert(0, room_group(group))
        card["groups"] = groups[:MAX_OPEN_GROUPS]

    def current(self, now: dt.datetime | None = None) -> dict[str, dict[str, Any] | None]:
        """Copies of the cards still on show now (one past its end is left out)."""
        now = now or dt.datetime.now(dt.UTC)
        shown: dict[str, dict[str, Any] | None] = dict.fromkeys(self.cards)
        for kind, card in self.cards.items():
            if card is None or _past(card.get("show_until") or card.get("ends_at"), now):
                continue
            card = copy.deepcopy(card)
            if kind == "group_buy":
                card["groups"] = [
                    g for g in card.get("groups") or [] if not _past(g.get("expires_at"), now)
                ]
            shown[kind] = card
        return shown


def room_group(group: dict[str, Any]) -> dict[str, Any]:
    """An open group as the card lists it (from a `group_buy` message's group)."""
    return {
        "code": group.get("code"),
        "group_size": group.get("group_size"),
        "seats_taken": group.get("seats_taken"),
        "paid": group.get("paid", 0),
        "status": group.get("status"),
        "expires_at": group.get("expires_at"),
    }


async def load_cards(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, dict[str, Any] | None]:
    """What the database knows of the room's cards, for a room opening in this process. A
    failure here leaves the cards empty (logged): the room opens all the same."""
    cards: dict[str, dict[str, Any] | None] = dict.fromkeys((*KINDS, *TOOL_TYPES))
    try:
        await _load_cards(cards, session=session, shop_id=shop_id, live_session_id=live_session_id)
    except Exception:
        log.exception("room_promotions_load_failed", live_session_id=live_session_id)
        return dict.fromkeys(KINDS)
    for kind, module_name in TOOL_CARD_MODULES.items():
        try:
            module = importlib.import_module(module_name)
            cards[kind] = await module.current_room_card(
                session=session, shop_id=shop_id, live_session_id=live_session_id
            )
        except ModuleNotFoundError as missing:
            if not (missing.name and module_name.startswith(missing.name)):
                log.exception("room_tool_card_load_failed", kind=kind)
            # else: a tool not built into this installation
        except Exception:
            log.exception("room_tool_card_load_failed", kind=kind, live_session_id=live_session_id)
    return cards


async def _load_cards(
    cards: dict[str, dict[str, Any] | None],
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
) -> None:
    from liveloop.commerce.flash import service as flash_service
    from liveloop.commerce.groupbuy import service as groupbuy_service

    now = dt.datetime.now(dt.UTC)
    sales = await flash_service.list_flash_sales(
        session=session, shop_id=shop_id, live_session_id=live_session_id, status="active",
        per_page=5,
    )  # fmt: skip
    for sale in sales.items:
        if sale.ends_at > now:
            cards["flash_sale"] = flash_service.flash_sale_message(sale)["flash_sale"]
            break
    cards["group_buy"] = await groupbuy_service.current_room_card(
        session=session, shop_id=shop_id, live_session_id=live_session_id
    )
