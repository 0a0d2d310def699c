"""The broadcast composer's form (/console/outreach/broadcasts/new): reading what the operator
typed into a checked composition (audience, variants, schedule), the error field of each
refusal mapped back to the form's rows, and the read-only estimate of who would get what.
The routes are in pages.py."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.customers import tags as tag_service
from liveloop.customers.communities import service as community_service
from liveloop.customers.segments import service as segment_service
from liveloop.live import service as live_service
from liveloop.live.pages import parse_local
from liveloop.outreach.broadcasts import service
from liveloop.outreach.broadcasts.models import R_QUEUED, Broadcast
from liveloop.outreach.channels import service as channel_service
from liveloop.outreach.contracts import ChannelKind
from liveloop.outreach.messages import render as message_render
from liveloop.outreach.messages import service as message_service
from liveloop.web.i18n import N_, translate

SPLIT, PER_AUDIENCE = "split", "audience"
AUDIENCE_FIELDS = (
    "tags_any", "tags_all", "tags_none", "segments", "communities", "exclude_segments"
)  # fmt: skip
VARIANT_AUDIENCE_FIELDS = ("tags_any", "tags_all", "segments", "communities")
VARIANT_ROW = re.compile(r"^variants\.(\d{1,2})\.")
SERVICE_VARIANT_FIELD = re.compile(r"^variants\.(\d+)\.(?:parts\.)?")
REASON_LABELS = {
    "holdout": N_("Hold-out (kept back to measure the lift)"),
    "no_consent": N_("No consent on this channel"),
    "do_not_contact": N_("Do not contact"),
    "frequency_cap": N_("Frequency cap reached"),
    "no_address": N_("No address on this channel"),
    "unknown_customer": N_("Not an active customer"),
    "in_no_variant": N_("In no variant's audience"),
}


@dataclasses.dataclass
class ComposeChoices:
    """What the form offers: the shop's enabled channels, tags, segments, communities, saved
    templates and live sessions. An id typed that is not here is refused, naming the field."""

    channels: list[Any]
    tags: list[Any]
    segments: list[Any]
    communities: list[Any]
    templates: list[Any]
    live_sessions: list[Any]

    def offered(self, field: str) -> tuple[str, set[int]]:
        """What an audience field picks from: ("tags", their ids), for "audience.tags_none"."""
        last = field.rsplit(".", 1)[-1]
        if last.startswith("tags_"):
            return "tags", {row.id for row in self.tags}
        if last == "communities":
            return "communities", {row.id for row in self.communities}
        return "segments", {row.id for row in self.segments}


async def compose_choices(
    *, session: AsyncSession, shop_id: int, live_session_id: int | None = None
) -> ComposeChoices:
    sessions = list(
        (await live_service.list_live_sessions(session=session, shop_id=shop_id, per_page=50)).items
    )
    if live_session_id is not None and all(s.id != live_session_id for s in sessions):
        # An older session than the list shows; another shop's stays out (and is refused).
        with contextlib.suppress(NotFound):
            sessions.insert(
                0,
                await live_service.get_live_session(
                    session=session, shop_id=shop_id, live_session_id=live_session_id
                ),
            )
    return ComposeChoices(
        channels=[
            c
            for c in await channel_service.list_channels(session=session, shop_id=shop_id)
            if c.enabled
        ],
        tags=await tag_service.list_tags(session=session, shop_id=shop_id),
        segments=await segment_service.list_segments(session=session, shop_id=shop_id),
        communities=await community_service.list_communities(session=session, shop_id=shop_id),
        templates=await message_service.list_templates(session=session, shop_id=shop_id),
        live_sessions=sessions,
    )


class Typed:
    """What the operator typed, read from the form and drawn back into it after a refusal."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[0] if found else default

    def picked(self, name: str, value: Any) -> bool:
        return str(value) in self.values.get(name, ())

    def rows(self) -> list[int]:
        """The variant rows' indices (rows removed in the page leave gaps)."""
        return sorted({int(m.group(1)) for k in self.values if (m := VARIANT_ROW.match(k))})


async def read_typed(request: Request) -> Typed:
    form = await request.form()
    return Typed(
        {key: [str(v).strip() for v in form.getlist(key)] for key in form if key != "csrf_token"}
    )


