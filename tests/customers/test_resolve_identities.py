import pytest
from sqlalchemy import func, select

from liveloop.core.errors import InvalidInput
from liveloop.customers import service
from liveloop.customers.models import Customer, CustomerIdentity


async def test_unknown_identities_create_one_customer_each(session, shop) -> None:
    pairs = [("wecom", "wm_abc"), ("phone", "13812345678"), ("email", "Li@Example.com")]
    resolved = await service.resolve_identities(session=session, shop_id=shop.id, identities=pairs)
    assert set(resolved) == set(pairs)
    assert len(set(resolved.values())) == 3
    customers = (
        await session.execute(select(Customer).where(Customer.id.in_(resolved.values())))
    ).scalars()
    assert {c.id: c.source_channel for c in customers} == {resolved[p]: p[0] for p in pairs}


async def test_same_value_written_differently_resolves_to_one_customer(session, shop) -> None:
    first = await service.resolve_identities(
        session=session, shop_id=shop.id, identities=[("phone", "+86 138-1234-5678")]
    )
    again = await service.resolve_identities(
        session=session,
        shop_id=shop.id,
        identities=[("phone", "13812345678"), ("phone", "0086 13812345678"), ("email", "A@B.CN")],
    )
    assert again[("phone", "13812345678")] == first[("phone", "+86 138-1234-5678")]
    assert again[("phone", "0086 13812345678")] == first[("phone", "+86 138-1234-5678")]
    count = (
        await session.execute(
            select(func.count())
            .select_from(CustomerIdentity)
            .where(CustomerIdentity.shop_id == shop.id)
        )
    ).scalar_one()
    assert count == 2


async def test_phone_is_stored_encrypted_and_hashed(session, shop, pii_cipher) -> None:
    await service.resolve_identities(
        session=session, shop_id=shop.id, identities=[("phone", "13812345678")]
    )
    identity = (
        await session.execute(select(CustomerIdentity).where(CustomerIdentity.shop_id == shop.id))
    ).scalar_one()
    assert "13812345678" not in identity.key
    assert b"13812345678" not in identity.secret
    assert pii_cipher.decrypt(identity.secret) == "13812345678"
    assert identity.masked == "138****5678"


async def test_without_create_missing_unknown_are_left_out(session, shop) -> None:
    known = await service.resolve_identities(
        session=session, shop_id=shop.id, identities=[("douyin", "dy1")]
    )
    resolved = await service.resolve_identities(
        session=session,
        shop_id=shop.id,
        identities=[("douyin", "dy1"), ("douyin", "dy2")],
        create_missing=False,
    )
    assert resolved == {("douyin", "dy1"): known[("douyin", "dy1")]}


async def test_identities_are_per_shop(session, shop, other_shop) -> None:
    mine = await service.resolve_identities(
        session=session, shop_id=shop.id, identities=[("wecom", "same")]
    )
    theirs = await service.resolve_identities(
        session=session, shop_id=other_shop.id, identities=[("wecom", "same")]
    )
    assert mine[("wecom", "same")] != theirs[("wecom", "same")]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (("fax", "123"), "unknown identity channel 'fax'"),
        (("phone", "1381234"), "phone 1381234 is not a mainland mobile number"),
        (("phone", "12812345678"), "phone 12812345678 is not a mainland mobile number"),
        (("email", "not-an-email"), "e-mail not-an-email is not an address"),
        (("wecom", "   "), "wecom id is empty"),
    ],
)
async def test_bad_identity_raises_naming_the_value(session, shop, pair, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        await service.resolve_identities(session=session, shop_id=shop.id, identities=[pair])


def test_channels_constant_lists_every_channel() -> None:
    assert set(service.CHANNELS) == {
        "wecom", "wechat_openid", "wechat_unionid", "douyin", "miniprogram", "phone", "email"
    }  # fmt: skip
