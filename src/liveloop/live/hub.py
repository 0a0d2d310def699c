"""RoomHub: the live rooms of this process, joined to the other processes through the bus.

One hub per process (started by the app's lifespan). It opens a `Room` when the first viewer
of a session joins (loading the session, its snapshot state, its word filter and its figures),
subscribes to the bus channel ``room:{id}``, and closes it a while after the last one leaves.

Delivery never depends on the bus: a message from this process is shown to this process's
viewers directly and published for the others; this process's own echo from the bus is
ignored (every payload names its origin, `node_id`). When Redis is down, publishing and
subscribing fail loudly (logged, `bus_ok` false, `/readyz` bus false) while local viewers keep
getting local messages; the subscription is retried every second.

Bus payloads (JSON bytes on ``room:{id}``):
``{"o": node, "s": first_seq, "m": [[message, shown], ...]}`` numbered room messages, and
``{"o": node, "i": [message, ...]}`` internal messages (types starting with "_").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
import uuid
from typing import Any

import orjson
import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.bus import Bus, Subscription, make_bus
from liveloop.core.database import Database, scoped, utcnow
from liveloop.core.settings import Settings, get_settings
from liveloop.live import moderation, outbox, promotions
from liveloop.live import protocol as p
from liveloop.live import service as live_service
from liveloop.live.buffer import EventBuffer
from liveloop.live.models import LiveRestriction, LiveSession, LiveViewer
from liveloop.live.presence import LocalFigures, RedisFigures, RoomFigures
from liveloop.live.room import IDLE_ROOM_CLOSE_S, Restriction, Room, until_timestamp
from liveloop.live.viewers import ViewerClaims

log = structlog.get_logger(__name__)

BUS_RETRY_S = 1.0


class RoomHub:
    def __init__(self, *, bus: Bus, database: Database, settings: Settings) -> None:
        self.bus = bus
        self.database = database
        self.settings = settings
        self.node_id = uuid.uuid4().hex
        self.buffer = EventBuffer(database)
        self.rooms: dict[int, Room] = {}
        self._opening: dict[int, asyncio.Future[Room | None]] = {}
        self._readers: dict[int, asyncio.Task[None]] = {}
        self._redis: Any = None
        if bus.name == "redis":
            import redis.asyncio as redis

            self._redis = redis.Redis.from_url(settings.redis_url)
        self._key_salt = hashlib.sha256(settings.resolved_secret_key().encode()).digest()[:16]
        self.bus_ok = True
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.buffer.start()
        outbox.install_publisher(self.publish)
        self._started = True

    async def stop(self) -> None:
        """Close every room (viewers get 1001 and reconnect elsewhere) and flush the buffer."""
        outbox.install_publisher(None)
        for room_id in list(self.rooms):
            await self._close_room(room_id)
        try:
            await self.buffer.stop()
        except Exception as exc:
            log.error("live_buffer_final_flush_failed", error=repr(exc))
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        self._started = False

    # -- rooms -------------------------------------------------------------------------------

    def _figures_for(self, live_session_id: int) -> RoomFigures:
        if self._redis is not None:
            return RedisFigures(self._redis, live_session_id)
        return LocalFigures()

    async def open_room(self, live_session_id: int) -> Room | None:
        """The room of this session (opened on first use), or None when there is no session."""
        room = self.rooms.get(live_session_id)
        if room is not None:
            return room
        opening = self._opening.get(live_session_id)
        if opening is not None:
            return await asyncio.shield(opening)
        future: asyncio.Future[Room | None] = asyncio.get_running_loop().create_future()
        self._opening[live_session_id] = future
        try:
            room = await self._load_room(live_session_id)
            future.set_result(room)
            return room
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it through their await
            raise
        finally:
            del self._opening[live_session_id]

    async def _load_room(self, live_session_id: int) -> Room | None:
        async with self.database.unit_of_work() as session:
            live_session = await session.get(LiveSession, live_session_id)
            if live_session is None:
                return None
            state = await live_service.room_snapshot(session=session, live_session=live_session)
            seen = list(
                (
                    await session.execute(
                        select(LiveViewer.viewer_key).where(
                            LiveViewer.live_session_id == live_session_id
                        )
                    )
                ).scalars()
            )
            word_filter = await moderation.load_word_filter(
                session=session, shop_id=live_session.shop_id
            )
            shop_id = live_session.shop_id
            restrictions = await _active_restrictions(session, shop_id, live_session_id)
            cards = await promotions.load_cards(
                session=session, shop_id=shop_id, live_session_id=live_session_id
            )
        figures = self._figures_for(live_session_id)
        await figures.seed(
            like_total=int(state.get("like_total") or 0),
            peak=int(state.get("peak") or 0),
            seen=seen,
        )
        first_seq = await figures.next_seq(0, floor=0)
        room = Room(
            self,
            live_session_id=live_session_id,
            shop_id=shop_id,
            state=state,
            figures=figures,
            first_seq=first_seq,
        )
        room.word_filter = word_filter
        room.restrictions.items = restrictions
        room.promotions = promotions.RoomPromotions(cards)
        # Subscribed before the first viewer gets the snapshot: a message another process
        # publishes from then on reaches this one (a subscription made later would miss it).
        subscription: Subscription | None = None
        try:
            subscription = await self.bus.subscribe(room.channel)
        except Exception as exc:
            self._bus_failed("subscribe", exc)  # the reader retries
        room.start()
        self.rooms[live_session_id] = room
        self._readers[live_session_id] = asyncio.create_task(
            self._read_bus(room, subscription), name=f"room-{live_session_id}-bus"
        )
        log.info("room_opened", live_session_id=live_session_id, seq=first_seq)
        return room

    async def _close_room(self, live_session_id: int) -> None:
        room = self.rooms.pop(live_session_id, None)
        reader = self._readers.pop(live_session_id, None)
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if room is not None:
            await room.stop()
            log.info("room_closed", live_session_id=live_session_id)

    async def housekeeping(self, room: Room) -> None:
        """Every few seconds per room: time out silent viewers, reload the word filter, close
        a room nobody has watched here for a while."""
        now = time.monotonic()
        cutoff = now - p.IDLE_TIMEOUT_S
        for peer in list(room.viewers | room.staff):
            if peer.last_received < cutoff:
                peer.close_soon(*p.CLOSE_IDLE)
        async with self.database.unit_of_work() as session:
            room.word_filter = await moderation.load_word_filter(
                session=session, shop_id=room.shop_id
            )
            room.restrictions.items = await _active_restrictions(session, room.shop_id, room.id)
        if room.idle_since is not None and now - room.idle_since > IDLE_ROOM_CLOSE_S:
            asyncio.get_running_loop().create_task(self._close_room(room.id))

    async def reload_state(self, room: Room) -> None:
        async with self.database.unit_of_work() as session:
            live_session = await session.get(LiveSession, room.id)
            if live_session is None:
                return
            state = await live_service.room_snapshot(session=session, live_session=live_session)
        changed = (state["status"], state["comments_enabled"]) != (
            room.state.get("status"),
            room.state.get("comments_enabled"),
        )
        for key in ("like_total", "peak", "total", "online"):
            state[key] = room.state.get(key, state.get(key))
        room.state = state
        if changed:
            room.submit(
                {
                    "type": "room_state",
                    "status": state["status"],
                    "comments_enabled": state["comments_enabled"],
                }
            )

    # -- bus ---------------------------------------------------------------------------------

    async def bus_publish(self, channel: str, payload: bytes) -> None:
        try:
            await self.bus.publish(channel, payload)
        except Exception as exc:
            self._bus_failed("publish", exc)
        else:
            self._bus_back()

    def _bus_failed(self, what: str, exc: Exception) -> None:
        if self.bus_ok:
            log.error("room_bus_down", what=what, error=repr(exc))
        self.bus_ok = False

    def _bus_back(self) -> None:
        if not self.bus_ok:
            log.info("room_bus_back")
        self.bus_ok = True

    async def _read_bus(self, room: Room, subscription: Subscription | None = None) -> None:
        while True:
            if subscription is None:
                try:
                    subscription = await self.bus.subscribe(room.channel)
                except Exception as exc:
                    self._bus_failed("subscribe", exc)
                    await asyncio.sleep(BUS_RETRY_S)
                    continue
            try:
                async for _channel, payload in subscription:
                    self._on_bus(room, payload)
                return  # the bus closed the subscription: the hub is stopping
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await subscription.close()
                raise
            except Exception as exc:
                self._bus_failed("subscription", exc)
                with contextlib.suppress(Exception):
                    await subscription.close()
                subscription = None
                await asyncio.sleep(BUS_RETRY_S)

    def _on_bus(self, room: Room, payload: bytes) -> None:
        try:
            data = orjson.loads(payload)
            if data.get("o") == self.node_id:
                return  # our own echo: already delivered locally
            if "i" in data:
                for message in data["i"]:
                    self._internal(room, message)
            else:
                room.accept_remote(int(data["s"]), data["m"])
        except Exception:
            log.exception("room_bad_bus_payload", live_session_id=room.id)

    # -- publishing --------------------------------------------------------------------------

    async def publish(self, live_session_id: int, message: dict[str, Any]) -> None:
        """The outbox's publisher: a message for every viewer of the room, in every process."""
        kind = str(message.get("type", ""))
        room = self.rooms.get(live_session_id)
        if kind.startswith("_"):
            if room is not None:
                self._internal(room, message)
            payload = p.dumps({"o": self.node_id, "i": [message]})
            await self.bus_publish(f"room:{live_session_id}", payload)
            return
        if room is not None:
            room.submit(message, always_show=True)
            return
        await publish_numbered(self.bus, self._redis, live_session_id, message, self.node_id)

    def _internal(self, room: Room, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "_room_state_changed":
            asyncio.get_running_loop().create_task(self.reload_state(room))
        elif kind == "_moderation":
            self._moderate(room, message)

    def _moderate(self, room: Room, message: dict[str, Any]) -> None:
        action = message.get("action")
        customer_id = message.get("customer_id")
        device_id = str(message.get("device_id") or "")
        until = until_timestamp(message.get("until"))
        if action == "mute":
            room.restrictions.add("mute", customer_id, device_id, until)
        elif action in ("ban", "kick"):  # a kick is recorded as a short ban
            room.restrictions.add("ban", customer_id, device_id, until)
        elif action in ("unmute", "unban"):
            room.restrictions.remove(action[2:], customer_id, device_id)
        for peer in room.peers_matching(customer_id, device_id):
            if action == "mute":
                peer.muted_until = until_timestamp(message.get("until"))
                room.personal(peer, [muted_message(message.get("until"))])
            elif action == "unmute":
                peer.muted_until = None
                room.personal(peer, [p.system_message("unmuted", p.SYSTEM_TEXTS["unmuted"])])
            elif action == "kick":
                room.personal(peer, [p.system_message("kicked", p.SYSTEM_TEXTS["kicked"])])
                peer.close_soon(*p.CLOSE_KICKED)
            elif action == "ban":
                room.personal(peer, [p.system_message("banned", p.SYSTEM_TEXTS["banned"])])
                peer.close_soon(*p.CLOSE_BANNED)

    def public_user(self, claims: ViewerClaims) -> dict[str, Any]:
        """How a viewer appears to others: an opaque stable key, never a customer id."""
        digest = hashlib.blake2b(
            claims.viewer_key.encode(), key=self._key_salt, digest_size=5
        ).hexdigest()
        return {"key": "v" + digest, "name": claims.name, "role": claims.role}


async def _active_restrictions(
    session: AsyncSession, shop_id: int, live_session_id: int
) -> list[Restriction]:
    """Mutes and bans in force now for this room (its own, and the shop-wide ones)."""
    rows = await session.execute(
        scoped(LiveRestriction, shop_id).where(
            LiveRestriction.kind.in_(("mute", "ban")),
            or_(
                LiveRestriction.live_session_id.is_(None),
                LiveRestriction.live_session_id == live_session_id,
            ),
            or_(LiveRestriction.until.is_(None), LiveRestriction.until > utcnow()),
        )
    )
    return [
        Restriction(
            r.kind,
            r.customer_id,
            r.device_id,
            r.until.timestamp() if r.until is not None else math.inf,
        )
        for r in rows.scalars()
    ]


def muted_message(until: str | None) -> dict[str, Any]:
    return p.system_message("muted", p.SYSTEM_TEXTS["muted"], until=until)


async def publish_numbered(
    bus: Bus, redis: Any, live_session_id: int, message: dict[str, Any], origin: str
) -> None:
    """Number a message through Redis and publish it, for rooms this process has not open."""
    if redis is None:
        return  # in-process bus and no room here: nobody in this process is watching
    figures = RedisFigures(redis, live_session_id)
    seq = await figures.next_seq(1, floor=0)
    await bus.publish(
        f"room:{live_session_id}", p.dumps({"o": origin, "s": seq, "m": [[message, True]]})
    )


async def publish_from_outside(live_session_id: int, message: dict[str, Any]) -> None:
    """The outbox in a process without a hub (worker, CLI): straight to the configured bus."""
    settings = get_settings()
    if settings.bus_backend != "redis":
        log.debug("room_message_without_hub", live_session_id=live_session_id)
        return
    import redis.asyncio as redis

    bus = make_bus(settings.bus_backend, settings.redis_url)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        if str(message.get("type", "")).startswith("_"):
            await bus.publish(f"room:{live_session_id}", p.dumps({"o": "outside", "i": [message]}))
        else:
            await publish_numbered(bus, client, live_session_id, message, "outside")
    finally:
        await client.aclose()
        await bus.close()
