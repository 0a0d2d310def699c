"""The simulated audience takes part in the room's interaction tools, as people would.

A viewer who wants a prize first verifies a phone number (the demo SMS provider shows the
code, so the simulated viewer reads it from the answer), becomes a customer and joins the room
again; then it comments the lottery keyword (口令) or taps 参与, and taps red packets. Each viewer acts on a tool at
most once, after a human-ish delay, and only some of them bother.
"""

from __future__ import annotations

import uuid
import zlib
from typing import Any

import httpx
import structlog

from liveloop.demo.audience import ViewerContext, ViewerStep

log = structlog.get_logger(__name__)

LOTTERY_INTEREST = 0.7  # share of viewers who enter a lottery they see
ENTER_RATE = 1 / 6  # per second, once interested: most enter within the first half minute
RED_PACKET_INTEREST = 0.85  # share of viewers who tap a red packet they see
GRAB_RATE = 1 / 2  # per second, once interested: a red packet rain is a rush


def demo_phone(ctx: ViewerContext) -> str:
    """A stable mainland mobile number per simulated viewer (never a real person's range)."""
    return f"1990{zlib.crc32(ctx.device_id.encode()) % 10_000_000:07d}"


async def api(ctx: ViewerContext, method: str, path: str, body: Any = None) -> httpx.Response:
    assert ctx.http is not None
    return await ctx.http.request(
        method,
        f"{ctx.base_url}/api/v1/public{path}",
        json=body,
        headers={"Authorization": f"Bearer {ctx.token}"},
    )


async def become_customer(ctx: ViewerContext) -> bool:
    """Phone code and login, once per viewer; True when the viewer is (now) a customer."""
    if ctx.memory.get("customer"):
        return True
    if ctx.memory.get("login_tried") or ctx.http is None or not ctx.token:
        return False
    ctx.memory["login_tried"] = True
    phone = demo_phone(ctx)
    try:
        sent = await api(ctx, "POST", "/phone-codes", {"phone": phone})
        code = sent.json().get("demo_code") if sent.status_code == 201 else None
        if not code:
            return False  # a real SMS provider: the simulated viewer cannot read its texts
        answer = await api(ctx, "POST", "/phone-login", {"phone": phone, "code": code})
        if answer.status_code != 200:
            return False
    except httpx.HTTPError as error:
        log.debug("demo_login_failed", error=repr(error))
        return False
    ctx.token = str(answer.json()["viewer_token"])
    ctx.memory["customer"] = True
    if ctx.rejoin is not None:
        await ctx.rejoin()  # comments from now on count for the customer
    return True


def _interested(ctx: ViewerContext, key: str, share: float) -> bool:
    decided = ctx.memory.setdefault("interest", {})
    if key not in decided:
        decided[key] = ctx.rng.random() < share
    return bool(decided[key])


async def ready_as_customer(ctx: ViewerContext, key: str) -> bool:
    """True once the viewer is a customer on a customer's socket; else start on the way there
    (a viewer who cannot verify a phone gives up on `key`)."""
    if not await become_customer(ctx):
        ctx.memory[key] = "guest"
        return False
    if not ctx.memory.get("joined_as_customer"):
        # The rejoin is under way: the next tick's socket is the customer's.
        ctx.memory["joined_as_customer"] = True
        return False
    return True


def take_part_in_lotteries(
    interest: float = LOTTERY_INTEREST, rate: float = ENTER_RATE
) -> ViewerStep:
    """Enter a running lottery: send the keyword (or any comment), or tap 参与."""

    async def step(ctx: ViewerContext) -> None:
        card = ctx.room.cards.get("lottery")
        if not card or card.get("state") != "running" or ctx.room.status != "live":
            return
        key = f"lottery:{card.get('id')}"
        if ctx.memory.get(key) or not _interested(ctx, key, interest):
            return
        if not ctx.chance(rate) or not await ready_as_customer(ctx, key):
            return
        ctx.memory[key] = "entered"
        condition = card.get("condition") or {}
        if condition.get("kind") in ("keyword", "comment"):
            text = condition.get("keyword") or ctx.rng.choice(["来了", "想要", "冲"])
            await ctx.send({"type": "comment", "text": text, "client_id": uuid.uuid4().hex})
        else:
            try:
                await api(ctx, "POST", f"/lotteries/{card['id']}/join")
            except httpx.HTTPError as error:
                log.debug("demo_lottery_join_failed", error=repr(error))

    return step


def grab_red_packets(interest: float = RED_PACKET_INTEREST, rate: float = GRAB_RATE) -> ViewerStep:
    """Tap a red packet while it is open (most viewers do, and fast); a refusal (手慢了, the
    condition not met) is what a person would see and shrug at."""

    async def step(ctx: ViewerContext) -> None:
        card = ctx.room.cards.get("red_packet")
        if not card or card.get("state") != "open" or ctx.room.status != "live":
            return
        key = f"red_packet:{card.get('id')}"
        if ctx.memory.get(key) or not _interested(ctx, key, interest):
            return
        if not ctx.chance(rate) or not await ready_as_customer(ctx, key):
            return
        ctx.memory[key] = "tapped"
        condition = card.get("condition") or {}
        if condition.get("kind") in ("keyword", "comment"):
            text = condition.get("keyword") or ctx.rng.choice(["抢", "红包来了"])
            await ctx.send({"type": "comment", "text": text, "client_id": uuid.uuid4().hex})
        try:
            answer = await api(ctx, "POST", f"/red-packets/{card['id']}/grab")
            log.debug("demo_red_packet_grab", status=answer.status_code)
        except httpx.HTTPError as error:
            log.debug("demo_red_packet_grab_failed", error=repr(error))

    return step


def steps() -> tuple[ViewerStep, ...]:
    return (take_part_in_lotteries(), grab_red_packets())
