"""Who may be reached, on which channel, and when: consent, do-not-contact, caps, quiet hours.

Every send in LiveLoop asks `screen_recipients` first and tells `record_contacts` afterwards.
Marketing needs the customer's consent on the channel's key (missing = no); every message,
marketing or not, respects do-not-contact; caps and quiet hours bind marketing only
(transactional messages — order updates, reminders the customer asked for — never carry
marketing and are exempt). The unsubscribe link of every marketing message is `unsubscribe_url`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    delete,
    func,
    insert,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, ids_in, scoped, utcnow
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.core.security import TokenSigner
from liveloop.core.settings import Settings
from liveloop.customers import service as customers_service
from liveloop.customers.models import STATUS_ACTIVE, Customer
from liveloop.outreach.consent.models import (
    ALL_CHANNELS,
    BLOCK_REASONS,
    ContactBlock,
    ContactLog,
    ContactPolicy,
)
from liveloop.outreach.consent.rules import (
    DEFAULT_CAP,
    DEFAULT_QUIET,
    Decision,
    Rules,
    parse_clock,
    plan_delivery,
    rules_for,
)
from liveloop.outreach.contracts import CONSENT_KEY, ChannelKind
from liveloop.shops import service as shops_service

__all__ = [
    "CHANNEL_KEYS",
    "Decision",
    "PolicyView",
    "block_contact",
    "get_policy",
    "list_blocks",
    "plan_delivery",
    "read_unsubscribe_token",
    "record_contacts",
    "save_policy",
    "screen_recipients",
    "unblock_contact",
    "unsubscribe",
    "unsubscribe_url",
]

CHANNEL_KEYS: tuple[str, ...] = tuple(dict.fromkeys(CONSENT_KEY.values()))
DEFAULT_CAPS: dict[str, Any] = {ALL_CHANNELS: dict(DEFAULT_CAP)}

R_NO_CONSENT = "no_consent"
R_DO_NOT_CONTACT = "do_not_contact"  # reported as "do_not_contact:<reason>"
R_UNKNOWN_CUSTOMER = "unknown_customer"

_INSERT_CHUNK = 5_000


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class PolicyView:
    """The shop's effective policy (the defaults when it has saved none)."""

    caps: dict[str, Any]
    quiet_start: str | None
    quiet_end: str | None
    reminders_enabled: bool
    reminder_early_minutes: int | None
    saved: bool
    reminder_templates: dict[str, int] = field(default_factory=dict)

    def rules(self, channel_key: str) -> Rules:
        return rules_for(
            caps=self.caps,
            quiet_start=self.quiet_start,
            quiet_end=self.quiet_end,
            channel_key=channel_key,
        )


DEFAULT_POLICY = PolicyView(
    caps=DEFAULT_CAPS,
    quiet_start=DEFAULT_QUIET[0],
    quiet_end=DEFAULT_QUIET[1],
    reminders_enabled=True,
    reminder_early_minutes=15,
    saved=False,
)


async def get_policy(*, session: AsyncSession, shop_id: int) -> PolicyView:
    row = (await session.execute(scoped(ContactPolicy, shop_id))).scalar_one_or_none()
    if row is None:
        return DEFAULT_POLICY
    return PolicyView(
        caps=dict(row.caps or {}),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        reminders_enabled=row.reminders_enabled,
        reminder_early_minutes=row.reminder_early_minutes,
        saved=True,
        reminder_templates=dict(row.reminder_templates or {}),
    )


