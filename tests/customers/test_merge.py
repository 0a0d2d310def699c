import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers import merge as merge_service
from liveloop.customers import service
from liveloop.customers import tags as tags_service
from liveloop.customers.merge import profile_snapshot
from liveloop.customers.models import Customer, CustomerIdentity, CustomerTag
from liveloop.shops.models import AuditEntry
from tests import factories


async def state_of(session, shop_id: int, customer_id: int) -> dict:
    """Everything an unmerge must restore: profile, status, identities, tag links."""
    customer = await service.get_customer(session=session, shop_id=shop_id, customer_id=customer_id)
    identities = (
        await session.execute(
            select(CustomerIdentity.id, CustomerIdentity.channel, CustomerIdentity.key).where(
                CustomerIdentity.customer_id == customer_id
            )
        )
    ).all()
    links = (
        await session.execute(
            select(
                CustomerTag.tag_id, CustomerTag.source, CustomerTag.tagged_at, CustomerTag.tagged_by
            ).where(CustomerTag.customer_id == customer_id)
        )
    ).all()
    return {
        "profile": profile_snapshot(customer),
        "status": customer.status,
        "merged_into_id": customer.merged_into_id,
        "identities": sorted(map(tuple, identities)),
        "tags": sorted(map(tuple, links)),
    }


async def test_merge_moves_identities_and_tags_and_fills_empty_fields(session, actor, shop) -> None:
    vip = await factories.make_tag(session, shop_id=shop.id, name="VIP")
    tea = await factories.make_tag(session, shop_id=shop.id, name="茶")
    a = await factories.make_customer(
        session, shop_id=shop.id, name="张伟", phone="13800000021", tags=[vip],
        consent={"sms": True},
    )  # fmt: skip
    b = await factories.make_customer(
        session, shop_id=shop.id, name="微信用户", city="杭州", identities=[("wecom", "wm_b")],
        tags=[vip, tea], consent={"sms": False, "wecom": True},
        birthday=dt.date(1991, 2, 3),
    )  # fmt: skip
    merge = await merge_service.merge_customers(
        session=session, actor=actor, target_id=a.id, source_id=b.id
    )
    target = await service.get_customer(session=session, shop_id=shop.id, customer_id=a.id)
    source = await service.get_customer(session=session, shop_id=shop.id, customer_id=b.id)
    assert target.display_name == "张伟"  # not empty: kept
    assert target.city == "杭州"  # empty: filled
    assert target.birthday == dt.date(1991, 2, 3)
    assert target.consent == {"sms": True, "wecom": True}
    assert {i.channel for i in target.identities} == {"phone", "wecom"}
    assert sorted(link.tag.name for link in target.tag_links) == ["VIP", "茶"]
    assert (source.status, source.merged_into_id) == ("merged", a.id)
    assert source.identities == [] and source.tag_links == []
    assert merge.snapshot["added_tag_ids"] == [tea.id]
    # Events of b now resolve to a, and b's identities resolve to a.
    resolved = await service.resolve_identities(
        session=session, shop_id=shop.id, identities=[("wecom", "wm_b")]
    )
    assert resolved[("wecom", "wm_b")] == a.id
    actions = (
        await session.execute(select(AuditEntry.action).where(AuditEntry.shop_id == shop.id))
    ).scalars()
    assert "customer.merge" in list(actions)


async def test_unmerge_restores_both_and_is_audited(session, actor, shop) -> None:
    a = await factories.make_customer(session, shop_id=shop.id, name=None, phone="13800000031")
    b = await factories.make_customer(
        session, shop_id=shop.id, name="乙", email="b@example.com", tags=["T1"], notes="b note"
    )
    before = (await state_of(session, shop.id, a.id), await state_of(session, shop.id, b.id))
    merge = await merge_service.merge_customers(
        session=session, actor=actor, target_id=a.id, source_id=b.id
    )
    assert (await state_of(session, shop.id, a.id))["profile"]["display_name"] == "乙"
    undone = await merge_service.unmerge_customers(session=session, actor=actor, merge_id=merge.id)
    assert undone.undone_at is not None
    after = (await state_of(session, shop.id, a.id), await state_of(session, shop.id, b.id))
    assert after == before
    with pytest.raises(Conflict, match=f"merge {merge.id} was already undone"):
        await merge_service.unmerge_customers(session=session, actor=actor, merge_id=merge.id)
    actions = list(
        (
            await session.execute(select(AuditEntry.action).where(AuditEntry.shop_id == shop.id))
        ).scalars()
    )
    assert "customer.unmerge" in actions


async def test_merge_refusals(session, actor, shop, other_shop) -> None:
    a = await factories.make_customer(session, shop_id=shop.id)
    b = await factories.make_customer(session, shop_id=shop.id)
    c = await factories.make_customer(session, shop_id=shop.id)
    foreign = await factories.make_customer(session, shop_id=other_shop.id)
    with pytest.raises(InvalidInput, match="cannot be merged into itself"):
        await merge_service.merge_customers(
            session=session, actor=actor, target_id=a.id, source_id=a.id
        )
    with pytest.raises(NotFound, match=f"customer {foreign.id} was not found"):
        await merge_service.merge_customers(
            session=session, actor=actor, target_id=a.id, source_id=foreign.id
        )
    await merge_service.merge_customers(
        session=session, actor=actor, target_id=a.id, source_id=b.id
    )
    with pytest.raises(Conflict, match=f"customer {b.id} is merged"):
        await merge_service.merge_customers(
            session=session, actor=actor, target_id=c.id, source_id=b.id
        )


