"""Mic requests (上麦/连麦): viewers ask, the anchor takes them on or refuses, either ends it.

LiveLoop does the signalling and keeps the record; the guest's audio and video go through the
media server (its co-streaming / WebRTC), which an integrator drives from the `mic` room card
or the REST API (docs/live-protocol.md "mic").

Every change of state is one conditional UPDATE (`... WHERE status = 'requested'`), so a
request is accepted once, and an accept that comes after the viewer cancelled gets a clear 409.
The number of guests is held by seats: an accept takes a free seat 1 … max_guests, and the
unique (session, seat) key refuses a second guest in the same seat even when two accepts run
at the same moment on two processes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from liveloop.live.mic.models import OPEN_STATUSES, MicRequest, MicRoom, MicStatus
from liveloop.live.mic.schemas import MicSettingsIn
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.live.outbox import send_after_commit
from liveloop.live.service import check_may_run, check_open, get_live_session
from liveloop.shops.service import Actor, record_audit, system_actor

log = structlog.get_logger(__name__)

REJECT_COOLDOWN_S = 30  # after a refusal, before the same viewer may ask again
MAX_REQUESTS_PER_SESSION = 20  # one viewer's requests in one session (asks and withdrawals)
HISTORY_LENGTH = 50
CLOSED_STATES = (LiveStatus.ENDED.value, LiveStatus.CANCELLED.value)
RESTRICTED = {"ban": "banned", "mute": "muted"}  # a restriction kind -> the error code word
REFUSALS = {
    MicStatus.ACCEPTED.value: "is already on mic",
    MicStatus.REJECTED.value: "was already rejected",
    MicStatus.CANCELLED.value: "was cancelled by the viewer",
    MicStatus.ENDED.value: "has already ended",
    MicStatus.EXPIRED.value: "expired when the mic closed",
    MicStatus.REQUESTED.value: "is still waiting",
}


# ----------------------------------------------------------------------------- reading


async def get_mic_room(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> MicRoom | None:
    statement = scoped(MicRoom, shop_id).where(MicRoom.live_session_id == live_session_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def get_request(*, session: AsyncSession, shop_id: int, request_id: int) -> MicRequest:
    return await get_scoped(
        session, MicRequest, shop_id=shop_id, record_id=request_id, label="mic_request"
    )


async def list_requests(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    statuses: tuple[str, ...] | None = None,
    newest_first: bool = False,
    limit: int | None = None,
) -> list[MicRequest]:
    statement = scoped(MicRequest, shop_id).where(MicRequest.live_session_id == live_session_id)
    if statuses is not None:
        statement = statement.where(MicRequest.status.in_(statuses))
    order = MicRequest.id.desc() if newest_first else MicRequest.id
    statement = statement.order_by(order)
    if limit is not None:
        statement = statement.limit(limit)
    return list((await session.execute(statement)).scalars())


async def customer_names(
    session: AsyncSession, shop_id: int, customer_ids: list[int]
) -> dict[int, str]:
    from liveloop.customers.communities import service as communities

    names = await communities.customer_names(
        session=session, shop_id=shop_id, customer_ids=customer_ids
    )
    return {key: value or "" for key, value in names.items()}


def mask_name(name: str | None) -> str:
    """'张小明' -> '张**': how the room shows a guest (the console sees the name)."""
    if not name:
        return "观众"
    return name[0] + "*" * min(max(len(name) - 1, 1), 2)


async def my_request(
    *, session: AsyncSession, shop_id: int, live_session_id: int, customer_id: int
) -> tuple[MicRequest | None, int | None]:
    """The viewer's open request of the session, else their latest; and their place in the
    queue while waiting (1 = next)."""
    statement = (
        scoped(MicRequest, shop_id)
        .where(MicRequest.live_session_id == live_session_id, MicRequest.customer_id == customer_id)
        .order_by(MicRequest.open_customer_id.is_(None), MicRequest.id.desc())
        .limit(1)
    )
    request = (await session.execute(statement)).scalar_one_or_none()
    if request is None or request.status != MicStatus.REQUESTED.value:
        return request, None
    ahead = await session.scalar(
        scoped(MicRequest, shop_id, func.count()).where(
            MicRequest.live_session_id == live_session_id,
            MicRequest.status == MicStatus.REQUESTED.value,
            MicRequest.id < request.id,
        )
    )
    return request, int(ahead or 0) + 1


# ----------------------------------------------------------------------------- the card


async def room_card(session: AsyncSession, mic: MicRoom) -> dict[str, Any] | None:
    """The room's `mic` card (docs/live-protocol.md "mic"); None: nothing to show."""
    guests = await list_requests(
        session=session,
        shop_id=mic.shop_id,
        live_session_id=mic.live_session_id,
        statuses=(MicStatus.ACCEPTED.value,),
    )
    if not mic.is_open and not guests:
        return None
    waiting = await session.scalar(
        scoped(MicRequest, mic.shop_id, func.count()).where(
            MicRequest.live_session_id == mic.live_session_id,
            MicRequest.status == MicStatus.REQUESTED.value,
        )
    )
    names = await customer_names(session, mic.shop_id, [g.customer_id for g in guests])
    guests.sort(key=lambda g: g.seat or 0)
    return {
        "id": mic.id,
        "live_session_id": mic.live_session_id,
        "state": "open" if mic.is_open else "closed",
        "max_guests": mic.max_guests,
        "waiting": int(waiting or 0),
        "guests": [
            {
                "request_id": guest.id,
                "seat": guest.seat,
                "name": mask_name(names.get(guest.customer_id)),
                "since": guest.accepted_at.isoformat() if guest.accepted_at else None,
            }
            for guest in guests
        ],
    }


