"""Inbound membership callbacks: LiveLoop's signed join callback and WeCom's contact/group events.

The join callback is for any channel that can call a URL when someone joins or leaves a group
(a mini-program, a bot in a WeChat group, a form): the body is JSON (`JoinCallbackIn`), signed
with HMAC-SHA256 over ``timestamp + "." + body`` with a key derived from the site secret for
each shop. A request older than five minutes is refused; a repeat of one already applied is
answered "duplicate" and changes nothing (its signature is recorded as a client event id).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.errors import NotFound
from liveloop.core.security import derive_key
from liveloop.customers.channel_codes import service as codes_service
from liveloop.customers.channel_codes.wecom_callback import WecomEvent, is_external_user_id
from liveloop.customers.communities import service
from liveloop.customers.communities.schemas import JoinCallbackIn

SHOP_HEADER = "X-LiveLoop-Shop"
TIMESTAMP_HEADER = "X-LiveLoop-Timestamp"
SIGNATURE_HEADER = "X-LiveLoop-Signature"
MAX_SKEW = dt.timedelta(minutes=5)
CALLBACK_EVENT = "community_join_callback"


class ForgedCallback(Exception):
    """The callback's signature or timestamp does not verify."""


def join_callback_key(secret: str, shop_id: int) -> bytes:
    """One key per shop: a callback signed for one shop never verifies for another."""
    return derive_key(secret, f"community-join-callback:{shop_id}")


def sign_join_callback(key: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_join_callback(
    key: bytes, *, timestamp: str, signature: str, body: bytes, now: dt.datetime
) -> None:
    expected = sign_join_callback(key, timestamp, body)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise ForgedCallback("the signature does not match the body")
    try:
        sent = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise ForgedCallback("the timestamp is not a Unix time in seconds") from None
    if abs(now - sent) > MAX_SKEW:
        raise ForgedCallback("the timestamp is more than five minutes away from now")


async def _first_time(session: AsyncSession, shop_id: int, replay_id: str, data: Any) -> bool:
    from liveloop.events import service as events_service

    result = await events_service.ingest_events(
        session=session,
        shop_id=shop_id,
        items=[
            {
                "type": CALLBACK_EVENT,
                "anonymous_id": "callback",
                "properties": data,
                "client_event_id": replay_id,
            }
        ],
        mark_customers_active=False,
    )
    return result.accepted == 1


async def apply_join_callback(
    *, session: AsyncSession, shop_id: int, data: JoinCallbackIn, signature: str
) -> dict[str, Any]:
    """Apply a verified callback: resolve the community and the customer, then join or leave.

    A `state` naming one of the shop's channel codes also records an arrival through it."""
    replay_id = hashlib.sha256(signature.encode()).hexdigest()
    community = (
        await service.get_community(
            session=session, shop_id=shop_id, community_id=data.community_id
        )
        if data.community_id is not None
        else await service.get_community_by_external_id(
            session=session, shop_id=shop_id, external_id=data.external_id or ""
        )
    )
    if not await _first_time(
        session, shop_id, replay_id, {"community_id": community.id, "event": data.event}
    ):
        return {"status": "duplicate"}
    customer_id, created = await codes_service.resolve_customer(
        session=session, shop_id=shop_id, channel=data.identity.channel, value=data.identity.value
    )
    if data.event == "leave":
        stay = await service.leave_community(
            session=session,
            shop_id=shop_id,
            community_id=community.id,
            customer_id=customer_id,
            left_at=data.joined_at,
        )
        return {"status": "left" if stay else "not_a_member", "customer_id": customer_id}
    found = await codes_service.find_code_for_state(
        session=session, shop_id=shop_id, state=data.state
    )
    if found is not None:
        code, link_id = found
        await codes_service.record_arrival(
            session=session,
            shop_id=shop_id,
            code_id=code.id,
            customer_id=customer_id,
            via="join_callback",
            staff_link_id=link_id,
            new_customer=created,
            now=data.joined_at,
        )
    stay = await service.join_community(
        session=session,
        shop_id=shop_id,
        community_id=community.id,
        customer_id=customer_id,
        source="channel_code" if found else "join_link",
        trigger=data.state,
        joined_at=data.joined_at,
        enforce_capacity=False,
    )
    return {"status": "joined", "customer_id": customer_id, "member_id": stay.id}


async def apply_wecom_event(
    *, session: AsyncSession, shop_id: int, event: WecomEvent
) -> dict[str, Any]:
    """Act on one decrypted WeCom event; anything else is acknowledged and ignored."""
    when = dt.datetime.fromtimestamp(event.create_time, dt.UTC) if event.create_time else None
    if event.event == "change_external_contact" and event.change_type == "add_external_contact":
        if not event.external_user_id:
            return {"status": "ignored", "why": "no ExternalUserID"}
        customer_id, created = await codes_service.resolve_customer(
            session=session, shop_id=shop_id, channel="wecom", value=event.external_user_id
        )
        found = await codes_service.find_code_for_state(
            session=session, shop_id=shop_id, state=event.state
        )
        if found is None:
            return {"status": "contact", "customer_id": customer_id}
        code, link_id = found
        arrival = await codes_service.record_arrival(
            session=session,
            shop_id=shop_id,
            code_id=code.id,
            customer_id=customer_id,
            via="wecom",
            staff_link_id=link_id,
            new_customer=created,
            now=when,
        )
        return {
            "status": "arrival" if arrival.created else "duplicate",
            "customer_id": customer_id,
            "channel_code_id": code.id,
        }
    if event.event == "change_external_chat" and event.change_type == "update":
        if event.update_detail not in ("add_member", "del_member"):
            return {"status": "ignored", "why": event.update_detail}
        try:
            community = await service.get_community_by_external_id(
                session=session, shop_id=shop_id, external_id=event.chat_id
            )
        except NotFound:
            return {"status": "ignored", "why": "unknown chat"}
        changed = []
        for user_id in event.members:
            if not is_external_user_id(user_id):
                continue  # a staff member of the group
            customer_id, _ = await codes_service.resolve_customer(
                session=session, shop_id=shop_id, channel="wecom", value=user_id
            )
            if event.update_detail == "add_member":
                await service.join_community(
                    session=session,
                    shop_id=shop_id,
                    community_id=community.id,
                    customer_id=customer_id,
                    source="join_link",
                    trigger="wecom",
                    joined_at=when,
                    enforce_capacity=False,
                )
            else:
                await service.leave_community(
                    session=session,
                    shop_id=shop_id,
                    community_id=community.id,
                    customer_id=customer_id,
                    left_at=when,
                )
            changed.append(customer_id)
        return {"status": event.update_detail, "customer_ids": changed}
    return {"status": "ignored", "why": f"{event.event}/{event.change_type}"}
