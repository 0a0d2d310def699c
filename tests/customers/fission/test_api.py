"""Fission over HTTP: the console API (campaigns, figures, invitees), the viewer API (accept,
join, my progress) and the posters."""

from __future__ import annotations

import io
import xml.dom.minidom

import pytest
from PIL import Image

from liveloop.customers.fission import poster
from liveloop.customers.fission import service as fission
from liveloop.customers.fission.models import FissionParticipant
from liveloop.customers.fission.stats import k_factor
from tests import factories
from tests.commerce.conftest import texted_code
from tests.customers.fission.helpers import make_campaign, make_coupon, make_inviter
from tests.web.conftest import console, post_form  # noqa: F401  (the fixture)

PUBLIC = "/api/v1/public/fission"


async def _guest(anon_client, code: str, device: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    answer = await anon_client.post(f"{PUBLIC}/invites/{code}/token", json={"device_id": device})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['viewer_token']}"}


def test_k_factor_is_counted_invitees_per_participant() -> None:
    k = k_factor(participants=4, link_opens=10, counted=6)
    assert (k.invites_per_participant, k.conversion_rate, k.k_factor) == (2.5, 0.6, 1.5)
    assert k_factor(participants=0, link_opens=0, counted=0).k_factor == 0.0


async def test_console_api_creates_a_campaign_and_shows_its_funnel(client, session, shop) -> None:
    coupon = await make_coupon(session, shop.id)
    created = await client.post(
        "/api/v1/fission/campaigns",
        json={
            "name": "邀 2 人得券", "invitees_needed": 2, "reward_kind": "coupon",
            "reward_coupon_id": coupon.id, "reward_title": "10 元券", "reward_stock": 50,
            "poster": {"color": "#AA3300", "headline": "好友助力"},
        },
    )  # fmt: skip
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert (campaign["poster"]["color"], campaign["stock_left"]) == ("#aa3300", 50)
    bad = await client.post(
        "/api/v1/fission/campaigns",
        json={"name": "x", "invitees_needed": 2, "reward_kind": "points"},
    )
    assert bad.status_code == 422 and "reward_points" in bad.text
    # A fixture funnel: 4 participants, 10 link opens, 6 counted, 1 refused.
    campaign_id = campaign["id"]
    participants = []
    for n in range(4):
        customer = await factories.make_customer(session, shop_id=shop.id, name=f"邀请人{n}")
        participants.append(
            await fission.join_campaign(
                session=session, shop_id=shop.id, campaign_id=campaign_id,
                customer_id=customer.id, device_id=f"inviter-{n}",
            )
        )  # fmt: skip
    for n in range(10):
        await fission.record_link_open(session=session, participant_id=participants[n % 4].id)
    for n in range(6):
        invitee = await factories.make_customer(session, shop_id=shop.id, name=f"好友{n}")
        await fission.accept_invite(
            session=session, shop_id=shop.id, code=participants[n % 3].code,
            invitee_customer_id=invitee.id, invitee_was_new=True, device_id=f"friend-{n}",
            phone_key=None,
        )  # fmt: skip
    await fission.accept_invite(
        session=session, shop_id=shop.id, code=participants[3].code,
        invitee_customer_id=participants[3].customer_id, invitee_was_new=True,
        device_id="friend-x", phone_key=None,
    )  # fmt: skip
    figures = (await client.get(f"/api/v1/fission/campaigns/{campaign_id}/stats")).json()
    assert {k: figures[k] for k in ("participants", "link_opens", "invitees", "counted")} == {
        "participants": 4,
        "link_opens": 10,
        "invitees": 7,
        "counted": 6,
    }
    assert figures["rejected_by_reason"] == {"self_invite": 1}
    assert (figures["k_factor"], figures["conversion_rate"]) == (1.5, 0.6)
    assert figures["rewarded"] == 3  # three participants reached 2 counted
    board = (await client.get(f"/api/v1/fission/campaigns/{campaign_id}/leaderboard")).json()
    assert [row["counted"] for row in board] == [2, 2, 2]
    refused = (
        await client.get(f"/api/v1/fission/campaigns/{campaign_id}/invites?reason=self_invite")
    ).json()
    assert refused["total"] == 1 and refused["items"][0]["status"] == "rejected"
    rewards = (await client.get(f"/api/v1/fission/campaigns/{campaign_id}/rewards")).json()
    assert {r["status"] for r in rewards["items"]} == {"granted"}


