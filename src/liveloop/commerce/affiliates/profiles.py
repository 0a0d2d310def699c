"""Affiliate profiles, their codes and per-product rates, and the shop's return-window settings."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.affiliates.models import (
    Affiliate,
    AffiliateCode,
    AffiliateProductRate,
    AffiliateSettings,
)
from liveloop.commerce.affiliates.schemas import (
    AffiliateCreate,
    AffiliateSettingsIn,
    AffiliateUpdate,
    CodeCreate,
    ProductRateIn,
)
from liveloop.core.database import get_scoped, scoped
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.shops.service import Actor, record_audit

# ------------------------------------------------------------------------------------ settings


async def get_settings(*, session: AsyncSession, shop_id: int) -> AffiliateSettings:
    """The shop's settings; defaults (not stored) when it never saved any."""
    found = (await session.execute(scoped(AffiliateSettings, shop_id))).scalar_one_or_none()
    return found or AffiliateSettings(shop_id=shop_id, return_window_days=7, ship_settle_days=17)


async def update_settings(
    *, session: AsyncSession, actor: Actor, data: AffiliateSettingsIn
) -> AffiliateSettings:
    found = (await session.execute(scoped(AffiliateSettings, actor.shop_id))).scalar_one_or_none()
    if found is None:
        found = AffiliateSettings(shop_id=actor.shop_id)
        session.add(found)
    found.return_window_days = data.return_window_days
    found.ship_settle_days = data.ship_settle_days
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="affiliates.settings",
        target_type="shop",
        target_id=actor.shop_id,
        details=data.model_dump(),
    )
    return found


# ---------------------------------------------------------------------------------- profiles


async def _check_person(session: AsyncSession, shop_id: int, data: AffiliateCreate) -> None:
    if data.staff_id is not None:
        from liveloop.shops.models import Staff

        await get_scoped(session, Staff, shop_id=shop_id, record_id=data.staff_id, label="staff")
    if data.customer_id is not None:
        from liveloop.customers import service as customers_service

        await customers_service.get_customer(
            session=session, shop_id=shop_id, customer_id=data.customer_id
        )


async def create_affiliate(
    *, session: AsyncSession, actor: Actor, data: AffiliateCreate
) -> Affiliate:
    await _check_person(session, actor.shop_id, data)
    affiliate = Affiliate(shop_id=actor.shop_id, **data.model_dump())
    session.add(affiliate)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="affiliates.create",
        target_type="affiliate",
        target_id=affiliate.id,
        details={"name": data.name, "default_rate_bp": data.default_rate_bp},
    )
    return affiliate


async def get_affiliate(*, session: AsyncSession, shop_id: int, affiliate_id: int) -> Affiliate:
    return await get_scoped(
        session, Affiliate, shop_id=shop_id, record_id=affiliate_id, label="affiliate"
    )


async def update_affiliate(
    *, session: AsyncSession, actor: Actor, affiliate_id: int, data: AffiliateUpdate
) -> Affiliate:
    affiliate = await get_affiliate(
        session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id
    )
    changes = data.model_dump(exclude_none=True)
    for name, value in changes.items():
        setattr(affiliate, name, value)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="affiliates.update",
        target_type="affiliate",
        target_id=affiliate.id,
        details=changes,
    )
    return affiliate


async def list_affiliates(*, session: AsyncSession, shop_id: int) -> Sequence[Affiliate]:
    return (
        (await session.execute(scoped(Affiliate, shop_id).order_by(Affiliate.id))).scalars().all()
    )


async def add_code(
    *, session: AsyncSession, actor: Actor, affiliate_id: int, data: CodeCreate
) -> AffiliateCode:
    await get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    taken = (
        await session.execute(
            scoped(AffiliateCode, actor.shop_id, AffiliateCode.id).where(
                func.lower(AffiliateCode.code) == data.code.lower()
            )
        )
    ).first()
    if taken is not None:
        raise Conflict(
            f"code {data.code} is already used by an affiliate of this shop",
            code="affiliate_code_taken",
            field="code",
        )
    code = AffiliateCode(shop_id=actor.shop_id, affiliate_id=affiliate_id, **data.model_dump())
    session.add(code)
    await session.flush()
    return code


async def check_promo_code(*, session: AsyncSession, shop_id: int, code: str) -> AffiliateCode:
    """The active affiliate's code a buyer typed at checkout; an unknown code is refused so the
    buyer can correct it before the order goes to nobody."""
    statement = (
        scoped(AffiliateCode, shop_id)
        .join(Affiliate, Affiliate.id == AffiliateCode.affiliate_id)
        .where(func.lower(AffiliateCode.code) == code.strip().lower())
        .where(Affiliate.is_active.is_(True))
    )
    found = (await session.execute(statement)).scalar_one_or_none()
    if found is None:
        raise InvalidInput(
            f"promo code {code} is not valid in this shop: check the spelling or leave it empty",
            code="unknown_promo_code",
            field="promo_code",
        )
    return found


async def list_codes(
    *, session: AsyncSession, shop_id: int, affiliate_id: int
) -> Sequence[AffiliateCode]:
    statement = scoped(AffiliateCode, shop_id).where(AffiliateCode.affiliate_id == affiliate_id)
    return (await session.execute(statement.order_by(AffiliateCode.id))).scalars().all()


async def set_product_rate(
    *, session: AsyncSession, actor: Actor, affiliate_id: int, data: ProductRateIn
) -> AffiliateProductRate:
    from liveloop.catalog import service as catalog_service

    await get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    await catalog_service.get_product(
        session=session, shop_id=actor.shop_id, product_id=data.product_id
    )
    statement = scoped(AffiliateProductRate, actor.shop_id).where(
        AffiliateProductRate.affiliate_id == affiliate_id,
        AffiliateProductRate.product_id == data.product_id,
    )
    rate = (await session.execute(statement)).scalar_one_or_none()
    if rate is None:
        rate = AffiliateProductRate(
            shop_id=actor.shop_id, affiliate_id=affiliate_id, product_id=data.product_id, rate_bp=0
        )
        session.add(rate)
    rate.rate_bp = data.rate_bp
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="affiliates.rate",
        target_type="affiliate",
        target_id=affiliate_id,
        details=data.model_dump(),
    )
    return rate


async def list_product_rates(
    *, session: AsyncSession, shop_id: int, affiliate_id: int
) -> Sequence[AffiliateProductRate]:
    statement = scoped(AffiliateProductRate, shop_id).where(
        AffiliateProductRate.affiliate_id == affiliate_id
    )
    return (
        (await session.execute(statement.order_by(AffiliateProductRate.product_id))).scalars().all()
    )