def check_policy(data: Mapping[str, Any]) -> None:
    """Raise InvalidInput naming the field for caps that are not {key: {count, days}} on known
    keys, or a quiet range given by one end only."""
    for key, cap in (data.get("caps") or {}).items():
        if key != ALL_CHANNELS and key not in CHANNEL_KEYS:
            known = ", ".join((ALL_CHANNELS, *CHANNEL_KEYS))
            raise InvalidInput(
                f"caps: unknown channel key {key!r} (use one of {known})",
                code="unknown_channel_key",
                field=f"caps.{key}",
            )
        count, days = (cap or {}).get("count"), (cap or {}).get("days")
        if not isinstance(count, int) or not isinstance(days, int) or isinstance(count, bool):
            raise InvalidInput(
                f"caps.{key}: give whole numbers, e.g. {{'count': 2, 'days': 7}}",
                code="invalid_cap",
                field=f"caps.{key}",
            )
        if not 0 <= count <= 1000 or not 1 <= days <= 366:
            raise InvalidInput(
                f"caps.{key}: count must be 0–1000 (0 = no cap) and days 1–366",
                code="invalid_cap",
                field=f"caps.{key}",
            )
    start, end = data.get("quiet_start"), data.get("quiet_end")
    for name, value in (("quiet_start", start), ("quiet_end", end)):
        if value:
            try:
                parse_clock(value)
            except ValueError as exc:
                raise InvalidInput(str(exc), code="invalid_time", field=name) from None
    if bool(start) != bool(end):
        raise InvalidInput(
            "give both ends of the quiet hours (or neither, for none)",
            code="invalid_quiet_hours",
            field="quiet_end" if start else "quiet_start",
        )
    for key, template_id in (data.get("reminder_templates") or {}).items():
        reminder, _, kind = str(key).partition(":")
        if reminder not in ("start", "early", "welcome") or (
            kind and kind not in {k.value for k in ChannelKind}
        ):
            raise InvalidInput(
                f"reminder_templates: {key!r} is not start, early or welcome (optionally "
                "followed by :<channel kind>, e.g. start:email)",
                code="invalid_reminder_template",
                field=f"reminder_templates.{key}",
            )
        if not isinstance(template_id, int) or isinstance(template_id, bool) or template_id < 1:
            raise InvalidInput(
                "give a template id", code="invalid_reminder_template",
                field=f"reminder_templates.{key}",
            )  # fmt: skip
    early = data.get("reminder_early_minutes")
    if early is not None and (not isinstance(early, int) or not 1 <= early <= 1440):
        raise InvalidInput(
            "reminder_early_minutes must be 1–1440 (or empty: only at the start)",
            code="invalid_minutes",
            field="reminder_early_minutes",
        )


async def save_policy(
    *, session: AsyncSession, shop_id: int, data: Mapping[str, Any]
) -> PolicyView:
    """Replace the shop's policy with `data` (caps, quiet_start, quiet_end, reminders_enabled,
    reminder_early_minutes); fields left out keep their current value."""
    current = await get_policy(session=session, shop_id=shop_id)
    merged = {
        "caps": current.caps,
        "quiet_start": current.quiet_start,
        "quiet_end": current.quiet_end,
        "reminders_enabled": current.reminders_enabled,
        "reminder_early_minutes": current.reminder_early_minutes,
        "reminder_templates": current.reminder_templates,
        **data,
    }
    merged["quiet_start"] = merged["quiet_start"] or None
    merged["quiet_end"] = merged["quiet_end"] or None
    check_policy(merged)
    row = (await session.execute(scoped(ContactPolicy, shop_id))).scalar_one_or_none()
    if row is None:
        row = ContactPolicy(shop_id=shop_id)
        session.add(row)
    row.caps = {
        key: {"count": c["count"], "days": c["days"]} for key, c in (merged["caps"] or {}).items()
    }
    row.quiet_start = merged["quiet_start"]
    row.quiet_end = merged["quiet_end"]
    row.reminders_enabled = bool(merged["reminders_enabled"])
    row.reminder_early_minutes = merged["reminder_early_minutes"]
    row.reminder_templates = {k: int(v) for k, v in (merged["reminder_templates"] or {}).items()}
    await session.flush()
    return await get_policy(session=session, shop_id=shop_id)


async def shop_zone(*, session: AsyncSession, shop_id: int) -> ZoneInfo:
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    return ZoneInfo(shop.timezone or "Asia/Shanghai")