async def test_another_shops_campaign_is_not_found(client, session, other_shop) -> None:
    theirs = await make_campaign(session, other_shop.id)
    assert (await client.get(f"/api/v1/fission/campaigns/{theirs.id}")).status_code == 404
    assert (await client.get(f"/api/v1/fission/campaigns/{theirs.id}/stats")).status_code == 404


async def test_a_guest_accepts_by_phone_then_gets_their_own_link(
    anon_client, session, shop
) -> None:
    campaign = await make_campaign(session, shop.id, invitees_needed=1)
    inviter = await make_inviter(session, shop.id, campaign.id)
    view = (await anon_client.get(f"{PUBLIC}/invites/{inviter.code}")).json()
    assert view["inviter_name"] == "张**" and view["campaign"]["open"] is True
    headers = await _guest(anon_client, inviter.code, "device-friend-1")
    missing = await anon_client.post(
        f"{PUBLIC}/invites/{inviter.code}/accept", json={}, headers=headers
    )
    assert missing.status_code == 422 and missing.json()["code"] == "phone_required"
    # A typed number proves nothing: without the texted code nobody becomes that customer.
    uncoded = await anon_client.post(
        f"{PUBLIC}/invites/{inviter.code}/accept", json={"phone": "139 1111 2222"}, headers=headers
    )
    assert uncoded.status_code == 422 and uncoded.json()["code"] == "phone_code_required"
    accepted = await anon_client.post(
        f"{PUBLIC}/invites/{inviter.code}/accept",
        json={
            "phone": "139 1111 2222",
            "name": "李娜",
            "phone_code": await texted_code(anon_client, "13911112222", headers),
        },
        headers=headers,
    )
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert (body["status"], body["campaign_code"]) == ("counted", campaign.code)
    assert body["viewer_token"]
    # The same device with another number: recorded, not counted.
    same_device = await _guest(anon_client, inviter.code, "device-friend-1")
    again = await anon_client.post(
        f"{PUBLIC}/invites/{inviter.code}/accept",
        json={
            "phone": "13933334444",
            "phone_code": await texted_code(anon_client, "13933334444", same_device),
        },
        headers=same_device,
    )
    assert (again.json()["status"], again.json()["reason"]) == ("rejected", "same_device")
    # The friend, now a customer, takes part and gets a link, posters and progress.
    mine = {"Authorization": f"Bearer {body['viewer_token']}"}
    joined = await anon_client.post(
        f"{PUBLIC}/campaigns/{campaign.code}/join", json={}, headers=mine
    )
    assert joined.status_code == 201, joined.text
    progress = joined.json()
    assert progress["link_path"] == f"/f/{progress['code']}" and progress["counted"] == 0
    me = await anon_client.get(f"{PUBLIC}/campaigns/{campaign.code}/me", headers=mine)
    assert me.json()["code"] == progress["code"]
    inviter_progress = (
        await anon_client.get(
            f"{PUBLIC}/invites/{inviter.code}",
        )
    ).json()
    assert inviter_progress["counted"] == 1


async def test_an_existing_customer_by_phone_is_not_new(anon_client, session, shop) -> None:
    campaign = await make_campaign(session, shop.id)
    await factories.make_customer(session, shop_id=shop.id, name="老客户", phone="13955556666")
    inviter = await make_inviter(session, shop.id, campaign.id)
    headers = await _guest(anon_client, inviter.code, "device-old-friend")
    accepted = await anon_client.post(
        f"{PUBLIC}/invites/{inviter.code}/accept",
        json={
            "phone": "13955556666",
            "phone_code": await texted_code(anon_client, "13955556666", headers),
        },
        headers=headers,
    )
    assert (accepted.json()["status"], accepted.json()["reason"]) == (
        "rejected",
        "existing_customer",
    )


