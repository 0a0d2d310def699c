import datetime as dt

import pytest
from sqlalchemy import select

from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from liveloop.customers import service
from liveloop.customers.models import CustomerIdentity
from liveloop.customers.schemas import CustomerCreate, CustomerFilter, CustomerUpdate, IdentityIn
from liveloop.shops.models import AuditEntry
from liveloop.shops.service import actor_for_staff
from tests import factories


async def _audit_actions(session, shop_id: int) -> list[str]:
    rows = await session.execute(
        select(AuditEntry.action).where(AuditEntry.shop_id == shop_id).order_by(AuditEntry.id)
    )
    return list(rows.scalars())


async def test_create_customer_with_identities_and_tags(session, actor, shop) -> None:
    tag = await factories.make_tag(session, shop_id=shop.id, name="老客")
    customer = await service.create_customer(
        session=session,
        actor=actor,
        data=CustomerCreate(
            display_name="李娜",
            gender="female",
            birthday=dt.date(1990, 5, 17),
            province="浙江",
            city="杭州",
            consent={"sms": True, "email": False},
            identities=[
                IdentityIn(channel="phone", value="+86 139 1234 5678"),
                IdentityIn(channel="wecom", value="wmABC"),
            ],
            tag_ids=[tag.id],
        ),
    )
    assert customer.status == "active"
    assert customer.source_channel == "phone"
    assert customer.first_seen_at is not None
    assert {(i.channel, i.display_value) for i in customer.identities} == {
        ("phone", "139****5678"),
        ("wecom", "wmABC"),
    }
    assert [link.tag.name for link in customer.tag_links] == ["老客"]
    assert customer.tag_links[0].tagged_by == actor.label
    assert customer.consent == {"sms": True, "email": False}
    assert "customer.create" in await _audit_actions(session, shop.id)


async def test_identity_of_another_customer_is_a_conflict(session, actor, shop) -> None:
    first = await factories.make_customer(session, shop_id=shop.id, phone="13800000001")
    with pytest.raises(
        Conflict, match=rf"phone 138\*\*\*\*0001 already belongs to customer {first.id}"
    ):
        await factories.make_customer(session, shop_id=shop.id, phone="138-0000-0001")


async def test_bad_identity_names_its_position(session, actor) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service.create_customer(
            session=session,
            actor=actor,
            data=CustomerCreate(
                identities=[
                    IdentityIn(channel="wecom", value="ok"),
                    IdentityIn(channel="phone", value="1381234"),
                ]
            ),
        )
    assert caught.value.field == "identities[1].value"
    assert "phone 1381234 is not a mainland mobile number (11 digits starting 13–19)" in str(
        caught.value
    )


async def test_unknown_tag_is_not_found(session, actor, other_shop) -> None:
    foreign = await factories.make_tag(session, shop_id=other_shop.id)
    with pytest.raises(NotFound, match=f"tag {foreign.id} was not found"):
        await service.create_customer(
            session=session, actor=actor, data=CustomerCreate(tag_ids=[foreign.id])
        )


async def test_update_sets_only_given_fields_and_none_clears(session, actor, shop) -> None:
    customer = await factories.make_customer(
        session, shop_id=shop.id, name="旧名", city="上海", notes="n"
    )
    updated = await service.update_customer(
        session=session,
        actor=actor,
        customer_id=customer.id,
        data=CustomerUpdate.model_validate({"display_name": "新名", "notes": None}),
    )
    assert (updated.display_name, updated.city, updated.notes) == ("新名", "上海", None)


async def test_delete_is_soft_and_erases_identities_and_tags(session, actor, shop) -> None:
    customer = await factories.make_customer(
        session, shop_id=shop.id, phone="13800000002", tags=["VIP"]
    )
    deleted = await service.delete_customer(session=session, actor=actor, customer_id=customer.id)
    assert deleted.status == "deleted"
    assert deleted.deleted_at is not None
    assert deleted.identities == []
    assert deleted.tag_links == []
    # The number is free again: an event from it resolves to a new customer.
    resolved = await service.resolve_identities(
        session=session, shop_id=shop.id, identities=[("phone", "13800000002")]
    )
    assert resolved[("phone", "13800000002")] != customer.id
    with pytest.raises(Conflict, match=f"customer {customer.id} is deleted"):
        await service.update_customer(
            session=session, actor=actor, customer_id=customer.id, data=CustomerUpdate(city="x")
        )
    assert "customer.delete" in await _audit_actions(session, shop.id)


async def test_add_and_remove_identity(session, actor, shop) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id)
    other = await factories.make_customer(session, shop_id=shop.id, email="a@b.cn")
    identity = await service.add_identity(
        session=session, actor=actor, customer_id=customer.id, channel="email", value="X@Y.CN"
    )
    assert identity.masked == "x*@y.cn"
    again = await service.add_identity(
        session=session, actor=actor, customer_id=customer.id, channel="email", value="x@y.cn"
    )
    assert again.id == identity.id
    with pytest.raises(Conflict, match=f"belongs to customer {other.id}"):
        await service.add_identity(
            session=session, actor=actor, customer_id=customer.id, channel="email", value="A@b.cn"
        )
    with pytest.raises(NotFound):
        await service.remove_identity(
            session=session, actor=actor, customer_id=other.id, identity_id=identity.id
        )
    await service.remove_identity(
        session=session, actor=actor, customer_id=customer.id, identity_id=identity.id
    )
    assert (await session.get(CustomerIdentity, identity.id)) is None