# --------------------------------------------------------------------------- screening


def consents_to(session: AsyncSession, key: str) -> ColumnElement[bool]:
    """True where the customer's consent JSON holds exactly `true` under `key` (missing, false,
    or anything else: no), evaluated in the database so 100,000 rows need no JSON decoding."""
    if session.get_bind().dialect.name == "postgresql":
        consent = type_coerce(Customer.consent, postgresql.JSONB)
        return func.coalesce(consent.contains({key: True}), False)
    return func.coalesce(func.json_type(Customer.consent, f'$."{key}"') == "true", False)


def _key_of(kind: ChannelKind | str) -> str:
    try:
        return CONSENT_KEY[ChannelKind(kind)]
    except ValueError:
        raise InvalidInput(
            f"unknown channel kind {kind!r}", code="unknown_channel_kind", field="kind"
        ) from None


async def screen_recipients(
    *,
    session: AsyncSession,
    shop_id: int,
    kind: ChannelKind,
    customer_ids: Sequence[int],
    now: dt.datetime,
    marketing: bool = True,
) -> dict[int, Decision]:
    """A decision per customer id: send now (reason None), later (quiet hours), or not at all
    ("unknown_customer", "do_not_contact:<reason>", "no_consent", "frequency_cap").

    Three or four queries whatever the number of ids (customers, blocks, the log, the policy).
    """
    key = _key_of(kind)
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    if not ids:
        return {}
    consents: dict[int, Any] = dict(
        (
            await session.execute(
                scoped(Customer, shop_id, Customer.id, consents_to(session, key)).where(
                    Customer.status == STATUS_ACTIVE, ids_in(session, Customer.id, ids)
                )
            )
        ).all()
    )
    blocks: dict[int, str] = {}
    rows = await session.execute(
        scoped(ContactBlock, shop_id, ContactBlock.customer_id, ContactBlock.reason)
        .where(
            ContactBlock.channel_key.in_((key, ALL_CHANNELS)),
            ids_in(session, ContactBlock.customer_id, ids),
        )
        .order_by(ContactBlock.id)
    )
    for customer_id, reason in rows:
        blocks.setdefault(customer_id, reason)
    rules = Rules(cap=None, quiet_start=None, quiet_end=None)
    zone = ZoneInfo("UTC")
    history: dict[int, list[dt.datetime]] = defaultdict(list)
    if marketing:
        policy = await get_policy(session=session, shop_id=shop_id)
        rules = policy.rules(key)
        zone = await shop_zone(session=session, shop_id=shop_id)
        if rules.cap is not None:
            # Windows that hold a send at `now` or at the end of tonight's quiet hours.
            reach = rules.cap.window + dt.timedelta(days=1)
            logged = await session.execute(
                scoped(ContactLog, shop_id, ContactLog.customer_id, ContactLog.at).where(
                    ContactLog.channel_key == key,
                    ContactLog.marketing.is_(True),
                    ContactLog.at > now - reach,
                    ContactLog.at < now + reach,
                    ids_in(session, ContactLog.customer_id, ids),
                )
            )
            for customer_id, at in logged:
                history[customer_id].append(at)
    decisions: dict[int, Decision] = {}
    unconstrained = Decision(send_at=now, reason=None)
    # Customers with nothing logged in the cap's reach all get the same decision.
    fresh = plan_delivery(now=now, tz=zone, policy=rules, history=(), marketing=True)
    for customer_id in ids:
        if customer_id not in consents:
            decisions[customer_id] = Decision(send_at=None, reason=R_UNKNOWN_CUSTOMER)
        elif customer_id in blocks:
            reason = f"{R_DO_NOT_CONTACT}:{blocks[customer_id]}"
            decisions[customer_id] = Decision(send_at=None, reason=reason)
        elif not marketing:
            decisions[customer_id] = unconstrained
        elif not consents[customer_id]:
            decisions[customer_id] = Decision(send_at=None, reason=R_NO_CONSENT)
        elif customer_id not in history:
            decisions[customer_id] = fresh
        else:
            decisions[customer_id] = plan_delivery(
                now=now,
                tz=zone,
                policy=rules,
                history=history[customer_id],
                marketing=True,
            )
    return decisions