async def test_the_landing_page_counts_an_open_and_shows_the_inviter(
    anon_client, session, shop
) -> None:
    campaign = await make_campaign(session, shop.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    page = await anon_client.get(f"/f/{inviter.code}")
    assert page.status_code == 200
    assert "张**" in page.text and "张伟" not in page.text and campaign.name in page.text
    await session.refresh(inviter)
    assert inviter.link_opens == 1
    assert (await anon_client.get("/f/nosuchcode")).status_code == 404
    campaign_page = await anon_client.get(f"/f/c/{campaign.code}")
    assert campaign_page.status_code == 200 and 'data-mode="campaign"' in campaign_page.text


@pytest.mark.parametrize("cjk", [True, False])
async def test_the_posters_are_valid_images(anon_client, session, shop, monkeypatch, cjk) -> None:
    if cjk and poster.cjk_font_path() is None:
        pytest.skip("no font with Chinese glyphs on this machine")
    if not cjk:
        monkeypatch.setattr(poster, "cjk_font_path", lambda: None)
    campaign = await make_campaign(session, shop.id, reward_title="20 元无门槛券")
    inviter = await make_inviter(session, shop.id, campaign.id)
    png = await anon_client.get(f"/f/{inviter.code}/poster.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    image.verify()
    assert image.size == (poster.WIDTH, poster.HEIGHT)
    svg = await anon_client.get(f"/f/{inviter.code}/poster.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    document = xml.dom.minidom.parseString(svg.content)
    texts = [node.firstChild.data for node in document.getElementsByTagName("text")]
    assert "20 元无门槛券" in texts and inviter.code in texts
    assert "张** 邀请你 · 长按识别二维码" in texts


async def test_console_pages_create_edit_and_show_a_campaign(console, session, shop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from sqlalchemy import select

    from liveloop.customers.fission.models import FissionCampaign

    coupon = await make_coupon(session, shop.id)
    assert (await console.get("/console/fission")).status_code == 200
    assert (await console.get("/console/fission/new")).status_code == 200
    form = {
        "name": "老带新", "goal": "join", "invitees_needed": "3", "reward_kind": "coupon",
        "reward_coupon_id": str(coupon.id), "reward_title": "10 元券", "status": "active",
        "poster_color": "#c0392b", "ends_at": "2030-01-01T20:00",
    }  # fmt: skip
    bad = await post_form(console, "/console/fission/new", {**form, "reward_coupon_id": ""})
    assert bad.status_code == 422 and "reward_coupon_id" in bad.text
    created = await post_form(console, "/console/fission/new", form)
    assert created.status_code == 303, created.text
    campaign = (
        await session.execute(select(FissionCampaign).where(FissionCampaign.shop_id == shop.id))
    ).scalar_one()
    assert campaign.ends_at is not None and campaign.ends_at.hour == 12  # 20:00 Shanghai
    inviter = await make_inviter(session, shop.id, campaign.id)
    invitee = await factories.make_customer(session, shop_id=shop.id, name="李娜")
    await fission.accept_invite(
        session=session, shop_id=shop.id, code=inviter.code, invitee_customer_id=invitee.id,
        invitee_was_new=False, device_id="d-1", phone_key=None,
    )  # fmt: skip
    detail = await console.get(f"/console/fission/{campaign.id}")
    assert detail.status_code == 200
    assert 'data-reason="existing_customer"' in detail.text
    assert (await console.get(f"/console/fission/{campaign.id}/edit")).status_code == 200
    edited = await post_form(
        console, f"/console/fission/{campaign.id}/edit", {**form, "name": "老带新 2"}
    )
    assert edited.status_code == 303
    await session.refresh(campaign)
    assert campaign.name == "老带新 2"
    participants = (
        (
            await session.execute(
                select(FissionParticipant).where(FissionParticipant.campaign_id == campaign.id)
            )
        )
        .scalars()
        .all()
    )
    assert len(participants) == 1


async def test_the_landing_page_of_a_community_campaign_links_the_group(
    anon_client, session, shop
) -> None:
    from liveloop.customers.communities.models import Community

    community = Community(
        shop_id=shop.id, name="新人群", kind="newcomer", join_url="https://work.weixin.qq.com/g/x"
    )
    session.add(community)
    await session.flush()
    campaign = await make_campaign(session, shop.id, community_id=community.id)
    inviter = await make_inviter(session, shop.id, campaign.id)
    page = await anon_client.get(f"/f/{inviter.code}")
    assert 'id="llf-community"' in page.text
    assert 'href="https://work.weixin.qq.com/g/x"' in page.text