async def current_room_card(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, Any] | None:
    """The mic card of a room opening in a process (promotions.TOOL_CARD_MODULES)."""
    mic = await get_mic_room(session=session, shop_id=shop_id, live_session_id=live_session_id)
    if mic is None:
        return None
    live_session = await session.get(LiveSession, live_session_id)
    if live_session is None or live_session.status != LiveStatus.LIVE.value:
        return None
    return await room_card(session, mic)


def request_summary(request: MicRequest, name: str) -> dict[str, Any]:
    return {
        "id": request.id,
        "status": request.status,
        "name": name,
        "note": request.note,
        "seat": request.seat,
        "requested_at": request.requested_at.isoformat(),
    }


async def _tell_room(session: AsyncSession, mic: MicRoom, request: MicRequest | None) -> None:
    """After commit: the public card for everyone, and the changed request for the console."""
    send_after_commit(
        session,
        live_session_id=mic.live_session_id,
        message={"type": "mic", "card": await room_card(session, mic)},
    )
    if request is not None:
        names = await customer_names(session, mic.shop_id, [request.customer_id])
        send_after_commit(
            session,
            live_session_id=mic.live_session_id,
            message={
                "type": "mic_request",
                "to": "staff",
                "request": request_summary(request, names.get(request.customer_id) or ""),
            },
        )


async def _record_event(session: AsyncSession, request: MicRequest, kind: str) -> None:
    from liveloop.events import service as events_service

    properties: dict[str, Any] = {"request_id": request.id}
    if request.seat is not None:
        properties["seat"] = request.seat
    if request.wait_seconds is not None:
        properties["wait_seconds"] = request.wait_seconds
    if request.on_mic_seconds is not None:
        properties["on_mic_seconds"] = request.on_mic_seconds
    if request.ended_by:
        properties["ended_by"] = request.ended_by
    await events_service.ingest_events(
        session=session,
        shop_id=request.shop_id,
        items=[
            {
                "type": kind,
                "customer_id": request.customer_id,
                "live_session_id": request.live_session_id,
                "properties": properties,
                "client_event_id": f"{kind}-{request.id}",
            }
        ],
        mark_customers_active=kind == "mic_request",
    )


# ----------------------------------------------------------------------------- the anchor


async def _live_session_to_run(
    session: AsyncSession, actor: Actor, live_session_id: int
) -> LiveSession:
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_may_run(actor, live_session)
    return live_session


