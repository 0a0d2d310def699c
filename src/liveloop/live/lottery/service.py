"""Lotteries (抽奖): start with a committed seed, take entries, draw verifiably, grant prizes.

Entry: for a comment or keyword (口令) lottery the comment is the entry (read from the room's
comment events at the draw); for the other conditions the viewer taps 参与 (`join_lottery`,
checked against the condition then) and is checked again at the draw. The draw runs as a job a
few seconds after the entry window closes (the room writes comments about a second behind),
and is idempotent: a lottery is drawn once, under a row lock.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import structlog
from sqlalchemy import CompoundSelect, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from liveloop.core.jobs import enqueue_after_commit
from liveloop.live.conditions import EntryCondition, check_condition, eligible_customers
from liveloop.live.lottery import draw
from liveloop.live.lottery.models import (
    Lottery,
    LotteryEntry,
    LotteryStatus,
    PrizeKind,
    PrizeStatus,
)
from liveloop.live.lottery.schemas import LotteryIn, PrizeAddressIn
from liveloop.live.models import LiveRestriction, LiveSession, LiveStatus
from liveloop.live.outbox import send_after_commit
from liveloop.live.service import check_may_run, check_open, get_live_session
from liveloop.shops.service import Actor, record_audit, system_actor

log = structlog.get_logger(__name__)

DRAW_DELAY_S = 3  # after ends_at: comments reach the events table about a second behind
RESULT_SHOWN_S = 120  # how long the winners card stays in the room's snapshot
COMMENT_KINDS = ("comment", "keyword")
STAFF_TAG = "员工"  # customers with this tag are the shop's own people: left out of draws
ENTRY_BATCH = 5_000


# ----------------------------------------------------------------------------- reading


async def get_lottery(*, session: AsyncSession, shop_id: int, lottery_id: int) -> Lottery:
    return await get_scoped(
        session, Lottery, shop_id=shop_id, record_id=lottery_id, label="lottery"
    )


async def list_lotteries(
    *, session: AsyncSession, shop_id: int, live_session_id: int, limit: int = 50
) -> list[Lottery]:
    statement = (
        scoped(Lottery, shop_id)
        .where(Lottery.live_session_id == live_session_id)
        .order_by(Lottery.id.desc())
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def list_entries(
    *, session: AsyncSession, shop_id: int, lottery_id: int, winners_only: bool = False
) -> list[LotteryEntry]:
    statement = scoped(LotteryEntry, shop_id).where(LotteryEntry.lottery_id == lottery_id)
    if winners_only:
        statement = statement.where(LotteryEntry.rank.is_not(None))
    statement = statement.order_by(
        LotteryEntry.rank.is_(None), LotteryEntry.rank, LotteryEntry.position, LotteryEntry.id
    )
    return list((await session.execute(statement)).scalars())


async def entry_of(
    *, session: AsyncSession, shop_id: int, lottery_id: int, customer_id: int
) -> LotteryEntry | None:
    statement = scoped(LotteryEntry, shop_id).where(
        LotteryEntry.lottery_id == lottery_id, LotteryEntry.customer_id == customer_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


def mask_name(name: str | None) -> str:
    """'张小明' -> '张**' (what the room shows of a winner)."""
    if not name:
        return "观众"
    return name[0] + "*" * min(max(len(name) - 1, 1), 2)


async def _names(session: AsyncSession, shop_id: int, customer_ids: list[int]) -> dict[int, str]:
    from liveloop.customers.communities import service as communities

    names = await communities.customer_names(
        session=session, shop_id=shop_id, customer_ids=customer_ids
    )
    return {key: value or "" for key, value in names.items()}


# ----------------------------------------------------------------------------- the card


def public_condition(condition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in condition.items() if v is not None}


def lottery_card(lottery: Lottery, winners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The room's card (docs/live-protocol.md "lottery")."""
    card: dict[str, Any] = {
        "id": lottery.id,
        "title": lottery.title,
        "prize": {"kind": lottery.prize_kind, "name": lottery.prize_name},
        "winner_count": lottery.winner_count,
        "condition": public_condition(lottery.condition),
        "state": lottery.status,
        "starts_at": lottery.starts_at.isoformat(),
        "ends_at": lottery.ends_at.isoformat(),
        "seed_hash": lottery.seed_hash,
        "verify_url": f"/api/v1/public/lotteries/{lottery.id}/draw",
    }
    if lottery.status != LotteryStatus.RUNNING.value:
        finished = lottery.drawn_at or lottery.ends_at
        card.update(
            entrant_count=lottery.entrant_count,
            winners=winners or [],
            drawn_at=finished.isoformat(),
            show_until=(finished + dt.timedelta(seconds=RESULT_SHOWN_S)).isoformat(),
        )
    return card