async def test_reveal_needs_permission_and_is_audited(session, shop, owner, pii_cipher) -> None:
    customer = await factories.make_customer(
        session, shop_id=shop.id, phone="13912345678", email="Zhangwei@Example.com"
    )
    owner_actor = actor_for_staff(owner)
    revealed = await service.reveal_pii(session=session, actor=owner_actor, customer_id=customer.id)
    assert sorted(value for _, value in revealed) == ["13912345678", "zhangwei@example.com"]
    entry = (
        await session.execute(
            select(AuditEntry).where(
                AuditEntry.shop_id == shop.id, AuditEntry.action == "customer.pii_reveal"
            )
        )
    ).scalar_one()
    assert entry.target_id == str(customer.id)
    assert "13912345678" not in str(entry.details)
    anchor = await factories.make_staff(session, shop_id=shop.id, role="anchor")
    with pytest.raises(PermissionDenied):
        await service.reveal_pii(
            session=session, actor=actor_for_staff(anchor), customer_id=customer.id
        )


async def test_mark_customers_active_only_moves_forward(session, shop) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id)
    later = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
    earlier = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    await service.mark_customers_active(
        session=session, shop_id=shop.id, activity={customer.id: later}
    )
    await service.mark_customers_active(
        session=session, shop_id=shop.id, activity={customer.id: earlier}
    )
    fresh = await service.get_customer(session=session, shop_id=shop.id, customer_id=customer.id)
    assert fresh.last_active_at == later


async def _ids(session, shop_id: int, **filters) -> set[int]:
    page = await service.search_customers(
        session=session, shop_id=shop_id, filters=CustomerFilter(**filters), per_page=500
    )
    return {c.id for c in page.items}


async def test_search_filters(session, shop, other_shop) -> None:
    vip = await factories.make_tag(session, shop_id=shop.id, name="VIP")
    tea = await factories.make_tag(session, shop_id=shop.id, name="茶")
    a = await factories.make_customer(
        session,
        shop_id=shop.id,
        name="张伟",
        phone="13800000011",
        tags=[vip, tea],
        source_channel="douyin",
        last_active_at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
    )
    b = await factories.make_customer(
        session,
        shop_id=shop.id,
        name="张小伟",
        email="b@example.com",
        tags=[vip],
        identities=[("wecom", "wm_b")],
        last_active_at=dt.datetime(2024, 4, 1, tzinfo=dt.UTC),
    )
    c = await factories.make_customer(session, shop_id=shop.id, name="李四 100%_x")
    await factories.make_customer(session, shop_id=other_shop.id, name="张伟", phone="13800000011")

    assert await _ids(session, shop.id) == {a.id, b.id, c.id}
    assert await _ids(session, shop.id, q="伟") == {a.id, b.id}
    assert await _ids(session, shop.id, q="100%_") == {c.id}
    assert await _ids(session, shop.id, q="%") == {c.id}
    assert await _ids(session, shop.id, phone="+86 138 0000 0011") == {a.id}
    assert await _ids(session, shop.id, email="B@Example.com") == {b.id}
    assert await _ids(session, shop.id, tag_ids=[vip.id, tea.id]) == {a.id}
    assert await _ids(session, shop.id, tag_ids=[vip.id, tea.id], tag_match="any") == {a.id, b.id}
    assert await _ids(session, shop.id, channel="wecom") == {b.id}
    assert await _ids(session, shop.id, channel="phone") == {a.id}
    assert await _ids(session, shop.id, source="douyin") == {a.id}
    assert await _ids(session, shop.id, active_from=dt.datetime(2024, 3, 15, tzinfo=dt.UTC)) == {
        b.id
    }
    assert await _ids(session, shop.id, active_to=dt.datetime(2024, 3, 15, tzinfo=dt.UTC)) == {a.id}
    now = dt.datetime.now(dt.UTC)
    assert await _ids(session, shop.id, created_from=now + dt.timedelta(hours=1)) == set()
    assert await _ids(session, shop.id, created_to=now + dt.timedelta(hours=1)) == {
        a.id,
        b.id,
        c.id,
    }
    assert await _ids(session, shop.id, status="deleted") == set()


async def test_naive_filter_times_are_in_shop_time_zone(session, shop) -> None:
    # 2024-03-01 07:30 in Shanghai is 2024-02-29 23:30 UTC.
    customer = await factories.make_customer(
        session, shop_id=shop.id, last_active_at=dt.datetime(2024, 2, 29, 23, 30, tzinfo=dt.UTC)
    )
    assert await _ids(session, shop.id, active_from=dt.datetime(2024, 3, 1)) == {customer.id}
    assert await _ids(session, shop.id, active_to=dt.datetime(2024, 3, 1)) == set()


async def test_search_by_malformed_phone_is_invalid(session, shop) -> None:
    with pytest.raises(InvalidInput, match="phone 123 is not a mainland mobile number"):
        await _ids(session, shop.id, phone="123")


async def test_customer_times_move_in_one_batch_and_stay_in_the_shop(
    session, shop, other_shop
) -> None:
    mine = [
        await factories.make_customer(session, shop_id=shop.id, name=f"客户{n}") for n in range(3)
    ]
    theirs = await factories.make_customer(session, shop_id=other_shop.id)
    old = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    new = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    await service.mark_customers_first_seen(
        session=session, shop_id=shop.id, first_seen={c.id: old for c in [*mine, theirs]}
    )
    await service.mark_customers_first_seen(
        session=session, shop_id=shop.id, first_seen={mine[0].id: new}
    )
    await service.mark_customers_active(
        session=session, shop_id=shop.id, activity={c.id: new for c in [*mine, theirs]}
    )
    for customer in mine:
        fresh = await service.get_customer(
            session=session, shop_id=shop.id, customer_id=customer.id
        )
        assert (fresh.first_seen_at, fresh.last_active_at) == (old, new)
    stranger = await service.get_customer(
        session=session, shop_id=other_shop.id, customer_id=theirs.id
    )
    assert stranger.first_seen_at != old
    assert stranger.last_active_at != new