async def configure_mic(
    *, session: AsyncSession, actor: Actor, live_session_id: int, data: MicSettingsIn
) -> MicRoom:
    """Open the mic (viewers may ask), change how many guests it takes, or close it (the
    waiting requests expire and the guests leave the mic)."""
    live_session = await _live_session_to_run(session, actor, live_session_id)
    if data.is_open:
        check_open(live_session, "open the mic")
        if live_session.status != LiveStatus.LIVE.value:
            raise Conflict(
                f"live session {live_session.id} is not on air; start the live first",
                code="live_session_not_live",
                field="live_session_id",
            )
    mic = await get_mic_room(
        session=session, shop_id=actor.shop_id, live_session_id=live_session.id
    )
    if mic is None:
        mic = MicRoom(shop_id=actor.shop_id, live_session_id=live_session.id)
        try:
            async with session.begin_nested():
                session.add(mic)
                await session.flush()
        except IntegrityError:  # another console opened it at the same moment
            found = await get_mic_room(
                session=session, shop_id=actor.shop_id, live_session_id=live_session.id
            )
            if found is None:
                raise
            mic = found
    was_open, now = mic.is_open, utcnow()
    mic.max_guests = data.max_guests
    mic.is_open = data.is_open
    if data.is_open and not was_open:
        mic.opened_at, mic.closed_at = now, None
    closed: list[MicRequest] = []
    if not data.is_open and was_open:
        mic.closed_at = now
        closed = await close_open_requests(
            session=session, shop_id=actor.shop_id, live_session_id=live_session.id, now=now
        )
    await session.flush()
    action = "configure"
    if data.is_open != was_open:
        action = "open" if data.is_open else "close"
    await record_audit(
        session=session,
        actor=actor,
        action=f"live.mic_{action}",
        target_type="live_session",
        target_id=live_session.id,
        details={"max_guests": mic.max_guests, "closed_requests": [r.id for r in closed]},
    )
    await _tell_room(session, mic, None)
    return mic


async def close_open_requests(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    now: dt.datetime,
    reason: str = "the mic was closed",
) -> list[MicRequest]:
    """Expire the waiting requests and end the guests' time on mic (the mic closed, or the
    live ended). Each row moves by its own conditional UPDATE: one that changed meanwhile
    (the viewer cancelled) is left as it is."""
    finished = []
    for request in await list_requests(
        session=session, shop_id=shop_id, live_session_id=live_session_id, statuses=OPEN_STATUSES
    ):
        if await _finish(session, request, now=now, reason=reason):
            finished.append(request)
    return finished


async def _finish(
    session: AsyncSession, request: MicRequest, *, now: dt.datetime, reason: str
) -> bool:
    """The system ends a guest's turn or expires a waiting request; False when it had moved
    on meanwhile (the viewer cancelled)."""
    target = MicStatus.ENDED if request.status == MicStatus.ACCEPTED.value else MicStatus.EXPIRED
    moved = await _move(
        session,
        request,
        from_status=MicStatus(request.status),
        values={
            "status": target.value,
            "ended_at": now,
            "ended_by": "system",
            "reason": reason[:200],
            "seat": None,
            "open_customer_id": None,
        },
    )
    if moved:
        await _record_event(
            session, request, "mic_ended" if target is MicStatus.ENDED else "mic_expired"
        )
    return moved


async def remove_banned(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int | None,
    customer_id: int | None,
    device_id: str = "",
) -> list[MicRequest]:
    """A ban takes the viewer off the mic and drops their waiting request, in that session
    (or, `live_session_id` None, in every session of the shop); called by the moderation."""
    if customer_id is None and not device_id:
        return []
    who = []
    if customer_id is not None:
        who.append(MicRequest.customer_id == customer_id)
    if device_id:
        who.append(MicRequest.device_id == device_id)
    statement = scoped(MicRequest, shop_id).where(MicRequest.status.in_(OPEN_STATUSES), or_(*who))
    if live_session_id is not None:
        statement = statement.where(MicRequest.live_session_id == live_session_id)
    now = utcnow()
    finished = []
    for request in (await session.execute(statement.order_by(MicRequest.id))).scalars().all():
        if not await _finish(session, request, now=now, reason="banned from the room"):
            continue
        mic = await get_mic_room(
            session=session, shop_id=shop_id, live_session_id=request.live_session_id
        )
        if mic is not None:
            await _tell_room(session, mic, request)
        finished.append(request)
    return finished


