"""Coupons through the service: define, claim, evaluate, lock/use/release/return via orders."""

from __future__ import annotations

import datetime as dt

import pytest

from liveloop.commerce import hooks, orders
from liveloop.commerce.checkout import LineRequest
from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.models import ClaimSource
from liveloop.commerce.coupons.schemas import CouponCreate, CouponUpdate
from liveloop.commerce.pricing import PricedLine
from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from tests import factories


def terms(**overrides: object) -> CouponCreate:
    base: dict[str, object] = {
        "title": "满199减20",
        "kind": "threshold",
        "amount_off_fen": 2000,
        "threshold_fen": 19900,
        "valid_days": 7,
        "total_quantity": 3,
        "per_customer_limit": 1,
        "status": "active",
    }
    return CouponCreate.model_validate({**base, **overrides})


async def make_coupon(session, shop, **overrides):  # type: ignore[no-untyped-def]
    return await coupons_service.create_coupon(
        session=session, shop_id=shop.id, data=terms(**overrides)
    )


def lines(total_fen: int, product_id: int = 1) -> list[PricedLine]:
    return [
        PricedLine(
            sku_id=1, product_id=product_id, category_id=None, unit_price_fen=total_fen, quantity=1
        )
    ]


async def test_claims_stop_at_the_total_and_the_per_customer_limit(session, shop) -> None:
    coupon = await make_coupon(session, shop, total_quantity=3, per_customer_limit=2)
    alice, bob = [await factories.make_customer(session, shop_id=shop.id) for _ in range(2)]
    first = await coupons_service.claim_coupon(
        session=session, shop_id=shop.id, coupon_id=coupon.id, customer_id=alice.id
    )
    assert first.claim_seq == 1 and first.status == "available"
    assert first.valid_until - first.valid_from == dt.timedelta(days=7)
    await coupons_service.claim_coupon(
        session=session, shop_id=shop.id, coupon_id=coupon.id, customer_id=alice.id
    )
    with pytest.raises(Conflict) as error:
        await coupons_service.claim_coupon(
            session=session, shop_id=shop.id, coupon_id=coupon.id, customer_id=alice.id
        )
    assert error.value.code == "claim_limit_reached"
    assert "at most 2 per customer" in error.value.message
    await coupons_service.claim_coupon(
        session=session, shop_id=shop.id, coupon_id=coupon.id, customer_id=bob.id
    )
    with pytest.raises(Conflict) as error:
        await coupons_service.claim_coupon(
            session=session, shop_id=shop.id, coupon_id=coupon.id, customer_id=bob.id
        )
    assert error.value.code == "used_up"
    assert coupon.claimed_count == 3 and coupon.remaining == 0


async def test_draft_and_stopped_coupons_cannot_be_claimed_but_drafts_can_be_granted(
    session, shop
) -> None:
    draft = await make_coupon(session, shop, status="draft")
    customer = await factories.make_customer(session, shop_id=shop.id)
    with pytest.raises(Conflict) as error:
        await coupons_service.claim_coupon(
            session=session, shop_id=shop.id, coupon_id=draft.id, customer_id=customer.id
        )
    assert error.value.code == "coupon_not_active"
    granted = await coupons_service.grant_coupon(
        session=session, shop_id=shop.id, coupon_id=draft.id, customer_id=customer.id, reason="生日"
    )
    assert granted.source == ClaimSource.GRANT and granted.reason == "生日"
    await coupons_service.set_coupon_status(
        session=session, shop_id=shop.id, coupon_id=draft.id, status="stopped"
    )
    with pytest.raises(Conflict):
        await coupons_service.set_coupon_status(
            session=session, shop_id=shop.id, coupon_id=draft.id, status="active"
        )


async def test_terms_freeze_once_claimed(session, shop) -> None:
    coupon = await make_coupon(session, shop)
    updated = await coupons_service.update_coupon(
        session=session, shop_id=shop.id, coupon_id=coupon.id, data=CouponUpdate(threshold_fen=9900)
    )
    assert updated.threshold_fen == 9900
    with pytest.raises(InvalidInput):
        await coupons_service.update_coupon(
            session=session,
            shop_id=shop.id,
            coupon_id=coupon.id,
            data=CouponUpdate(amount_off_fen=99999),
        )
    customer = await factories.make_customer(session, shop_id=shop.id)
    await coupons_service.claim_coupon(
        session=session, shop_id=shop.id, coupon_id=coupon.id, customer_id=customer.id
    )
    with pytest.raises(Conflict) as error:
        await coupons_service.update_coupon(
            session=session,
            shop_id=shop.id,
            coupon_id=coupon.id,
            data=CouponUpdate(threshold_fen=1),
        )
    assert error.value.code == "coupon_terms_frozen"
    renamed = await coupons_service.update_coupon(
        session=session, shop_id=shop.id, coupon_id=coupon.id, data=CouponUpdate(title="新名字")
    )
    assert renamed.title == "新名字"


