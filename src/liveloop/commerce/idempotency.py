"""`Idempotency-Key` for POSTs that create money-bearing things (orders, payments, refunds).

    claim = await claim_key(session=..., shop_id=..., scope="order:c42", key=key, body=body)
    if claim.replay_id is not None:
        return await load(claim.replay_id)      # the first result, unchanged
    order = ...create...
    await complete_key(session=..., claim=claim, resource_type="order", resource_id=order.id)

The key row is inserted before the work (ON CONFLICT DO NOTHING): a concurrent duplicate
waits on the unique index (PostgreSQL) or the write lock (SQLite) and then sees the first
request's committed result; if that request rolled back, the row went with it and the
duplicate does the work itself. The same key with another body is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.models import IdempotencyRecord
from liveloop.core.errors import Conflict, InvalidInput

MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class KeyClaim:
    record_id: int | None  # None: no key was given, nothing to remember
    replay_id: int | None  # the first result's id when this is a repeat


def fingerprint(body: Any) -> str:
    """A stable hash of a request body (dict keys sorted)."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            code="invalid_idempotency_key",
            field="Idempotency-Key",
        )
    return key


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(IdempotencyRecord.__table__).on_conflict_do_nothing()


async def claim_key(
    *, session: AsyncSession, shop_id: int, scope: str, key: str | None, body: Any
) -> KeyClaim:
    key = check_key(key)
    if key is None:
        return KeyClaim(record_id=None, replay_id=None)
    request_hash = fingerprint(body)
    table = IdempotencyRecord.__table__
    inserted = (
        await session.execute(
            _insert(session)
            .values(shop_id=shop_id, scope=scope, key=key, request_hash=request_hash)
            .returning(table.c.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        return KeyClaim(record_id=inserted, replay_id=None)
    existing = (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.shop_id == shop_id,
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
            )
        )
    ).scalar_one()
    if existing.request_hash != request_hash:
        raise Conflict(
            f"Idempotency-Key {key!r} was already used with a different request; "
            "use a new key for a new request",
            code="idempotency_mismatch",
            field="Idempotency-Key",
        )
    if existing.resource_id is None:
        raise Conflict(
            f"a request with Idempotency-Key {key!r} is still being processed; retry shortly",
            code="idempotency_in_progress",
            field="Idempotency-Key",
        )
    return KeyClaim(record_id=existing.id, replay_id=existing.resource_id)


async def complete_key(
    *, session: AsyncSession, claim: KeyClaim, resource_type: str, resource_id: int
) -> None:
    if claim.record_id is None or claim.replay_id is not None:
        return
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == claim.record_id)
        .values(resource_type=resource_type, resource_id=resource_id)
        .execution_options(synchronize_session=False)
    )