async def record_contacts(
    *,
    session: AsyncSession,
    shop_id: int,
    kind: ChannelKind,
    customer_ids: Sequence[int],
    at: dt.datetime,
    marketing: bool,
    ref: str,
) -> None:
    """Log one message per customer (what later caps count); bulk, no ORM objects."""
    key = _key_of(kind)
    rows = [
        {
            "shop_id": shop_id,
            "customer_id": int(customer_id),
            "channel_key": key,
            "at": at,
            "marketing": marketing,
            "ref": ref[:64],
        }
        for customer_id in customer_ids
    ]
    for start in range(0, len(rows), _INSERT_CHUNK):
        await session.execute(insert(ContactLog), rows[start : start + _INSERT_CHUNK])


async def contact_history(
    *, session: AsyncSession, shop_id: int, customer_id: int, limit: int = 50
) -> list[ContactLog]:
    statement = (
        scoped(ContactLog, shop_id)
        .where(ContactLog.customer_id == customer_id)
        .order_by(ContactLog.at.desc(), ContactLog.id.desc())
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


# --------------------------------------------------------------------------- do-not-contact


def _check_channel_key(channel_key: str) -> None:
    if channel_key != ALL_CHANNELS and channel_key not in CHANNEL_KEYS:
        known = ", ".join((ALL_CHANNELS, *CHANNEL_KEYS))
        raise InvalidInput(
            f"unknown channel key {channel_key!r} (use one of {known})",
            code="unknown_channel_key",
            field="channel_key",
        )


async def block_contact(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    channel_key: str,
    reason: str,
    note: str = "",
    created_by: str = "",
    now: dt.datetime | None = None,
) -> ContactBlock:
    """Do not contact this customer on `channel_key` ("*": on any channel). Blocking again
    keeps one row and takes the newer reason (a complaint after an unsubscribe says more)."""
    _check_channel_key(channel_key)
    if reason not in BLOCK_REASONS:
        raise InvalidInput(
            f"unknown reason {reason!r} (use one of {', '.join(BLOCK_REASONS)})",
            code="unknown_block_reason",
            field="reason",
        )
    await customers_service.get_customer(session=session, shop_id=shop_id, customer_id=customer_id)
    found = (
        await session.execute(
            scoped(ContactBlock, shop_id).where(
                ContactBlock.customer_id == customer_id, ContactBlock.channel_key == channel_key
            )
        )
    ).scalar_one_or_none()
    if found is None:
        found = ContactBlock(
            shop_id=shop_id,
            customer_id=customer_id,
            channel_key=channel_key,
            reason=reason,
            note=note,
            created_by=created_by[:200],
            created_at=now or utcnow(),
        )
        session.add(found)
    else:
        found.reason, found.note = reason, note or found.note
        found.created_by = created_by[:200] or found.created_by
    await session.flush()
    return found


async def get_block(*, session: AsyncSession, shop_id: int, block_id: int) -> ContactBlock:
    return await get_scoped(
        session, ContactBlock, shop_id=shop_id, record_id=block_id, label="block"
    )


async def unblock_contact(
    *, session: AsyncSession, shop_id: int, customer_id: int, channel_key: str
) -> bool:
    """Lift a block; True when there was one. Consent is not given back by this."""
    _check_channel_key(channel_key)
    result = await session.execute(
        delete(ContactBlock).where(
            ContactBlock.shop_id == shop_id,
            ContactBlock.customer_id == customer_id,
            ContactBlock.channel_key == channel_key,
        )
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class BlockRow:
    block: ContactBlock
    customer_name: str | None


async def list_blocks(
    *,
    session: AsyncSession,
    shop_id: int,
    reason: str | None = None,
    channel_key: str | None = None,
    customer_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[BlockRow], int]:
    """Newest first, with the customer's name; (rows, total)."""
    statement = scoped(ContactBlock, shop_id)
    if reason:
        statement = statement.where(ContactBlock.reason == reason)
    if channel_key:
        statement = statement.where(ContactBlock.channel_key == channel_key)
    if customer_id:
        statement = statement.where(ContactBlock.customer_id == customer_id)
    total = (
        await session.execute(select(func.count()).select_from(statement.subquery()))
    ).scalar_one()
    page = max(1, min(page, 100_000))
    rows = await session.execute(
        statement.add_columns(Customer.display_name)
        .join(Customer, Customer.id == ContactBlock.customer_id)
        .order_by(ContactBlock.created_at.desc(), ContactBlock.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [BlockRow(block=block, customer_name=name) for block, name in rows], int(total)


# --------------------------------------------------------------------------- unsubscribe

UNSUBSCRIBE_SALT = "outreach-unsubscribe"
# A link in an old e-mail should still work: ten years.
UNSUBSCRIBE_MAX_AGE = 10 * 366 * 24 * 3600


@lru_cache(maxsize=4)
def _signer(secret: str) -> TokenSigner:
    return TokenSigner(secret, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(
    *, settings: Settings, shop_id: int, customer_id: int, channel_key: str
) -> str:
    _check_channel_key(channel_key)
    return _signer(settings.resolved_secret_key()).sign([shop_id, customer_id, channel_key])


def unsubscribe_url(*, settings: Settings, shop_id: int, customer_id: int, channel_key: str) -> str:
    """The public link (no login) that unsubscribes this customer from `channel_key`."""
    token = unsubscribe_token(
        settings=settings, shop_id=shop_id, customer_id=customer_id, channel_key=channel_key
    )
    return f"{settings.public_base_url}/u/{token}"


@dataclass(frozen=True)
class UnsubscribeTarget:
    shop_id: int
    customer_id: int
    channel_key: str


def read_unsubscribe_token(*, settings: Settings, token: str) -> UnsubscribeTarget:
    """The target of a link; NotFound for a forged, altered or truncated one."""
    try:
        payload = _signer(settings.resolved_secret_key()).unsign(token, max_age=UNSUBSCRIBE_MAX_AGE)
        shop_id, customer_id, channel_key = payload
        target = UnsubscribeTarget(int(shop_id), int(customer_id), str(channel_key))
    except (ValueError, TypeError):
        raise NotFound(
            "this unsubscribe link is not valid", code="unsubscribe_link_invalid", field="token"
        ) from None
    if target.channel_key != ALL_CHANNELS and target.channel_key not in CHANNEL_KEYS:
        raise NotFound(
            "this unsubscribe link is not valid", code="unsubscribe_link_invalid", field="token"
        )
    return target


async def unsubscribe(
    *, session: AsyncSession, target: UnsubscribeTarget, now: dt.datetime | None = None
) -> ContactBlock:
    """Block with reason "unsubscribed" and withdraw the marketing consent of the key (every
    key for "*"). Doing it twice changes nothing more."""
    block = await block_contact(
        session=session,
        shop_id=target.shop_id,
        customer_id=target.customer_id,
        channel_key=target.channel_key,
        reason="unsubscribed",
        note="unsubscribe link",
        created_by="customer (unsubscribe link)",
        now=now,
    )
    keys = CHANNEL_KEYS if target.channel_key == ALL_CHANNELS else (target.channel_key,)
    await customers_service.set_consent(
        session=session,
        shop_id=target.shop_id,
        customer_id=target.customer_id,
        changes=dict.fromkeys(keys, False),
    )
    return block


async def is_unsubscribed(*, session: AsyncSession, target: UnsubscribeTarget) -> bool:
    found = await session.execute(
        scoped(ContactBlock, target.shop_id, ContactBlock.id).where(
            ContactBlock.customer_id == target.customer_id,
            ContactBlock.channel_key == target.channel_key,
        )
    )
    return found.first() is not None