async def test_check_says_why_and_best_picks_the_biggest_saving(session, shop, other_shop) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id)
    threshold = await make_coupon(session, shop)
    ten_off = await make_coupon(
        session, shop, kind="amount_off", amount_off_fen=1000, threshold_fen=0
    )
    held = {}
    for coupon in (threshold, ten_off):
        held[coupon.id] = await coupons_service.claim_coupon(
            session=session, shop_id=shop.id, coupon_id=coupon.id, customer_id=customer.id
        )
    with pytest.raises(InvalidInput) as error:
        await coupons_service.check_customer_coupon(
            session=session,
            shop_id=shop.id,
            customer_id=customer.id,
            customer_coupon_id=held[threshold.id].id,
            lines=lines(15000),
            shipping_fen=0,
        )
    assert error.value.code == "below_threshold"
    assert (
        f"coupon {threshold.code} needs an order of at least ¥199.00 (this order is ¥150.00)"
        == error.value.message
    )
    best, evaluation = await coupons_service.best_coupon_for(
        session=session,
        shop_id=shop.id,
        customer_id=customer.id,
        lines=lines(15000),
        shipping_fen=0,
    )
    assert best.id == held[ten_off.id].id and evaluation.discount_fen == 1000
    best, evaluation = await coupons_service.best_coupon_for(
        session=session,
        shop_id=shop.id,
        customer_id=customer.id,
        lines=lines(20000),
        shipping_fen=0,
    )
    assert best.id == held[threshold.id].id and evaluation.discount_fen == 2000
    stranger = await factories.make_customer(session, shop_id=shop.id)
    with pytest.raises(InvalidInput) as error:
        await coupons_service.check_customer_coupon(
            session=session,
            shop_id=shop.id,
            customer_id=stranger.id,
            customer_coupon_id=held[ten_off.id].id,
            lines=lines(20000),
            shipping_fen=0,
        )
    assert error.value.code == "not_yours"
    with pytest.raises(NotFound):
        await coupons_service.check_customer_coupon(
            session=session,
            shop_id=other_shop.id,
            customer_id=customer.id,
            customer_coupon_id=held[ten_off.id].id,
            lines=lines(20000),
            shipping_fen=0,
        )


async def test_order_locks_uses_releases_and_returns_the_coupon(session, shop, actor) -> None:
    product = await factories.make_product(session, shop_id=shop.id, price_fen=25000, stock=10)
    customer = await factories.make_customer(session, shop_id=shop.id)
    coupon = await make_coupon(session, shop, per_customer_limit=1)
    issued = await coupons_service.claim_coupon(
        session=session, shop_id=shop.id, coupon_id=coupon.id, customer_id=customer.id
    )

    async def place():  # type: ignore[no-untyped-def]
        return await orders.place_order(
            session=session,
            shop_id=shop.id,
            customer_id=customer.id,
            lines=[LineRequest(sku_id=product.skus[0].id, quantity=1)],
            address_id=None,
            customer_coupon_id=issued.id,
        )

    order = await place()
    assert order.discount_fen == 2000
    await session.refresh(issued)
    assert issued.status == "locked" and issued.order_id == order.id
    with pytest.raises((Conflict, InvalidInput)) as error:
        await place()  # the coupon is held by the first order
    assert error.value.code == "already_used"
    await orders.cancel_order(
        session=session, shop_id=shop.id, order_id=order.id, reason="t", actor=actor
    )
    await session.refresh(issued)
    assert issued.status == "available" and issued.order_id is None
    order = await place()
    await orders.mark_order_paid(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=order.total_fen,
        paid_at=utcnow(),
        payment_ref="test",
    )
    await session.refresh(issued)
    await session.refresh(coupon)
    assert issued.status == "used" and coupon.used_count == 1
    # A partial refund keeps it used; a full one returns it (return_on_refund).
    order.refunded_fen = order.paid_fen - 1
    await hooks.emit("order_refunded", session=session, order=order, refund=None)
    await session.refresh(issued)
    assert issued.status == "used"
    order.refunded_fen = order.paid_fen
    await hooks.emit("order_refunded", session=session, order=order, refund=None)
    await session.refresh(issued)
    await session.refresh(coupon)
    assert issued.status == "returned" and coupon.used_count == 0
    # Returned means usable again.
    again = await place()
    assert again.discount_fen == 2000


async def test_scope_ids_of_another_shop_are_refused(session, shop, other_shop) -> None:
    foreign = await factories.make_product(session, shop_id=other_shop.id)
    with pytest.raises(NotFound):
        await make_coupon(session, shop, scope="products", product_ids=[foreign.id])
