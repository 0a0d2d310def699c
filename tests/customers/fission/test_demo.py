"""The demo's fission campaign: running, with participants, counted and refused invites."""

from __future__ import annotations

from liveloop.core.database import utcnow
from liveloop.customers.fission import stats
from liveloop.customers.fission.service import get_campaign, is_open
from liveloop.demo.fission import seed_fission
from tests import factories


async def test_the_demo_campaign_is_running_with_invites_and_rewards(session, shop) -> None:
    customers = [
        (await factories.make_customer(session, shop_id=shop.id, name=f"老客{n}")).id
        for n in range(20)
    ]
    demo = await seed_fission(session, shop_id=shop.id, customer_ids=customers, seed=3)
    campaign = await get_campaign(session=session, shop_id=shop.id, campaign_id=demo.campaign_id)
    assert is_open(campaign, utcnow())
    figures = await stats.campaign_stats(session=session, shop_id=shop.id, campaign_id=campaign.id)
    assert figures["participants"] == 12
    assert figures["invitees"] == demo.invitees > figures["counted"] > 0
    assert figures["rewarded"] > 0 and figures["k_factor"] > 0
    assert {"existing_customer", "self_invite"} <= set(figures["rejected_by_reason"])
    board = await stats.leaderboard(session=session, shop_id=shop.id, campaign_id=campaign.id)
    assert board[0]["counted"] >= board[-1]["counted"] > 0
