"""Delivery addresses of customers: phone and street encrypted at rest, masked in lists."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.models import Address
from liveloop.core.database import scoped
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.core.security import mask_phone
from liveloop.customers import service as customers_service
from liveloop.customers.crypto import get_cipher

MAX_ADDRESSES = 20


@dataclass(frozen=True)
class AddressData:
    recipient_name: str
    phone: str
    region: str
    city: str
    detail: str
    district: str = ""
    is_default: bool = False


@dataclass(frozen=True)
class AddressView:
    """An address decrypted for its owner (or for shipping); phone shown masked."""

    id: int
    recipient_name: str
    phone_masked: str
    region: str
    city: str
    district: str
    detail: str
    is_default: bool

    @property
    def one_line(self) -> str:
        return " ".join(p for p in (self.region, self.city, self.district, self.detail) if p)


def check_address(data: AddressData) -> tuple[str, AddressData]:
    """The normalised phone and the trimmed data; InvalidInput names the bad field."""
    for name in ("recipient_name", "region", "city", "detail"):
        if not getattr(data, name).strip():
            raise InvalidInput(f"{name.replace('_', ' ')} is required", field=name)
    phone = customers_service.normalize_identity("phone", data.phone)
    return phone, data


def view_address(address: Address) -> AddressView:
    return AddressView(
        id=address.id,
        recipient_name=address.recipient_name,
        phone_masked=address.phone_masked,
        region=address.region,
        city=address.city,
        district=address.district,
        detail=get_cipher().decrypt(address.detail_secret),
        is_default=address.is_default,
    )


def address_phone(address: Address) -> str:
    return get_cipher().decrypt(address.phone_secret)


async def list_addresses(*, session: AsyncSession, shop_id: int, customer_id: int) -> list[Address]:
    """Default first, then newest."""
    statement = (
        scoped(Address, shop_id)
        .where(Address.customer_id == customer_id)
        .order_by(Address.is_default.desc(), Address.id.desc())
    )
    return list((await session.execute(statement)).scalars())


async def get_address(
    *, session: AsyncSession, shop_id: int, customer_id: int, address_id: int
) -> Address:
    """The customer's own live address; another customer's is 'not found'."""
    address = (
        await session.execute(
            scoped(Address, shop_id).where(
                Address.id == address_id,
                Address.customer_id == customer_id,
            )
        )
    ).scalar_one_or_none()
    if address is None:
        raise NotFound(
            f"address {address_id} was not found", code="address_not_found", field="address_id"
        )
    return address


async def _clear_default(session: AsyncSession, *, shop_id: int, customer_id: int) -> None:
    await session.execute(
        update(Address)
        .where(Address.shop_id == shop_id, Address.customer_id == customer_id)
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )


async def create_address(
    *, session: AsyncSession, shop_id: int, customer_id: int, data: AddressData
) -> Address:
    phone, data = check_address(data)
    existing = await list_addresses(session=session, shop_id=shop_id, customer_id=customer_id)
    if len(existing) >= MAX_ADDRESSES:
        raise InvalidInput(
            f"a customer keeps at most {MAX_ADDRESSES} addresses; delete one first",
            code="too_many_addresses",
        )
    make_default = data.is_default or not existing
    if make_default:
        await _clear_default(session, shop_id=shop_id, customer_id=customer_id)
    cipher = get_cipher()
    address = Address(
        shop_id=shop_id,
        customer_id=customer_id,
        recipient_name=data.recipient_name.strip(),
        phone_secret=cipher.encrypt(phone),
        phone_masked=mask_phone(phone),
        region=data.region.strip(),
        city=data.city.strip(),
        district=data.district.strip(),
        detail_secret=cipher.encrypt(data.detail.strip()),
        is_default=make_default,
    )
    session.add(address)
    await session.flush()
    return address


async def update_address(
    *, session: AsyncSession, shop_id: int, customer_id: int, address_id: int, data: AddressData
) -> Address:
    address = await get_address(
        session=session, shop_id=shop_id, customer_id=customer_id, address_id=address_id
    )
    phone, data = check_address(data)
    if data.is_default and not address.is_default:
        await _clear_default(session, shop_id=shop_id, customer_id=customer_id)
    cipher = get_cipher()
    address.recipient_name = data.recipient_name.strip()
    address.phone_secret = cipher.encrypt(phone)
    address.phone_masked = mask_phone(phone)
    address.region, address.city = data.region.strip(), data.city.strip()
    address.district = data.district.strip()
    address.detail_secret = cipher.encrypt(data.detail.strip())
    address.is_default = data.is_default or address.is_default
    await session.flush()
    return address


async def delete_address(
    *, session: AsyncSession, shop_id: int, customer_id: int, address_id: int
) -> None:
    """Orders keep their own encrypted snapshot, so the row itself goes (PII kept no longer
    than needed)."""
    address = await get_address(
        session=session, shop_id=shop_id, customer_id=customer_id, address_id=address_id
    )
    await session.delete(address)
    await session.flush()


async def find_or_create_address(
    *, session: AsyncSession, shop_id: int, customer_id: int, data: AddressData
) -> Address:
    """The customer's address equal to `data` (a repeated checkout), else a new one."""
    phone, data = check_address(data)
    for address in await list_addresses(session=session, shop_id=shop_id, customer_id=customer_id):
        view = view_address(address)
        same = (
            view.recipient_name == data.recipient_name.strip()
            and (view.region, view.city, view.district)
            == (data.region.strip(), data.city.strip(), data.district.strip())
            and view.detail == data.detail.strip()
            and address_phone(address) == phone
        )
        if same:
            return address
    return await create_address(
        session=session, shop_id=shop_id, customer_id=customer_id, data=data
    )