@dataclasses.dataclass
class Composition:
    data: service.BroadcastIn
    rows: list[int]  # the form's row index of each variant, in order
    send_at: dt.datetime  # when it goes out: now, or the scheduled time


def _picked_ids(typed: Typed, field: str, choices: ComposeChoices) -> list[int]:
    noun, offered = choices.offered(field)
    ids = []
    for value in typed.values.get(field, ()):
        if not value:
            continue
        found = parse_id(value)
        if found is None or found not in offered:
            raise InvalidInput(
                f"{field}: {value[:24]!r} is not one of this shop's {noun}",
                code="unknown_choice",
                field=field,
            )
        ids.append(found)
    return ids


def _read_int(typed: Typed, field: str, default: int, low: int, high: int, what: str) -> int:
    text = typed.get(field) or str(default)
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidInput(
            f"{what} is a whole number from {low} to {high} (not {text[:12]!r})", field=field
        )
    return int(text)


def _read_variant(
    typed: Typed, index: int, kind: ChannelKind, mode: str, choices: ComposeChoices
) -> dict[str, Any]:
    where = f"variants.{index}"
    key = typed.get(f"{where}.key")
    if not key:
        raise InvalidInput("give each variant a name, such as A or 会员", field=f"{where}.key")
    variant: dict[str, Any] = {
        "key": key,
        "weight": _read_int(typed, f"{where}.weight", 100, 0, 100, f"variant {key}'s weight"),
        "template_id": None,
    }
    template_text = typed.get(f"{where}.template_id")
    if template_text:
        template = next(
            (t for t in choices.templates if str(t.id) == template_text), None
        )  # fmt: skip
        if template is None:
            raise InvalidInput(
                f"template {template_text[:24]!r} is not one of this shop's templates",
                field=f"{where}.template_id",
            )
        if template.kind != kind.value:
            raise InvalidInput(
                f"template {template.name!r} is written for {template.kind}, not {kind.value}",
                code="template_kind_mismatch",
                field=f"{where}.template_id",
            )
        variant["template_id"] = template.id
    else:
        parts = {"text": typed.get(f"{where}.text")}
        subject = typed.get(f"{where}.subject")
        if subject and "subject" in message_render.KIND_PARTS[kind]:
            parts["subject"] = subject
        message_render.check_parts(kind, parts, field=where)
        variant["parts"] = parts
    if mode == PER_AUDIENCE:
        audience = {
            name: ids
            for name in VARIANT_AUDIENCE_FIELDS
            if (ids := _picked_ids(typed, f"{where}.audience.{name}", choices))
        }
        if audience:
            variant["audience"] = audience
    return variant