async def winners_public(session: AsyncSession, lottery: Lottery) -> list[dict[str, Any]]:
    entries = await list_entries(
        session=session, shop_id=lottery.shop_id, lottery_id=lottery.id, winners_only=True
    )
    names = await _names(session, lottery.shop_id, [e.customer_id for e in entries])
    return [
        {"rank": e.rank, "ticket": e.ticket, "name": mask_name(names.get(e.customer_id))}
        for e in entries
    ]


async def current_room_card(
    *, session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, Any] | None:
    """The running lottery of the room, else the last one drawn while its result shows."""
    statement = (
        scoped(Lottery, shop_id)
        .where(Lottery.live_session_id == live_session_id)
        .order_by(Lottery.id.desc())
        .limit(1)
    )
    lottery = (await session.execute(statement)).scalar_one_or_none()
    if lottery is None:
        return None
    card = lottery_card(lottery, await winners_public(session, lottery))
    until = card.get("show_until")
    if until and dt.datetime.fromisoformat(until) <= utcnow():
        return None
    return card


async def public_draw(*, session: AsyncSession, lottery_id: int) -> dict[str, Any]:
    """What anyone may check (docs/lottery-fairness.md): no names, no customer ids."""
    lottery = (
        await session.execute(select(Lottery).where(Lottery.id == lottery_id))
    ).scalar_one_or_none()
    if lottery is None:
        raise NotFound(f"lottery {lottery_id} was not found", code="lottery_not_found", field="id")
    published: dict[str, Any] = {
        "lottery_id": lottery.id,
        "algorithm": draw.ALGORITHM,
        "status": lottery.status,
        "title": lottery.title,
        "winner_count": lottery.winner_count,
        "condition": public_condition(lottery.condition),
        "starts_at": lottery.starts_at.isoformat(),
        "ends_at": lottery.ends_at.isoformat(),
        "seed_hash": lottery.seed_hash,
        "seed": lottery.published_seed,
        "entrants_hash": lottery.entrants_hash or None,
        "entrants": [],
        "winners": lottery.winner_tickets,
    }
    if lottery.status == LotteryStatus.DRAWN.value:
        rows = await session.execute(
            select(LotteryEntry.ticket)
            .where(LotteryEntry.lottery_id == lottery.id, LotteryEntry.position.is_not(None))
            .order_by(LotteryEntry.position)
        )
        published["entrants"] = [row[0] for row in rows]
    return published


# ----------------------------------------------------------------------------- starting


async def _check_prize(
    session: AsyncSession, shop_id: int, data: LotteryIn
) -> tuple[str, str | None]:
    """The prize's display name and its running key (a prize in one running lottery only)."""
    if data.prize_kind == PrizeKind.COUPON.value:
        from liveloop.commerce.coupons import service as coupons

        try:
            coupon = await coupons.get_coupon(
                session=session, shop_id=shop_id, coupon_id=int(data.prize_coupon_id or 0)
            )
        except NotFound:
            raise InvalidInput(
                f"coupon {data.prize_coupon_id} was not found in this shop",
                code="coupon_not_found",
                field="prize_coupon_id",
            ) from None
        left = coupon.total_quantity - coupon.claimed_count
        if left < data.winner_count:
            raise Conflict(
                f"coupon {coupon.id} ({coupon.title}) has {left} left, fewer than the "
                f"{data.winner_count} winners; raise its quantity or draw fewer winners",
                code="prize_coupon_short",
                field="winner_count",
            )
        return data.prize_name.strip() or coupon.title, f"coupon:{coupon.id}"
    if data.prize_kind == PrizeKind.PRODUCT.value:
        from liveloop.catalog import service as catalog

        try:
            product = await catalog.get_product(
                session=session, shop_id=shop_id, product_id=int(data.prize_product_id or 0)
            )
        except NotFound:
            raise InvalidInput(
                f"product {data.prize_product_id} was not found in this shop",
                code="product_not_found",
                field="prize_product_id",
            ) from None
        return data.prize_name.strip() or product.name, f"product:{product.id}"
    if data.prize_kind == PrizeKind.POINTS.value:
        return data.prize_name.strip() or f"{data.prize_points} 积分", None
    return data.prize_name.strip(), None


