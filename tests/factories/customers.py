"""Factories of the customers domain: customers, tags and tag groups, built through the services."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.customers import crypto
from liveloop.customers import service as customers_service
from liveloop.customers import tags as tags_service
from liveloop.customers.models import Customer, Tag, TagGroup
from liveloop.customers.schemas import CustomerCreate, IdentityIn, TagGroupIn, TagIn
from liveloop.shops.service import Actor, system_actor

__all__ = ["make_customer", "make_tag", "make_tag_group"]

_numbers = itertools.count(1)
TEST_SECRET_KEY = "test-secret-key-not-for-production"


def _actor(shop_id: int, actor: Actor | None) -> Actor:
    if crypto._cipher is None:
        # Tests of other domains that never configured one: the test settings' secret key.
        from liveloop.core.security import PiiCipher

        crypto._cipher = PiiCipher.from_secret(TEST_SECRET_KEY)
    return actor or system_actor(shop_id, label="factory")


async def make_tag_group(
    session: AsyncSession,
    *,
    shop_id: int,
    name: str | None = None,
    color: str | None = None,
    actor: Actor | None = None,
) -> TagGroup:
    return await tags_service.create_tag_group(
        session=session,
        actor=_actor(shop_id, actor),
        data=TagGroupIn(name=name or f"分组{next(_numbers)}", color=color),
    )


async def make_tag(
    session: AsyncSession,
    *,
    shop_id: int,
    name: str | None = None,
    color: str | None = None,
    group_id: int | None = None,
    actor: Actor | None = None,
) -> Tag:
    return await tags_service.create_tag(
        session=session,
        actor=_actor(shop_id, actor),
        data=TagIn(name=name or f"标签{next(_numbers)}", color=color, group_id=group_id),
    )


async def make_customer(
    session: AsyncSession,
    *,
    shop_id: int,
    name: str | None = "张伟",
    phone: str | None = None,
    email: str | None = None,
    tags: Iterable[Tag | int | str] = (),
    identities: Iterable[tuple[str, str]] = (),
    actor: Actor | None = None,
    **profile: Any,
) -> Customer:
    """A customer with optional phone, e-mail, other identities and tags (Tag, id, or name)."""
    actor = _actor(shop_id, actor)
    wanted: list[IdentityIn] = []
    if phone:
        wanted.append(IdentityIn(channel="phone", value=phone))
    if email:
        wanted.append(IdentityIn(channel="email", value=email))
    wanted.extend(IdentityIn(channel=c, value=v) for c, v in identities)  # type: ignore[arg-type]
    tag_ids: list[int] = []
    for tag in tags:
        if isinstance(tag, Tag):
            tag_ids.append(tag.id)
        elif isinstance(tag, int):
            tag_ids.append(tag)
        else:
            found = await tags_service.ensure_tags(session=session, shop_id=shop_id, names=[tag])
            tag_ids.append(found[tag])
    data = CustomerCreate(display_name=name, identities=wanted, tag_ids=tag_ids, **profile)
    return await customers_service.create_customer(session=session, actor=actor, data=data)
