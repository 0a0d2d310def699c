"""Demo referral fission: a running campaign (invite 3 new friends, get a ¥20 coupon) with
participants, opened links, counted invites, refused ones with their reasons, and rewards."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.core.database import utcnow
from liveloop.customers import service as customers_service
from liveloop.customers.crypto import get_cipher
from liveloop.customers.fission import service as fission
from liveloop.customers.fission.schemas import CampaignCreate
from liveloop.customers.identities import make_identity
from liveloop.shops.service import system_actor

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"


@dataclass(frozen=True)
class FissionDemo:
    campaign_id: int
    participants: int
    invitees: int
    new_customers: int  # invitees who became customers through the links
    events: int  # behaviour events the rewards recorded (coupon_claimed)


async def seed_fission(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_ids: list[int],
    participants: int = 12,
    seed: int = 7,
) -> FissionDemo:
    """Participants are existing customers; invitees are new customers (by phone, as the invite
    page makes them). Some refusals are planted so the console's reasons are not empty."""
    rng = random.Random(seed)
    now = utcnow()
    events_before = await _event_count(session, shop_id)
    coupon = await coupons_service.create_coupon(
        session=session,
        shop_id=shop_id,
        data=CouponCreate(
            title="邀请有礼 20 元无门槛券", kind="amount_off", amount_off_fen=2000,
            total_quantity=500, valid_days=30, status="draft",
        ),
    )  # fmt: skip
    campaign = await fission.create_campaign(
        session=session,
        actor=system_actor(shop_id, "demo seed"),
        data=CampaignCreate(
            name="邀请 3 位好友 得 20 元券",
            description="分享你的专属海报，3 位新朋友通过你的链接加入，即得 20 元无门槛券。",
            goal="join",
            invitees_needed=3,
            reward_kind="coupon",
            reward_coupon_id=coupon.id,
            reward_title="20 元无门槛券",
            reward_stock=200,
            starts_at=now - dt.timedelta(days=3),
            ends_at=now + dt.timedelta(days=14),
            poster={"color": "#c0392b", "headline": "好友一起来喝茶", "subtitle": "邀请 3 人得券"},
        ),
    )
    chosen = rng.sample(customer_ids, min(participants, len(customer_ids)))
    regulars = [c for c in customer_ids if c not in chosen]
    phone = 17700000000 + rng.randrange(100000) * 10
    invitees = new_customers = 0
    for number, customer_id in enumerate(chosen):
        name = rng.choice(SURNAMES) + rng.choice(("先生", "女士"))
        participant = await fission.join_campaign(
            session=session,
            shop_id=shop_id,
            campaign_id=campaign.id,
            customer_id=customer_id,
            device_id=f"demo-inviter-{number}",
            display_name=name,
        )
        friends = rng.choice((0, 1, 2, 3, 3, 4, 5))
        for _ in range(friends + rng.randrange(4)):
            await fission.record_link_open(session=session, participant_id=participant.id)
        for friend in range(friends):
            phone += 1
            raw = str(phone)
            created = await customers_service.resolve_identities(
                session=session, shop_id=shop_id, identities=[("phone", raw)]
            )
            # Every fifth friend of a busy inviter reuses a device: recorded, not counted.
            device = f"demo-friend-{number}-{friend}"
            if friend == 4:
                device = f"demo-friend-{number}-0"
            await fission.accept_invite(
                session=session,
                shop_id=shop_id,
                code=participant.code,
                invitee_customer_id=created[("phone", raw)],
                invitee_was_new=True,
                device_id=device,
                phone_key=make_identity(get_cipher(), "phone", raw, encrypt=False).key,
            )
            invitees, new_customers = invitees + 1, new_customers + 1
        if number % 4 == 1 and regulars:  # an existing customer follows the link
            await fission.accept_invite(
                session=session,
                shop_id=shop_id,
                code=participant.code,
                invitee_customer_id=regulars.pop(),
                invitee_was_new=False,
                device_id=f"demo-regular-{number}",
                phone_key=None,
            )
            invitees += 1
        if number == 2:  # someone tries their own link
            await fission.accept_invite(
                session=session,
                shop_id=shop_id,
                code=participant.code,
                invitee_customer_id=customer_id,
                invitee_was_new=False,
                device_id="demo-self",
                phone_key=None,
            )
            invitees += 1
    return FissionDemo(
        campaign_id=campaign.id,
        participants=len(chosen),
        invitees=invitees,
        new_customers=new_customers,
        events=await _event_count(session, shop_id) - events_before,
    )


async def _event_count(session: AsyncSession, shop_id: int) -> int:
    from sqlalchemy import func, select

    from liveloop.events.models import Event

    return int(
        (await session.execute(select(func.count()).where(Event.shop_id == shop_id))).scalar_one()
    )