async def start_lottery(
    *, session: AsyncSession, actor: Actor, live_session_id: int, data: LotteryIn
) -> Lottery:
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    check_may_run(actor, live_session)
    check_open(live_session, "start a lottery")
    if live_session.status != LiveStatus.LIVE.value:
        raise Conflict(
            f"live session {live_session.id} is not on air; start the live first",
            code="live_session_not_live",
            field="live_session_id",
        )
    condition = EntryCondition.model_validate(data.condition.model_dump())
    await check_condition(session=session, shop_id=actor.shop_id, condition=condition)
    prize_name, prize_key = await _check_prize(session, actor.shop_id, data)
    await _refuse_running(session, actor.shop_id, live_session, prize_key)
    now = utcnow()
    seed = draw.new_seed()
    lottery = Lottery(
        shop_id=actor.shop_id,
        live_session_id=live_session.id,
        title=data.title.strip(),
        prize_kind=data.prize_kind,
        prize_name=prize_name,
        prize_coupon_id=data.prize_coupon_id if data.prize_kind == "coupon" else None,
        prize_product_id=data.prize_product_id if data.prize_kind == "product" else None,
        prize_points=int(data.prize_points or 0) if data.prize_kind == "points" else 0,
        winner_count=data.winner_count,
        condition=condition.model_dump(),
        exclude_banned=data.exclude_banned,
        exclude_winners_today=data.exclude_winners_today,
        exclude_staff=data.exclude_staff,
        starts_at=now,
        ends_at=now + dt.timedelta(seconds=data.duration_seconds),
        seed=seed,
        seed_hash=draw.commitment(seed),
        ticket_salt=secrets.token_hex(32),
        running_room_key=live_session.id,
        running_prize_key=prize_key,
        created_by=actor.staff_id,
    )
    try:
        async with session.begin_nested():
            session.add(lottery)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "another lottery was started in this room or on this prize at the same moment",
            code="lottery_running",
            field="live_session_id",
        ) from None
    await record_audit(
        session=session,
        actor=actor,
        action="live.lottery_start",
        target_type="lottery",
        target_id=lottery.id,
        details={
            "live_session_id": live_session.id,
            "prize": {"kind": lottery.prize_kind, "name": prize_name},
            "winner_count": lottery.winner_count,
            "condition": public_condition(lottery.condition),
            "ends_at": lottery.ends_at.isoformat(),
            "seed_hash": lottery.seed_hash,
        },
    )
    send_after_commit(
        session,
        live_session_id=live_session.id,
        message={"type": "lottery", "card": lottery_card(lottery)},
    )
    _schedule_draw(session, lottery)
    return lottery


def _schedule_draw(session: AsyncSession, lottery: Lottery) -> None:
    from liveloop.live.lottery import tasks

    enqueue_after_commit(
        session,
        tasks.draw_lottery_when_due,
        eta=lottery.ends_at + dt.timedelta(seconds=DRAW_DELAY_S),
        shop_id=lottery.shop_id,
        lottery_id=lottery.id,
    )


async def _refuse_running(
    session: AsyncSession, shop_id: int, live_session: LiveSession, prize_key: str | None
) -> None:
    """A readable refusal; the unique keys refuse a race all the same."""
    clauses = [Lottery.running_room_key == live_session.id]
    if prize_key is not None:
        clauses.append(Lottery.running_prize_key == prize_key)
    running = (
        await session.execute(scoped(Lottery, shop_id).where(or_(*clauses)).limit(1))
    ).scalar_one_or_none()
    if running is None:
        return
    if running.running_room_key == live_session.id:
        raise Conflict(
            f"lottery {running.id} ({running.title}) is still running in this room; draw or "
            f"cancel it first",
            code="lottery_running",
            field="live_session_id",
        )
    raise Conflict(
        f"this prize is already in lottery {running.id} ({running.title}) of live session "
        f"{running.live_session_id}; one prize is drawn in one lottery at a time",
        code="prize_in_lottery",
        field="prize_coupon_id"
        if prize_key and prize_key.startswith("coupon")
        else "prize_product_id",
    )