async def test_unmerge_waits_for_a_later_merge_of_the_target(session, actor, shop) -> None:
    a = await factories.make_customer(session, shop_id=shop.id)
    b = await factories.make_customer(session, shop_id=shop.id)
    c = await factories.make_customer(session, shop_id=shop.id)
    first = await merge_service.merge_customers(
        session=session, actor=actor, target_id=a.id, source_id=b.id
    )
    second = await merge_service.merge_customers(
        session=session, actor=actor, target_id=c.id, source_id=a.id
    )
    assert set(
        await merge_service.merged_customer_ids(session=session, shop_id=shop.id, customer_id=c.id)
    ) == {a.id, b.id, c.id}
    with pytest.raises(Conflict, match=f"customer {a.id} is merged into customer {c.id}"):
        await merge_service.unmerge_customers(session=session, actor=actor, merge_id=first.id)
    await merge_service.unmerge_customers(session=session, actor=actor, merge_id=second.id)
    await merge_service.unmerge_customers(session=session, actor=actor, merge_id=first.id)
    statuses = (
        await session.execute(select(Customer.status).where(Customer.id.in_([a.id, b.id, c.id])))
    ).scalars()
    assert set(statuses) == {"active"}


async def test_unmerge_skips_tags_deleted_meanwhile(session, actor, shop) -> None:
    a = await factories.make_customer(session, shop_id=shop.id)
    b = await factories.make_customer(session, shop_id=shop.id, tags=["gone", "kept"])
    merge = await merge_service.merge_customers(
        session=session, actor=actor, target_id=a.id, source_id=b.id
    )
    gone = (await tags_service.ensure_tags(session=session, shop_id=shop.id, names=["gone"]))[
        "gone"
    ]
    await tags_service.delete_tag(session=session, actor=actor, tag_id=gone)
    await merge_service.unmerge_customers(session=session, actor=actor, merge_id=merge.id)
    restored = await service.get_customer(session=session, shop_id=shop.id, customer_id=b.id)
    assert [link.tag.name for link in restored.tag_links] == ["kept"]


CHANNEL_VALUES = {
    "phone": st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    "email": st.from_regex(r"[a-z]{1,8}@[a-z]{1,6}\.cn", fullmatch=True),
    "wecom": st.from_regex(r"wm[A-Za-z0-9]{1,12}", fullmatch=True),
    "douyin": st.from_regex(r"dy[0-9]{1,10}", fullmatch=True),
}
optional_text = st.none() | st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20
).map(str.strip).filter(bool)
moments = st.none() | st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)
)
profiles = st.fixed_dictionaries(
    {
        "display_name": optional_text,
        "gender": st.none() | st.sampled_from(["male", "female", "other"]),
        "birthday": st.none() | st.dates(dt.date(1940, 1, 1), dt.date(2010, 1, 1)),
        "province": optional_text,
        "city": optional_text,
        "source_channel": st.none() | st.sampled_from(["douyin", "wecom", "import"]),
        "last_active_at": moments,
        "consent": st.none()
        | st.dictionaries(st.sampled_from(["sms", "email", "wecom"]), st.booleans()),
        "notes": optional_text,
    }
)
identity_sets = st.lists(
    st.sampled_from(sorted(CHANNEL_VALUES)).flatmap(
        lambda channel: CHANNEL_VALUES[channel].map(lambda value: (channel, value))
    ),
    max_size=4,
    unique_by=lambda pair: pair,
)
tag_sets = st.sets(st.integers(0, 5), max_size=6)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    profile_a=profiles,
    profile_b=profiles,
    identities=st.tuples(identity_sets, identity_sets),
    tags_a=tag_sets,
    tags_b=tag_sets,
)
async def test_merge_then_unmerge_restores_both_exactly(
    session, actor, shop, profile_a, profile_b, identities, tags_a, tags_b
) -> None:
    nested = await session.begin_nested()
    try:
        pool = [
            await factories.make_tag(session, shop_id=shop.id, name=f"pool{i}") for i in range(6)
        ]
        ids_a, ids_b = identities
        taken = {v for _, v in ids_a}
        ids_b = [(c, v) for c, v in ids_b if v not in taken]
        a = await _make(session, shop.id, profile_a, ids_a, [pool[i] for i in sorted(tags_a)])
        b = await _make(session, shop.id, profile_b, ids_b, [pool[i] for i in sorted(tags_b)])
        before = (await state_of(session, shop.id, a.id), await state_of(session, shop.id, b.id))
        merge = await merge_service.merge_customers(
            session=session, actor=actor, target_id=a.id, source_id=b.id
        )
        merged = await state_of(session, shop.id, a.id)
        assert {tag for tag, *_ in merged["tags"]} == {pool[i].id for i in tags_a | tags_b}
        assert len(merged["identities"]) == len(ids_a) + len(ids_b)
        await merge_service.unmerge_customers(session=session, actor=actor, merge_id=merge.id)
        after = (await state_of(session, shop.id, a.id), await state_of(session, shop.id, b.id))
        assert after == before
    finally:
        await nested.rollback()


async def _make(session, shop_id, profile, identities, tags):
    data = {k: v for k, v in profile.items() if k != "display_name"}
    return await factories.make_customer(
        session,
        shop_id=shop_id,
        name=profile["display_name"],
        identities=identities,
        tags=tags,
        **data,
    )
