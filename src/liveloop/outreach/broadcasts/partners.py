"""What broadcasts need from the other outreach parts, in one place.

Addresses and delivery come from `outreach.channels`, screening (consent, do-not-contact, caps,
quiet hours), the contact log and unsubscribe links from `outreach.consent`. Templates are
rendered by `outreach.messages.render` (sandboxed Jinja, strict undefined names) with the
variables of `outreach.messages.contexts`; a variant carries its parts inline or names a saved
template. A/B variants are bucketed by a sha256 of (broadcast, customer) with Wilson intervals
and a two-proportion z-test for the results (docs/ab-testing.md).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.errors import InvalidInput, NotFound
from liveloop.outreach.channels import service as channels
from liveloop.outreach.consent import service as consent
from liveloop.outreach.contracts import CONSENT_KEY, ChannelKind
from liveloop.outreach.messages import contexts, render
from liveloop.outreach.messages import service as messages


@dataclass(frozen=True)
class Screened:
    send_at: Any | None
    reason: str | None


async def resolve_addresses(
    *, session: AsyncSession, shop_id: int, kind: ChannelKind, customer_ids: Sequence[int]
) -> dict[int, str]:
    return await channels.resolve_addresses(
        session=session, shop_id=shop_id, kind=kind, customer_ids=customer_ids
    )


async def screen_recipients(
    *,
    session: AsyncSession,
    shop_id: int,
    kind: ChannelKind,
    customer_ids: Sequence[int],
    now: Any,
    marketing: bool,
) -> dict[int, Any]:
    decisions: dict[int, Any] = await consent.screen_recipients(
        session=session,
        shop_id=shop_id,
        kind=kind,
        customer_ids=customer_ids,
        now=now,
        marketing=marketing,
    )
    return decisions


async def record_contacts(
    *,
    session: AsyncSession,
    shop_id: int,
    kind: ChannelKind,
    customer_ids: Sequence[int],
    at: Any,
    marketing: bool,
    ref: str,
) -> None:
    if customer_ids:
        await consent.record_contacts(
            session=session,
            shop_id=shop_id,
            kind=kind,
            customer_ids=customer_ids,
            at=at,
            marketing=marketing,
            ref=ref,
        )


def unsubscribe_url(*, settings: Any, shop_id: int, customer_id: int, kind: ChannelKind) -> str:
    return consent.unsubscribe_url(
        settings=settings, shop_id=shop_id, customer_id=customer_id, channel_key=CONSENT_KEY[kind]
    )


def compile_template(kind: ChannelKind, parts: Mapping[str, Any], *, marketing: bool) -> Any:
    return render.compile_template(parts, marketing=marketing)


def check_parts(kind: ChannelKind, parts: Mapping[str, Any], *, field: str) -> None:
    """Inline parts get the checks a saved template gets: parts of the kind, known variables,
    syntax, with the part and the line."""
    render.check_parts(kind, parts, field=field)


async def template_parts(
    *,
    session: AsyncSession,
    shop_id: int,
    template_id: int,
    kind: ChannelKind,
    field: str = "variants.template_id",
) -> dict[str, Any]:
    """A saved template's parts (outreach/messages); another kind's template is refused."""
    try:
        return await messages.parts_for(
            session=session, shop_id=shop_id, template_id=template_id, kind=kind
        )
    except (InvalidInput, NotFound) as error:
        error.field = field
        raise


async def contexts_for(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_ids: Sequence[int],
    live_session_id: int | None,
    link_for: Callable[[int], str],
    poster_for: Callable[[int], str] | None,
    coupon_code: str | None,
    extra: Mapping[int, Mapping[str, Any]],
    base_url: str,
) -> dict[int, dict[str, Any]]:
    return await contexts.contexts_for(
        session=session, shop_id=shop_id, customer_ids=customer_ids,
        live_session_id=live_session_id, link_for=link_for, poster_for=poster_for,
        coupon_code=coupon_code, extra=extra, base_url=base_url,
    )  # fmt: skip


def assign_variant(
    *,
    broadcast_id: int,
    customer_id: int,
    variants: Sequence[tuple[str, int]],
    holdout_percent: int,
) -> str | None:
    digest = hashlib.sha256(f"{broadcast_id}:{customer_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000
    if bucket < holdout_percent * 100:
        return None
    total = sum(weight for _, weight in variants) or 1
    point = (bucket - holdout_percent * 100) / max(1, 10_000 - holdout_percent * 100) * total
    for key, weight in variants:
        if point < weight:
            return key
        point -= weight
    return variants[-1][0]


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    z = 1.96
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))