# ----------------------------------------------------------------------------- entering


def _check_running(lottery: Lottery, now: dt.datetime) -> None:
    if lottery.status != LotteryStatus.RUNNING.value or now >= lottery.ends_at:
        raise Conflict(
            f"lottery {lottery.id} no longer takes entries", code="lottery_closed", field="id"
        )


async def join_lottery(
    *,
    session: AsyncSession,
    shop_id: int,
    lottery_id: int,
    customer_id: int | None,
    live_session_id: int | None,
) -> LotteryEntry:
    """The viewer taps 参与: recorded when they meet the condition now (again checked at the
    draw). Repeats return the same entry. A comment or keyword lottery is entered by
    commenting, not here."""
    lottery = await get_lottery(session=session, shop_id=shop_id, lottery_id=lottery_id)
    if live_session_id != lottery.live_session_id:
        raise InvalidInput(
            "the viewer token is for another live room; reload the page",
            code="token_wrong_room",
            field="token",
        )
    if customer_id is None:
        raise Unauthenticated(
            "leave your phone number first: a prize needs someone to go to",
            code="customer_required",
        )
    now = utcnow()
    _check_running(lottery, now)
    condition = EntryCondition.model_validate(lottery.condition)
    if condition.kind in COMMENT_KINDS:
        hint = f"comment 「{condition.keyword}」" if condition.kind == "keyword" else "comment"
        raise Conflict(
            f"this lottery is entered by a comment: {hint} in the room",
            code="lottery_enter_by_comment",
            field="text",
        )
    existing = await entry_of(
        session=session, shop_id=shop_id, lottery_id=lottery.id, customer_id=customer_id
    )
    if existing is not None:
        return existing
    if not await _eligible_now(session, lottery, condition, customer_id, now):
        raise Conflict(_unmet_text(condition), code="condition_not_met", field="condition")
    entry = LotteryEntry(
        shop_id=shop_id,
        lottery_id=lottery.id,
        customer_id=customer_id,
        ticket=draw.ticket_for(lottery.ticket_salt, customer_id),
        joined_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(entry)
            await session.flush()
    except IntegrityError:  # a double tap from two devices: the other one won
        found = await entry_of(
            session=session, shop_id=shop_id, lottery_id=lottery.id, customer_id=customer_id
        )
        if found is None:
            raise
        return found
    return entry


async def _eligible_now(
    session: AsyncSession,
    lottery: Lottery,
    condition: EntryCondition,
    customer_id: int,
    now: dt.datetime,
) -> bool:
    statement = eligible_customers(
        shop_id=lottery.shop_id,
        live_session_id=lottery.live_session_id,
        condition=condition,
        since=lottery.starts_at,
        until=lottery.ends_at,
        now=now,
    ).subquery()
    column = next(iter(statement.c))
    found = await session.execute(select(column).where(column == customer_id).limit(1))
    return found.first() is not None


def _unmet_text(condition: EntryCondition) -> str:
    return {
        "none": "enter the live room first",
        "like": "like the live room first (tap the heart)",
        "share": "share the live room first",
        "reserved": "only viewers who reserved this session may enter",
        "community": "join the shop's community first",
        "watch_time": f"watch at least {(condition.min_watch_seconds or 0) // 60 or 1} "
        f"minutes of this session first",
    }.get(condition.kind, "you do not meet the entry condition")


# ----------------------------------------------------------------------------- drawing


async def _lock(session: AsyncSession, shop_id: int, lottery_id: int) -> Lottery:
    statement = (
        scoped(Lottery, shop_id)
        .where(Lottery.id == lottery_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    lottery = (await session.execute(statement)).scalar_one_or_none()
    if lottery is None:
        raise NotFound(f"lottery {lottery_id} was not found", code="lottery_not_found", field="id")
    return lottery


async def entrant_ids(session: AsyncSession, lottery: Lottery) -> list[int]:
    """The customers who are in the draw: meet the condition in the window, joined where the
    condition is not a comment, minus the exclusions."""
    condition = EntryCondition.model_validate(lottery.condition)
    eligible = eligible_customers(
        shop_id=lottery.shop_id,
        live_session_id=lottery.live_session_id,
        condition=condition,
        since=lottery.starts_at,
        until=lottery.ends_at,
        now=lottery.ends_at,
    ).subquery()
    customer = next(iter(eligible.c))
    statement = select(customer).where(customer.is_not(None))
    if condition.kind not in COMMENT_KINDS:
        joined = select(LotteryEntry.customer_id).where(
            LotteryEntry.lottery_id == lottery.id,
            LotteryEntry.joined_at.is_not(None),
            LotteryEntry.joined_at <= lottery.ends_at,
        )
        statement = statement.where(customer.in_(joined))
    if lottery.exclude_banned:
        banned = select(LiveRestriction.customer_id).where(
            LiveRestriction.shop_id == lottery.shop_id,
            LiveRestriction.kind == "ban",
            LiveRestriction.customer_id.is_not(None),
            or_(
                LiveRestriction.live_session_id.is_(None),
                LiveRestriction.live_session_id == lottery.live_session_id,
            ),
            or_(LiveRestriction.until.is_(None), LiveRestriction.until > lottery.ends_at),
        )
        statement = statement.where(customer.not_in(banned))
    if lottery.exclude_winners_today:
        day_start = await _shop_day_start(session, lottery.shop_id, lottery.ends_at)
        won = select(LotteryEntry.customer_id).where(
            LotteryEntry.shop_id == lottery.shop_id,
            LotteryEntry.rank.is_not(None),
            LotteryEntry.lottery_id != lottery.id,
            LotteryEntry.won_at >= day_start,
        )
        statement = statement.where(customer.not_in(won))
    if lottery.exclude_staff:
        statement = statement.where(
            customer.not_in(await staff_customers(session, lottery.shop_id))
        )
    return sorted({row[0] for row in await session.execute(statement)})


async def staff_customers(session: AsyncSession, shop_id: int) -> CompoundSelect:
    """The shop's own people among its customers: a customer whose e-mail identity is an active
    staff member's login e-mail, or who carries the tag STAFF_TAG (员工), which an operator puts
    on the profiles of colleagues who watch from their own phones."""
    from liveloop.customers.crypto import get_cipher
    from liveloop.customers.identities import make_identity
    from liveloop.customers.models import CustomerIdentity, CustomerTag, Tag
    from liveloop.shops.models import Staff

    emails = (
        await session.execute(
            select(Staff.email).where(Staff.shop_id == shop_id, Staff.is_active.is_(True))
        )
    ).scalars()
    cipher = get_cipher()
    keys = [make_identity(cipher, "email", email, encrypt=False).key for email in emails]
    by_email = select(CustomerIdentity.customer_id).where(
        CustomerIdentity.shop_id == shop_id,
        CustomerIdentity.channel == "email",
        CustomerIdentity.key.in_(keys),
    )
    by_tag = (
        select(CustomerTag.customer_id)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .where(Tag.shop_id == shop_id, Tag.name == STAFF_TAG)
    )
    return by_email.union(by_tag)


async def _shop_day_start(session: AsyncSession, shop_id: int, moment: dt.datetime) -> dt.datetime:
    from liveloop.customers.points.service import shop_zone

    zone = await shop_zone(session, shop_id)
    local = moment.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


async def draw_lottery(
    *, session: AsyncSession, shop_id: int, lottery_id: int, now: dt.datetime | None = None
) -> Lottery:
    """Draw a running lottery whose window closed (DRAW_DELAY_S ago); anything else is left as
    it is, so the job may run any number of times."""
    now = now or utcnow()
    lottery = await _lock(session, shop_id, lottery_id)
    if lottery.status != LotteryStatus.RUNNING.value:
        return lottery
    if now < lottery.ends_at + dt.timedelta(seconds=DRAW_DELAY_S):
        return lottery
    customers = await entrant_ids(session, lottery)
    joined = {
        entry.customer_id: entry
        for entry in await list_entries(session=session, shop_id=shop_id, lottery_id=lottery.id)
    }
    ticket_of = {
        customer_id: joined[customer_id].ticket
        if customer_id in joined
        else draw.ticket_for(lottery.ticket_salt, customer_id)
        for customer_id in customers
    }
    tickets = sorted(ticket_of.values())
    position_of = {ticket: position for position, ticket in enumerate(tickets)}
    winners = draw.draw_winners(lottery.seed, tickets, lottery.winner_count)
    rank_of = {ticket: rank for rank, ticket in enumerate(winners, start=1)}
    # Entrants who never tapped 参与 (a comment lottery: all of them) get their row in bulk:
    # tens of thousands of entrants are one executemany, not one ORM object each.
    new_rows = [
        {
            "shop_id": shop_id,
            "lottery_id": lottery.id,
            "customer_id": customer_id,
            "ticket": ticket,
            "position": position_of[ticket],
            "rank": rank_of.get(ticket),
            "won_at": now if ticket in rank_of else None,
        }
        for customer_id, ticket in ticket_of.items()
        if customer_id not in joined
    ]
    for first in range(0, len(new_rows), ENTRY_BATCH):
        await session.execute(insert(LotteryEntry), new_rows[first : first + ENTRY_BATCH])
    for customer_id, entry in joined.items():
        if customer_id in ticket_of:
            entry.position = position_of[entry.ticket]
            if entry.ticket in rank_of:
                entry.rank, entry.won_at = rank_of[entry.ticket], now
    lottery.status = LotteryStatus.DRAWN.value
    lottery.drawn_at = now
    lottery.entrant_count = len(tickets)
    lottery.entrants_hash = draw.entrants_digest(tickets)
    lottery.winner_tickets = winners
    lottery.running_room_key = None
    lottery.running_prize_key = None
    await session.flush()
    actor = system_actor(shop_id, "lottery draw")
    await record_audit(
        session=session,
        actor=actor,
        action="live.lottery_draw",
        target_type="lottery",
        target_id=lottery.id,
        details={
            "entrants": len(tickets),
            "entrants_hash": lottery.entrants_hash,
            "winners": winners,
            "seed": lottery.seed,
        },
    )
    winning = await list_entries(
        session=session, shop_id=shop_id, lottery_id=lottery.id, winners_only=True
    )
    for entry in winning:
        await _grant_prize(session, lottery, entry, actor)
    await session.flush()
    await _record_wins(session, lottery, winning)
    for entry in winning:
        await _notify_winner(session, lottery, entry)
    send_after_commit(
        session,
        live_session_id=lottery.live_session_id,
        message={
            "type": "lottery",
            "card": lottery_card(lottery, await winners_public(session, lottery)),
        },
    )
    return lottery


async def _grant_prize(
    session: AsyncSession, lottery: Lottery, entry: LotteryEntry, actor: Actor
) -> None:
    """Coupons and points at once (a failure is recorded on the entry, the draw stands);
    products and custom prizes wait for the winner's address."""
    reason = f"lottery {lottery.id}: {lottery.title}"
    try:
        async with session.begin_nested():
            if lottery.prize_kind == PrizeKind.COUPON.value and lottery.prize_coupon_id:
                from liveloop.commerce.coupons import service as coupons

                await coupons.grant_coupon(
                    session=session,
                    shop_id=lottery.shop_id,
                    coupon_id=lottery.prize_coupon_id,
                    customer_id=entry.customer_id,
                    reason=reason[:200],
                )
                entry.prize_status = PrizeStatus.GRANTED.value
            elif lottery.prize_kind == PrizeKind.POINTS.value:
                from liveloop.customers.points import service as points

                await points.grant_points_once(
                    session=session,
                    shop_id=lottery.shop_id,
                    customer_id=entry.customer_id,
                    points=lottery.prize_points,
                    reason=reason[:200],
                    ref_type="lottery",
                    ref_id=lottery.id,
                    idempotency_key=f"lottery:{lottery.id}:{entry.customer_id}",
                )
                entry.prize_status = PrizeStatus.GRANTED.value
            else:
                entry.prize_status = PrizeStatus.AWAITING_ADDRESS.value
            await session.flush()
    except Exception as error:  # the coupon ran out, the customer was erased…
        log.warning("lottery_prize_failed", lottery_id=lottery.id, error=repr(error))
        entry.prize_status = PrizeStatus.FAILED.value
        entry.prize_note = str(error)[:200]
    await record_audit(
        session=session,
        actor=actor,
        action="live.lottery_prize",
        target_type="lottery",
        target_id=lottery.id,
        details={
            "customer_id": entry.customer_id,
            "rank": entry.rank,
            "prize": {"kind": lottery.prize_kind, "name": lottery.prize_name},
            "status": entry.prize_status,
        },
    )


WIN_NOTICES = {
    PrizeStatus.GRANTED.value: "恭喜！你在直播抽奖「{title}」中抽中 {prize}，奖品已发放到你的账户。",
    PrizeStatus.AWAITING_ADDRESS.value: (
        "恭喜！你在直播抽奖「{title}」中抽中 {prize}。请在直播间的抽奖卡片里填写收货地址，"
        "我们收到后尽快发出。"
    ),
    PrizeStatus.FAILED.value: (
        "恭喜！你在直播抽奖「{title}」中抽中 {prize}。奖品发放遇到问题，客服会尽快联系你。"
    ),
}


async def _notify_winner(session: AsyncSession, lottery: Lottery, entry: LotteryEntry) -> None:
    """Tell the winner outside the room too: a notice from the shop in their customer
    service conversation (the only channel to a customer so far). A failure is logged; the
    draw stands."""
    from liveloop.live.servicechat import service as servicechat

    template = WIN_NOTICES.get(entry.prize_status or "", WIN_NOTICES[PrizeStatus.GRANTED.value])
    try:
        async with session.begin_nested():
            await servicechat.notify_customer(
                session=session,
                shop_id=lottery.shop_id,
                customer_id=entry.customer_id,
                text=template.format(title=lottery.title, prize=lottery.prize_name),
                client_id=f"lottery-win-{lottery.id}",
                live_session_id=lottery.live_session_id,
            )
    except Exception as error:  # the customer was erased meanwhile…
        log.warning("lottery_notice_failed", lottery_id=lottery.id, error=repr(error))


async def _record_wins(
    session: AsyncSession, lottery: Lottery, winners: list[LotteryEntry]
) -> None:
    from liveloop.events import service as events_service

    items: list[dict[str, Any]] = [
        {
            "type": "lottery_win",
            "customer_id": entry.customer_id,
            "live_session_id": lottery.live_session_id,
            "properties": {
                "lottery_id": lottery.id,
                "rank": entry.rank,
                "prize": lottery.prize_kind,
            },
            "client_event_id": f"lottery-win-{lottery.id}-{entry.customer_id}",
        }
        for entry in winners
    ]
    if items:
        await events_service.ingest_events(
            session=session, shop_id=lottery.shop_id, items=items, mark_customers_active=False
        )


async def close_entries_now(*, session: AsyncSession, actor: Actor, lottery_id: int) -> Lottery:
    """开奖: stop taking entries now; the draw follows DRAW_DELAY_S later."""
    lottery = await _lock(session, actor.shop_id, lottery_id)
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=lottery.live_session_id
    )
    check_may_run(actor, live_session)
    now = utcnow()
    _check_running(lottery, now)
    lottery.ends_at = now
    await session.flush()
    await record_audit(
        session=session, actor=actor, action="live.lottery_close", target_type="lottery",
        target_id=lottery.id, details={"ends_at": now.isoformat()},
    )  # fmt: skip
    send_after_commit(
        session,
        live_session_id=lottery.live_session_id,
        message={"type": "lottery", "card": lottery_card(lottery)},
    )
    _schedule_draw(session, lottery)
    return lottery


async def cancel_lottery(*, session: AsyncSession, actor: Actor, lottery_id: int) -> Lottery:
    """Stop without a draw (nobody wins); the seed is published all the same."""
    lottery = await _lock(session, actor.shop_id, lottery_id)
    live_session = await get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=lottery.live_session_id
    )
    check_may_run(actor, live_session)
    if lottery.status != LotteryStatus.RUNNING.value:
        raise Conflict(
            f"lottery {lottery.id} is {lottery.status}; only a running lottery can be cancelled",
            code=f"lottery_{lottery.status}",
            field="status",
        )
    lottery.status = LotteryStatus.CANCELLED.value
    lottery.drawn_at = utcnow()
    lottery.running_room_key = None
    lottery.running_prize_key = None
    await session.flush()
    await record_audit(
        session=session, actor=actor, action="live.lottery_cancel", target_type="lottery",
        target_id=lottery.id, details={"seed": lottery.seed},
    )  # fmt: skip
    send_after_commit(
        session,
        live_session_id=lottery.live_session_id,
        message={"type": "lottery", "card": lottery_card(lottery)},
    )
    return lottery


async def due_lottery_ids(
    *, session: AsyncSession, now: dt.datetime | None = None
) -> list[tuple[int, int]]:
    """Running lotteries whose draw is due (for the sweep that catches a lost job)."""
    now = now or utcnow()
    rows = await session.execute(
        select(Lottery.shop_id, Lottery.id).where(
            Lottery.status == LotteryStatus.RUNNING.value,
            Lottery.ends_at <= now - dt.timedelta(seconds=DRAW_DELAY_S),
        )
    )
    return [(row[0], row[1]) for row in rows]


# ----------------------------------------------------------------------------- prizes


async def submit_address(
    *,
    session: AsyncSession,
    shop_id: int,
    lottery_id: int,
    customer_id: int | None,
    data: PrizeAddressIn,
) -> LotteryEntry:
    from liveloop.commerce import addresses

    if customer_id is None:
        raise Unauthenticated("sign in first", code="customer_required")
    entry = await entry_of(
        session=session, shop_id=shop_id, lottery_id=lottery_id, customer_id=customer_id
    )
    if entry is None or entry.rank is None:
        raise NotFound("you did not win this lottery", code="not_a_winner", field="lottery_id")
    if entry.prize_status not in (PrizeStatus.AWAITING_ADDRESS.value, PrizeStatus.TO_SHIP.value):
        raise Conflict(
            f"this prize is {entry.prize_status}; it needs no address",
            code="prize_needs_no_address",
            field="lottery_id",
        )
    address = await addresses.find_or_create_address(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        data=addresses.AddressData(**data.model_dump(), is_default=False),
    )
    entry.address_id = address.id
    entry.prize_status = PrizeStatus.TO_SHIP.value
    await session.flush()
    return entry


async def mark_shipped(
    *, session: AsyncSession, actor: Actor, lottery_id: int, entry_id: int, note: str
) -> LotteryEntry:
    entry = await get_scoped(
        session, LotteryEntry, shop_id=actor.shop_id, record_id=entry_id, label="lottery entry"
    )
    if entry.lottery_id != lottery_id:
        raise NotFound(f"lottery entry {entry_id} was not found", code="lottery_entry_not_found")
    if entry.prize_status != PrizeStatus.TO_SHIP.value:
        raise Conflict(
            f"the prize is {entry.prize_status or 'not won'}; only a prize with an address can "
            f"be marked shipped",
            code="prize_not_ready",
            field="prize_status",
        )
    entry.prize_status = PrizeStatus.SHIPPED.value
    entry.shipped_at = utcnow()
    entry.prize_note = note.strip()[:200]
    await session.flush()
    await record_audit(
        session=session, actor=actor, action="live.lottery_prize_shipped",
        target_type="lottery", target_id=lottery_id,
        details={"entry_id": entry.id, "customer_id": entry.customer_id, "note": entry.prize_note},
    )  # fmt: skip
    return entry


async def describe_entries(
    session: AsyncSession, shop_id: int, entries: list[LotteryEntry]
) -> list[dict[str, Any]]:
    """Entries for the console: names (staff may see them) and the prize address, masked."""
    from liveloop.commerce import addresses

    names = await _names(session, shop_id, [e.customer_id for e in entries])
    described = []
    for entry in entries:
        address = None
        if entry.address_id is not None:
            try:
                view = addresses.view_address(
                    await addresses.get_address(
                        session=session,
                        shop_id=shop_id,
                        customer_id=entry.customer_id,
                        address_id=entry.address_id,
                    )
                )
                address = (
                    f"{view.recipient_name} {view.phone_masked} {view.region}{view.city}"
                    f"{view.district}{view.detail}"
                )
            except NotFound:
                address = None
        described.append(
            {
                "id": entry.id,
                "customer_id": entry.customer_id,
                "name": names.get(entry.customer_id) or "—",
                "ticket": entry.ticket,
                "position": entry.position,
                "rank": entry.rank,
                "prize_status": entry.prize_status,
                "prize_note": entry.prize_note,
                "address": address,
                "won_at": entry.won_at,
                "shipped_at": entry.shipped_at,
            }
        )
    return described
