"""The simulated audience asks to go on mic (上麦) and to talk with the shop (客服).

While the anchor's mic is open, a few viewers (not many: most people watch) verify a phone,
ask once with a short note, and sometimes withdraw while they wait; the anchor accepts or
rejects in the console, as a person would. Now and then a viewer asks the shop's customer
service a question from the room, once.
"""

from __future__ import annotations

import uuid

import httpx
import structlog

from liveloop.demo.audience import ViewerContext, ViewerStep
from liveloop.demo.interaction import _interested, api, ready_as_customer

log = structlog.get_logger(__name__)

MIC_INTEREST = 0.08  # share of viewers who ask to go on mic when it is open
MIC_RATE = 1 / 20  # per second, once interested
WITHDRAW_RATE = 1 / 120  # per second while waiting: some give up
SERVICE_INTEREST = 0.04  # share of viewers who ask the shop something during the live
SERVICE_RATE = 1 / 90
MIC_NOTES = ("想问尺码", "分享一下使用感受", "想看细节", "")
QUESTIONS = ("这款有现货吗？", "什么时候发货？", "可以开发票吗？", "M 码适合 60 公斤吗？")


def ask_to_go_on_mic(
    interest: float = MIC_INTEREST, rate: float = MIC_RATE, withdraw_rate: float = WITHDRAW_RATE
) -> ViewerStep:
    """Ask once while the mic is open; a waiting viewer may withdraw."""

    async def step(ctx: ViewerContext) -> None:
        card = ctx.room.cards.get("mic")
        if not card or card.get("state") != "open" or ctx.room.status != "live":
            return
        key = f"mic:{card.get('id')}"
        request_id = ctx.memory.get(f"{key}:request")
        if request_id and ctx.chance(withdraw_rate):
            ctx.memory[f"{key}:request"] = None
            try:
                await api(ctx, "POST", f"/mic/requests/{request_id}/cancel")
            except httpx.HTTPError as error:
                log.debug("demo_mic_withdraw_failed", error=repr(error))
            return
        if ctx.memory.get(key) or not _interested(ctx, key, interest):
            return
        if not ctx.chance(rate) or not await ready_as_customer(ctx, key):
            return
        ctx.memory[key] = "asked"
        try:
            answer = await api(
                ctx, "POST", f"/live/{card.get('live_session_id')}/mic/requests",
                {"note": ctx.rng.choice(MIC_NOTES)},
            )  # fmt: skip
            if answer.status_code in (200, 201):
                ctx.memory[f"{key}:request"] = answer.json().get("id")
        except httpx.HTTPError as error:
            log.debug("demo_mic_request_failed", error=repr(error))

    return step


def ask_the_shop(interest: float = SERVICE_INTEREST, rate: float = SERVICE_RATE) -> ViewerStep:
    """Open the chat with customer service and ask one question (once per viewer)."""

    async def step(ctx: ViewerContext) -> None:
        if ctx.room.status != "live" or ctx.memory.get("service_chat"):
            return
        if not _interested(ctx, "service_chat", interest) or not ctx.chance(rate):
            return
        if not await ready_as_customer(ctx, "service_chat"):
            return
        ctx.memory["service_chat"] = "asked"
        try:
            opened = await api(ctx, "POST", "/service/conversations")
            if opened.status_code not in (200, 201):
                return
            await api(
                ctx, "POST", f"/service/conversations/{opened.json()['id']}/messages",
                {"text": ctx.rng.choice(QUESTIONS), "client_id": uuid.uuid4().hex},
            )  # fmt: skip
        except httpx.HTTPError as error:
            log.debug("demo_service_chat_failed", error=repr(error))

    return step


def steps() -> tuple[ViewerStep, ...]:
    return (ask_to_go_on_mic(), ask_the_shop())
