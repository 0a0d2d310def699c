"""Group buy in the live room: the card (prices, open groups), pushing it to a session and
taking it down, and the anchor console's buttons."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from liveloop.commerce.groupbuy import service as groupbuy
from liveloop.commerce.groupbuy.models import GroupBuyGroup
from liveloop.commerce.groupbuy.schemas import CampaignCreate
from liveloop.core.errors import Conflict, NotFound
from liveloop.shops.models import AuditEntry
from liveloop.shops.service import system_actor
from tests import factories
from tests.commerce.test_groupbuy import join, open_group
from tests.factories.live import make_live_session
from tests.web.conftest import log_in, post_form


@pytest.fixture
async def campaign(session, shop):  # type: ignore[no-untyped-def]
    product = await factories.make_product(
        session,
        shop_id=shop.id,
        name="明前龙井",
        skus=[{"price_fen": 12900, "stock": 50, "specs": {"规格": "100g"}}],
    )
    return await groupbuy.create_campaign(
        session=session,
        actor=system_actor(shop.id),
        data=CampaignCreate(
            title="三人团", sku_id=product.skus[0].id, group_price_fen=9900, group_size=3
        ),
    )


async def test_the_card_lists_joinable_groups_nearest_to_complete_first(
    session, shop, campaign
) -> None:  # type: ignore[no-untyped-def]
    lonely = await open_group(session, shop, campaign, name="甲")
    almost = await open_group(session, shop, campaign, name="乙")
    await join(session, shop, almost.group, "丙")
    full = await open_group(session, shop, campaign, name="丁")
    await join(session, shop, full.group, "戊")
    await join(session, shop, full.group, "己")
    late = await open_group(session, shop, campaign, name="庚")
    await session.execute(
        update(GroupBuyGroup)
        .where(GroupBuyGroup.id == late.group.id)
        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    )
    card = await groupbuy.room_card(session=session, campaign=campaign)
    assert (card["product_name"], card["sku_name"]) == ("明前龙井", "100g")
    assert (card["group_price_fen"], card["single_price_fen"], card["group_size"]) == (
        9900,
        12900,
        3,
    )
    assert [(g["code"], g["seats_taken"]) for g in card["groups"]] == [
        (almost.group.code, 2),
        (lonely.group.code, 1),
    ]


async def test_pushing_ties_a_campaign_to_the_session_and_refuses_others(
    session, shop, actor, campaign
) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, status="live")
    other = await make_live_session(session, shop_id=shop.id, status="live")
    pushed = await groupbuy.push_campaign_to_live(
        session=session, actor=actor, campaign_id=campaign.id, live_session_id=live.id
    )
    assert pushed.live_session_id == live.id
    with pytest.raises(Conflict) as refused:
        await groupbuy.push_campaign_to_live(
            session=session, actor=actor, campaign_id=campaign.id, live_session_id=other.id
        )
    assert refused.value.code == "campaign_other_session"
    with pytest.raises(Conflict) as wrong_room:
        await groupbuy.withdraw_campaign_from_live(
            session=session, actor=actor, campaign_id=campaign.id, live_session_id=other.id
        )
    assert wrong_room.value.code == "campaign_other_session"
    assert (
        await groupbuy.current_room_card(session=session, shop_id=shop.id, live_session_id=live.id)
    )["id"] == campaign.id

    ended = await groupbuy.withdraw_campaign_from_live(
        session=session, actor=actor, campaign_id=campaign.id, live_session_id=live.id
    )
    assert ended.status == "ended"
    assert (
        await groupbuy.current_room_card(session=session, shop_id=shop.id, live_session_id=live.id)
        is None
    )
    with pytest.raises(Conflict) as closed:
        await groupbuy.push_campaign_to_live(
            session=session, actor=actor, campaign_id=campaign.id, live_session_id=live.id
        )
    assert closed.value.code == "campaign_ended"
    actions = (
        await session.execute(
            select(AuditEntry.action)
            .where(AuditEntry.target_id == str(campaign.id))
            .order_by(AuditEntry.id)
        )
    ).scalars()
    assert list(actions)[-2:] == ["group_buy.push", "group_buy.end"]


async def test_an_ended_session_or_another_shops_session_is_refused(
    session, shop, other_shop, actor, campaign
) -> None:  # type: ignore[no-untyped-def]
    ended = await make_live_session(session, shop_id=shop.id, status="ended")
    with pytest.raises(Conflict) as refused:
        await groupbuy.push_campaign_to_live(
            session=session, actor=actor, campaign_id=campaign.id, live_session_id=ended.id
        )
    assert refused.value.code == "live_session_closed"
    theirs = await make_live_session(session, shop_id=other_shop.id, status="live")
    with pytest.raises(NotFound):
        await groupbuy.push_campaign_to_live(
            session=session, actor=actor, campaign_id=campaign.id, live_session_id=theirs.id
        )


async def test_the_anchor_console_shows_and_takes_down_a_group_buy(
    anon_client, session, shop, campaign
) -> None:  # type: ignore[no-untyped-def]
    anchor = await factories.make_staff(session, shop_id=shop.id, role="anchor")
    anon_client.csrf = await log_in(anon_client, anchor.email)
    live = await make_live_session(session, shop_id=shop.id, status="live")
    page = await anon_client.get(f"/console/live/{live.id}")
    assert page.status_code == 200
    assert f'data-group-buy-id="{campaign.id}"' in page.text
    shown = await post_form(
        anon_client,
        f"/console/group-buys/{campaign.id}/room",
        {"live_session_id": str(live.id), "action": "push"},
    )
    assert (shown.status_code, shown.headers["location"]) == (303, f"/console/live/{live.id}")
    await session.refresh(campaign)
    assert campaign.live_session_id == live.id
    page = await anon_client.get(f"/console/live/{live.id}")
    assert 'value="withdraw"' in page.text
    taken = await post_form(
        anon_client,
        f"/console/group-buys/{campaign.id}/room",
        {"live_session_id": str(live.id), "action": "withdraw"},
    )
    assert taken.status_code == 303
    await session.refresh(campaign)
    assert campaign.status == "ended"
    page = await anon_client.get(f"/console/live/{live.id}")
    assert f'data-group-buy-id="{campaign.id}"' not in page.text


async def test_a_guest_start_page_needs_the_room_of_the_campaign(
    anon_client, session, shop, actor, campaign
) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, status="live")
    other = await make_live_session(session, shop_id=shop.id, status="live")
    await groupbuy.push_campaign_to_live(
        session=session, actor=actor, campaign_id=campaign.id, live_session_id=live.id
    )
    page = await anon_client.get(f"/group-buy/{campaign.id}?room={live.code}")
    assert page.status_code == 200
    assert "llg-join" in page.text and "三人团" in page.text
    assert (await anon_client.get(f"/group-buy/{campaign.id}?room={other.code}")).status_code == 404
    assert (await anon_client.get(f"/group-buy/{campaign.id}")).status_code == 404