def read_composition(
    typed: Typed, choices: ComposeChoices, *, zone: ZoneInfo, now: dt.datetime
) -> Composition:
    """The form as the service's BroadcastIn; the first mistake is refused, naming its field."""
    name = typed.get("name")
    if not name or len(name) > 120:
        raise InvalidInput("give the broadcast a name of 1 to 120 characters", field="name")
    channel_text = typed.get("channel_id")
    if not channel_text:
        raise InvalidInput("pick the channel to send through", field="channel_id")
    channel = next((c for c in choices.channels if str(c.id) == channel_text), None)
    if channel is None:
        raise InvalidInput(
            f"channel {channel_text[:24]!r} is not one of this shop's enabled channels",
            code="unknown_channel",
            field="channel_id",
        )
    kind = ChannelKind(channel.kind)
    live_text = typed.get("live_session_id")
    live_session_id = None
    if live_text:
        live_session_id = parse_id(live_text)
        if live_session_id not in {s.id for s in choices.live_sessions}:
            raise InvalidInput(
                f"live session {live_text[:24]!r} is not one of this shop's",
                field="live_session_id",
            )
    audience: dict[str, Any] = {
        name: ids
        for name in AUDIENCE_FIELDS
        if (ids := _picked_ids(typed, f"audience.{name}", choices))
    }
    if typed.get("audience.all"):
        audience["all"] = True
    mode = typed.get("mode") or SPLIT
    if mode not in (SPLIT, PER_AUDIENCE):
        raise InvalidInput("mode is split or audience", field="mode")
    rows = typed.rows()
    if not rows:
        raise InvalidInput("add at least one variant", field="variants")
    variants = [_read_variant(typed, index, kind, mode, choices) for index in rows]
    if mode == PER_AUDIENCE:
        if not any(v.get("audience") for v in variants):
            raise InvalidInput(
                "per-audience variants: give at least one variant its own tags, segments or "
                "communities",
                field=f"variants.{rows[0]}.audience.tags_any",
            )
        if not service.has_selection(audience):
            audience["all"] = True  # the variants pick; the exclusions still hold
    elif sum(v["weight"] for v in variants) == 0:
        raise InvalidInput(
            "the weights add up to 0: give at least one variant a weight",
            field=f"variants.{rows[0]}.weight",
        )
    holdout = _read_int(typed, "holdout_percent", 0, 0, 50, "the hold-out")
    scheduled_at = None
    if typed.get("when") == "later":
        scheduled_at = parse_local(typed.get("scheduled_at"), zone, "scheduled_at")
        if scheduled_at is None:
            raise InvalidInput("pick the date and time to send at", field="scheduled_at")
        if scheduled_at <= now:
            shown = now.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            raise InvalidInput(
                f"{typed.get('scheduled_at')} is in the past (it is {shown} now in {zone.key})",
                code="schedule_in_past",
                field="scheduled_at",
            )
    coupon_code = typed.get("coupon_code") or None
    if coupon_code and len(coupon_code) > 64:
        raise InvalidInput("a coupon code is at most 64 characters", field="coupon_code")
    data = service.BroadcastIn(
        name=name, kind=kind, channel_id=channel.id, live_session_id=live_session_id,
        audience=service.check_audience(audience), variants=variants,
        holdout_percent=holdout, coupon_code=coupon_code, scheduled_at=scheduled_at,
    )  # fmt: skip
    return Composition(data=data, rows=rows, send_at=scheduled_at or now)


def form_field(field: str | None, rows: list[int]) -> str:
    """A service error's field as the form's input name: the service numbers variants in
    order (0, 1, …) and keeps inline words under parts; the form numbers its rows."""
    if not field:
        return ""
    found = SERVICE_VARIANT_FIELD.match(field)
    if found and rows:
        position = int(found.group(1))
        row = rows[position] if position < len(rows) else position
        return f"variants.{row}." + field[found.end() :]
    return field


# --------------------------------------------------------------------------- estimate


@dataclasses.dataclass
class Estimate:
    audience_size: int
    now: int  # queued to go at the send time
    later: int  # queued, held to the end of quiet hours
    held: list[tuple[str, str, int]]  # (reason, label, count)
    per_variant: list[tuple[str, int]]
    refusal: str = ""


async def estimate_composition(
    request: Request, session: DbSession, shop_id: int, composition: Composition
) -> Estimate:
    """plan_broadcast on an unsaved broadcast: reads only, nothing is written."""
    data = composition.data
    draft = Broadcast(
        shop_id=shop_id, name=data.name, kind=data.kind.value, channel_id=data.channel_id,
        live_session_id=data.live_session_id, audience=data.audience,
        variants=service.check_variants(data.variants), holdout_percent=data.holdout_percent,
        marketing=data.marketing, coupon_code=data.coupon_code,
    )  # fmt: skip
    at = composition.send_at
    plan = await service.plan_broadcast(session=session, broadcast=draft, now=at)
    queued = [row for row in plan.rows if row[2] == R_QUEUED]
    held: Counter[str] = Counter()
    for reason, count in plan.reasons().items():
        held[reason.split(":", 1)[0]] += count
    if plan.audience_size > len(plan.rows):
        held["in_no_variant"] = plan.audience_size - len(plan.rows)
    refusal = ""
    try:
        service.check_plan(plan)
    except InvalidInput as error:
        refusal = error.message
    return Estimate(
        audience_size=plan.audience_size,
        now=sum(1 for row in queued if row[4] is None or row[4] <= at),
        later=sum(1 for row in queued if row[4] is not None and row[4] > at),
        held=[
            (reason, translate(request, REASON_LABELS.get(reason, reason)), count)
            for reason, count in sorted(held.items(), key=lambda item: -item[1])
        ],
        per_variant=sorted(Counter(row[1] for row in queued if row[1]).items()),
        refusal=refusal,
    )


# --------------------------------------------------------------------------- pages
