"""The simulated audience votes in the room's polls, answers its quizzes and asks the host
questions, as people would: most viewers vote in a poll they see (guests too: a guest votes
once per device), most answer a quiz fast (first verifying a phone, since only customers win),
and now and then one asks about the product on show. Each viewer acts on a poll or quiz once.

Wire it next to the other interaction steps: `(*interaction.steps(), *polls_demo.steps())`.
"""

from __future__ import annotations

import httpx
import structlog

from liveloop.demo.audience import ViewerContext, ViewerStep
from liveloop.demo.interaction import _interested, api, ready_as_customer

log = structlog.get_logger(__name__)

POLL_INTEREST = 0.65  # share of viewers who vote in a poll they see
VOTE_RATE = 1 / 8  # per second, once interested: most vote within half a minute
QUIZ_INTEREST = 0.8  # share of viewers who answer a quiz (a prize is at stake)
ANSWER_RATE = 1 / 4  # per second: a quiz is a race
QUESTION_RATE = 1 / 900  # per viewer and second: at 40 viewers a question every ~20 s
QUESTIONS = (
    "这款{name}怎么保存？",
    "{name}有小样吗？",
    "{name}能冷泡吗？",
    "今天{name}包邮吗？",
    "{name}适合送人吗？",
    "下单后多久发货？",
    "还会再抽奖吗？",
)


def _choices(ctx: ViewerContext, card: dict[str, object]) -> list[int]:
    """A ballot: earlier options a little more popular (people read from the top)."""
    count = len(card.get("options") or [])  # type: ignore[arg-type]
    weights = [count - index + 1 for index in range(count)]
    first = ctx.rng.choices(range(count), weights=weights)[0]
    if not card.get("multiple"):
        return [first]
    most = max(1, int(card.get("max_choices") or 1))  # type: ignore[call-overload]
    extra = ctx.rng.sample([i for i in range(count) if i != first], k=ctx.rng.randint(0, most - 1))
    return sorted([first, *extra])


def vote_in_polls(interest: float = POLL_INTEREST, rate: float = VOTE_RATE) -> ViewerStep:
    """Vote once in an open poll (a guest's vote counts per device: no phone needed)."""

    async def step(ctx: ViewerContext) -> None:
        card = ctx.room.cards.get("poll")
        if not card or card.get("state") != "open" or ctx.room.status != "live":
            return
        key = f"poll:{card.get('id')}"
        if ctx.memory.get(key) or not _interested(ctx, key, interest) or not ctx.chance(rate):
            return
        if ctx.http is None or not ctx.token or not card.get("options"):
            return
        ctx.memory[key] = "voted"
        try:
            answer = await api(
                ctx, "POST", f"/polls/{card['id']}/vote", {"options": _choices(ctx, card)}
            )
            log.debug("demo_poll_vote", status=answer.status_code)
        except httpx.HTTPError as error:
            log.debug("demo_poll_vote_failed", error=repr(error))

    return step


def answer_quizzes(interest: float = QUIZ_INTEREST, rate: float = ANSWER_RATE) -> ViewerStep:
    """Answer an open quiz once: verify a phone first (only customers win; a viewer who
    cannot verify answers as a guest), then guess (the card does not say which is right)."""

    async def step(ctx: ViewerContext) -> None:
        card = ctx.room.cards.get("quiz")
        if not card or card.get("state") != "open" or ctx.room.status != "live":
            return
        key = f"quiz:{card.get('id')}"
        if ctx.memory.get(key) == "answered" or ctx.http is None or not card.get("options"):
            return
        if ctx.memory.get(key) != "guest":  # (a guest who could not verify answers anyway)
            if not _interested(ctx, key, interest) or not ctx.chance(rate):
                return
            if not await ready_as_customer(ctx, key) and ctx.memory.get(key) != "guest":
                return  # joining again as a customer: answer on the next tick
        ctx.memory[key] = "answered"
        option = ctx.rng.randrange(len(card["options"]))
        try:
            answer = await api(ctx, "POST", f"/quizzes/{card['id']}/answer", {"option": option})
            log.debug("demo_quiz_answer", status=answer.status_code)
        except httpx.HTTPError as error:
            log.debug("demo_quiz_answer_failed", error=repr(error))

    return step


def ask_questions(rate: float = QUESTION_RATE) -> ViewerStep:
    """Now and then ask the host about the product on show (the anchor's Q&A queue)."""

    async def step(ctx: ViewerContext) -> None:
        if ctx.room.status != "live" or ctx.http is None or not ctx.token:
            return
        if not ctx.chance(rate):
            return
        product = ctx.room.product or (ctx.room.lineup[0] if ctx.room.lineup else None)
        name = str((product or {}).get("name") or "这款茶")[:12]
        text = ctx.rng.choice(QUESTIONS).format(name=name)
        try:
            answer = await api(ctx, "POST", "/live/questions", {"text": text})
            log.debug("demo_question", status=answer.status_code)
        except httpx.HTTPError as error:
            log.debug("demo_question_failed", error=repr(error))

    return step


def steps() -> tuple[ViewerStep, ...]:
    return (vote_in_polls(), answer_quizzes(), ask_questions())