async def _move(
    session: AsyncSession,
    request: MicRequest,
    *,
    from_status: MicStatus,
    values: dict[str, Any],
) -> bool:
    """One conditional UPDATE from `from_status`; True when this call made the change (the
    request is then reloaded), False when the request had already moved on."""
    result = await session.execute(
        update(MicRequest)
        .where(
            MicRequest.id == request.id,
            MicRequest.shop_id == request.shop_id,
            MicRequest.status == from_status.value,
        )
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    await session.refresh(request)
    return result.rowcount == 1


def _refused(request: MicRequest, doing: str) -> Conflict:
    return Conflict(
        f"mic request {request.id} {REFUSALS.get(request.status, 'has moved on')}; it cannot be "
        f"{doing}",
        code=f"mic_request_{request.status}",
        field="status",
    )


async def _request_to_decide(
    session: AsyncSession, actor: Actor, request_id: int
) -> tuple[MicRequest, MicRoom, LiveSession]:
    request = await get_request(session=session, shop_id=actor.shop_id, request_id=request_id)
    live_session = await _live_session_to_run(session, actor, request.live_session_id)
    mic = await get_mic_room(
        session=session, shop_id=actor.shop_id, live_session_id=request.live_session_id
    )
    if mic is None:  # a request exists only where a mic was opened
        raise NotFound(f"mic request {request_id} was not found", code="mic_request_not_found")
    return request, mic, live_session


async def accept_request(*, session: AsyncSession, actor: Actor, request_id: int) -> MicRequest:
    """Take the viewer on mic, in the first free seat."""
    request, mic, live_session = await _request_to_decide(session, actor, request_id)
    if request.status != MicStatus.REQUESTED.value:
        raise _refused(request, "accepted")
    check_open(live_session, "take guests on mic")
    if not mic.is_open:
        raise Conflict(
            "the mic is closed; open it before taking guests", code="mic_closed", field="mic"
        )
    await _refuse_restricted(session, request)
    taken = set(
        (
            await session.execute(
                scoped(MicRequest, actor.shop_id, MicRequest.seat).where(
                    MicRequest.live_session_id == request.live_session_id,
                    MicRequest.seat.is_not(None),
                )
            )
        ).scalars()
    )
    now = utcnow()
    for seat in (s for s in range(1, mic.max_guests + 1) if s not in taken):
        try:
            async with session.begin_nested():
                moved = await _move(
                    session,
                    request,
                    from_status=MicStatus.REQUESTED,
                    values={
                        "status": MicStatus.ACCEPTED.value,
                        "seat": seat,
                        "decided_at": now,
                        "accepted_at": now,
                        "decided_by": actor.staff_id,
                    },
                )
        except IntegrityError:  # another accept took this seat a moment ago: try the next
            continue
        if not moved:
            raise _refused(request, "accepted")
        break
    else:
        raise Conflict(
            f"all {mic.max_guests} mic seats are taken; end a guest's turn or allow more guests",
            code="mic_full",
            field="max_guests",
        )
    await record_audit(
        session=session, actor=actor, action="live.mic_accept", target_type="mic_request",
        target_id=request.id,
        details={"customer_id": request.customer_id, "seat": request.seat,
                 "live_session_id": request.live_session_id},
    )  # fmt: skip
    await _record_event(session, request, "mic_accepted")
    await _tell_room(session, mic, request)
    return request


async def _refuse_restricted(session: AsyncSession, request: MicRequest) -> None:
    from liveloop.live import moderation

    for kind in ("ban", "mute"):
        found = await moderation.find_active_restriction(
            session=session,
            shop_id=request.shop_id,
            live_session_id=request.live_session_id,
            customer_id=request.customer_id,
            device_id=request.device_id or None,
            kind=kind,
        )
        if found is not None:
            raise Conflict(
                f"this viewer is {RESTRICTED[kind]}{' from the room' if kind == 'ban' else ''} "
                f"now; lift the {kind} first or reject the request",
                code=f"mic_viewer_{RESTRICTED[kind]}",
                field="customer_id",
            )


async def reject_request(
    *, session: AsyncSession, actor: Actor, request_id: int, reason: str = ""
) -> MicRequest:
    request, mic, _ = await _request_to_decide(session, actor, request_id)
    now = utcnow()
    moved = await _move(
        session,
        request,
        from_status=MicStatus.REQUESTED,
        values={
            "status": MicStatus.REJECTED.value,
            "decided_at": now,
            "ended_at": now,
            "ended_by": "anchor",
            "reason": reason.strip()[:200],
            "decided_by": actor.staff_id,
            "open_customer_id": None,
        },
    )
    if not moved:
        raise _refused(request, "rejected")
    await record_audit(
        session=session, actor=actor, action="live.mic_reject", target_type="mic_request",
        target_id=request.id,
        details={"customer_id": request.customer_id, "reason": request.reason},
    )  # fmt: skip
    await _record_event(session, request, "mic_rejected")
    await _tell_room(session, mic, request)
    return request


async def end_request(
    *, session: AsyncSession, actor: Actor, request_id: int, reason: str = ""
) -> MicRequest:
    """The anchor takes a guest off the mic."""
    request, mic, _ = await _request_to_decide(session, actor, request_id)
    moved = await _move(
        session,
        request,
        from_status=MicStatus.ACCEPTED,
        values={
            "status": MicStatus.ENDED.value,
            "ended_at": utcnow(),
            "ended_by": "anchor",
            "reason": reason.strip()[:200],
            "seat": None,
            "open_customer_id": None,
        },
    )
    if not moved:
        raise _refused(request, "ended")
    await record_audit(
        session=session, actor=actor, action="live.mic_end", target_type="mic_request",
        target_id=request.id,
        details={"customer_id": request.customer_id, "on_mic_seconds": request.on_mic_seconds},
    )  # fmt: skip
    await _record_event(session, request, "mic_ended")
    await _tell_room(session, mic, request)
    return request


async def console_view(
    *, session: AsyncSession, actor: Actor, live_session_id: int
) -> dict[str, Any]:
    """The console's mic panel: settings, the queue, the guests and the finished requests."""
    live_session = await _live_session_to_run(session, actor, live_session_id)
    mic = await get_mic_room(
        session=session, shop_id=actor.shop_id, live_session_id=live_session.id
    )
    settings = {
        "live_session_id": live_session.id,
        "is_open": bool(mic and mic.is_open),
        "max_guests": mic.max_guests if mic else 1,
        "opened_at": mic.opened_at if mic else None,
        "closed_at": mic.closed_at if mic else None,
    }
    open_requests = await list_requests(
        session=session,
        shop_id=actor.shop_id,
        live_session_id=live_session.id,
        statuses=OPEN_STATUSES,
    )
    finished = await list_requests(
        session=session,
        shop_id=actor.shop_id,
        live_session_id=live_session.id,
        statuses=tuple(s.value for s in MicStatus if s.value not in OPEN_STATUSES),
        newest_first=True,
        limit=HISTORY_LENGTH,
    )
    names = await customer_names(
        session, actor.shop_id, [r.customer_id for r in (*open_requests, *finished)]
    )

    def described(items: list[MicRequest]) -> list[dict[str, Any]]:
        return [describe(r, names.get(r.customer_id) or "") for r in items]

    guests = sorted(
        (r for r in open_requests if r.status == MicStatus.ACCEPTED.value),
        key=lambda r: r.seat or 0,
    )
    return {
        "mic": settings,
        "queue": described([r for r in open_requests if r.status == MicStatus.REQUESTED.value]),
        "guests": described(guests),
        "history": described(finished),
    }


def describe(request: MicRequest, name: str) -> dict[str, Any]:
    return {
        "id": request.id,
        "live_session_id": request.live_session_id,
        "customer_id": request.customer_id,
        "name": name,
        "status": request.status,
        "note": request.note,
        "seat": request.seat,
        "requested_at": request.requested_at,
        "decided_at": request.decided_at,
        "accepted_at": request.accepted_at,
        "ended_at": request.ended_at,
        "ended_by": request.ended_by,
        "reason": request.reason,
        "wait_seconds": request.wait_seconds,
        "on_mic_seconds": request.on_mic_seconds,
    }


# ----------------------------------------------------------------------------- the viewer


async def request_mic(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int | None,
    token_live_session_id: int | None,
    customer_id: int | None,
    device_id: str = "",
    note: str = "",
) -> tuple[MicRequest, bool]:
    """The viewer asks to go on mic. A repeat while a request is open returns that request
    (False: not new)."""
    if live_session_id is None or token_live_session_id != live_session_id:
        raise InvalidInput(
            "the viewer token is for another live room; reload the page",
            code="token_wrong_room",
            field="token",
        )
    if customer_id is None:
        raise Unauthenticated(
            "verify your phone number first: the anchor needs to know who is on mic",
            code="customer_required",
        )
    live_session = await get_live_session(
        session=session, shop_id=shop_id, live_session_id=live_session_id
    )
    mic = await get_mic_room(session=session, shop_id=shop_id, live_session_id=live_session_id)
    if live_session.status != LiveStatus.LIVE.value or mic is None or not mic.is_open:
        raise Conflict(
            "the anchor is not taking guests on mic right now",
            code="mic_closed",
            field="live_session_id",
        )
    await _refuse_restricted_viewer(session, shop_id, live_session_id, customer_id, device_id)
    existing, _ = await my_request(
        session=session, shop_id=shop_id, live_session_id=live_session_id, customer_id=customer_id
    )
    if existing is not None and existing.status in OPEN_STATUSES:
        return existing, False
    await _check_request_pace(session, shop_id, live_session_id, customer_id, existing)
    request = MicRequest(
        shop_id=shop_id,
        live_session_id=live_session_id,
        customer_id=customer_id,
        open_customer_id=customer_id,
        device_id=device_id[:64],
        note=note.strip()[:100],
        requested_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(request)
            await session.flush()
    except IntegrityError:  # two taps from two devices: the other one is the request
        found, _ = await my_request(
            session=session,
            shop_id=shop_id,
            live_session_id=live_session_id,
            customer_id=customer_id,
        )
        if found is None or found.status not in OPEN_STATUSES:
            raise
        return found, False
    await _record_event(session, request, "mic_request")
    await _tell_room(session, mic, request)
    return request, True


async def _refuse_restricted_viewer(
    session: AsyncSession, shop_id: int, live_session_id: int, customer_id: int, device_id: str
) -> None:
    from liveloop.live import moderation

    for kind in ("ban", "mute"):
        found = await moderation.find_active_restriction(
            session=session,
            shop_id=shop_id,
            live_session_id=live_session_id,
            customer_id=customer_id,
            device_id=device_id or None,
            kind=kind,
        )
        if found is not None:
            raise PermissionDenied(
                moderation.restriction_text(found) + " You cannot ask to go on mic.",
                code=f"mic_viewer_{RESTRICTED[kind]}",
            )


async def _check_request_pace(
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    customer_id: int,
    latest: MicRequest | None,
) -> None:
    """A viewer cannot flood the anchor's queue: a pause after a refusal, a cap per session."""
    if (
        latest is not None
        and latest.status == MicStatus.REJECTED.value
        and latest.decided_at is not None
    ):
        wait = REJECT_COOLDOWN_S - (utcnow() - latest.decided_at).total_seconds()
        if wait > 0:
            raise Conflict(
                f"the anchor just declined your request; you may ask again in {int(wait) + 1} s",
                code="mic_cooldown",
                field="live_session_id",
            )
    count = await session.scalar(
        scoped(MicRequest, shop_id, func.count()).where(
            MicRequest.live_session_id == live_session_id, MicRequest.customer_id == customer_id
        )
    )
    if int(count or 0) >= MAX_REQUESTS_PER_SESSION:
        raise Conflict(
            f"you have asked {MAX_REQUESTS_PER_SESSION} times in this live; that is the most",
            code="mic_request_limit",
            field="live_session_id",
        )


async def withdraw(
    *, session: AsyncSession, shop_id: int, request_id: int, customer_id: int | None
) -> MicRequest:
    """The viewer cancels a waiting request, or leaves the mic when on it."""
    if customer_id is None:
        raise Unauthenticated("verify your phone number first", code="customer_required")
    request = await get_request(session=session, shop_id=shop_id, request_id=request_id)
    if request.customer_id != customer_id:  # another viewer's request is not theirs to see
        raise NotFound(
            f"mic_request {request_id} was not found", code="mic_request_not_found", field="id"
        )
    now = utcnow()
    if request.status == MicStatus.REQUESTED.value:
        moved = await _move(
            session,
            request,
            from_status=MicStatus.REQUESTED,
            values={
                "status": MicStatus.CANCELLED.value,
                "ended_at": now,
                "ended_by": "viewer",
                "open_customer_id": None,
            },
        )
        kind = "mic_cancelled"
    else:
        moved = await _move(
            session,
            request,
            from_status=MicStatus.ACCEPTED,
            values={
                "status": MicStatus.ENDED.value,
                "ended_at": now,
                "ended_by": "viewer",
                "seat": None,
                "open_customer_id": None,
            },
        )
        kind = "mic_ended"
    if not moved:
        raise Conflict(
            f"your mic request {REFUSALS.get(request.status, 'has moved on')}",
            code=f"mic_request_{request.status}",
            field="status",
        )
    await _record_event(session, request, kind)
    mic = await get_mic_room(
        session=session, shop_id=shop_id, live_session_id=request.live_session_id
    )
    if mic is not None:
        await _tell_room(session, mic, request)
    return request


# ----------------------------------------------------------------------------- after the live


async def rooms_to_close(*, session: AsyncSession) -> list[tuple[int, int]]:
    """(shop_id, live_session_id) of mics left open, or with open requests, in a live that
    has ended or was cancelled (for the sweep)."""
    open_mics = select(MicRoom.shop_id, MicRoom.live_session_id).where(MicRoom.is_open.is_(True))
    open_requests = select(MicRequest.shop_id, MicRequest.live_session_id).where(
        MicRequest.status.in_(OPEN_STATUSES)
    )
    candidates = open_mics.union(open_requests).subquery()
    rows = await session.execute(
        select(candidates.c.shop_id, candidates.c.live_session_id)
        .join(LiveSession, LiveSession.id == candidates.c.live_session_id)
        .where(LiveSession.status.in_(CLOSED_STATES))
    )
    return [(row[0], row[1]) for row in rows]


async def close_after_live(*, session: AsyncSession, shop_id: int, live_session_id: int) -> int:
    """Close the mic of an ended live: the guests' time on mic ends when the live ended.
    Idempotent: a closed mic with no open request is left as it is."""
    live_session = await session.get(LiveSession, live_session_id)
    if live_session is None or live_session.status not in CLOSED_STATES:
        return 0
    now = min(live_session.ended_at or utcnow(), utcnow())
    finished = await close_open_requests(
        session=session,
        shop_id=shop_id,
        live_session_id=live_session_id,
        now=now,
        reason="the live ended",
    )
    mic = await get_mic_room(session=session, shop_id=shop_id, live_session_id=live_session_id)
    was_open = mic is not None and mic.is_open
    if mic is not None and was_open:
        mic.is_open = False
        mic.closed_at = now
    await session.flush()
    if finished or was_open:
        await record_audit(
            session=session,
            actor=system_actor(shop_id, "mic sweep"),
            action="live.mic_close",
            target_type="live_session",
            target_id=live_session_id,
            details={"closed_requests": [r.id for r in finished], "reason": "live ended"},
        )
    return len(finished)
