"""Red packet routes: budget top-up, start (validation, budget), grab refusals, ending with
the remainder back exactly once, balance, shop isolation, room messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from liveloop.core.database import utcnow
from liveloop.events import service as events_service
from liveloop.events.models import Event
from liveloop.live.redpackets import service
from liveloop.live.redpackets.models import (
    RedPacket,
    RedPacketBalanceEntry,
    RedPacketBudgetEntry,
    RedPacketShare,
)
from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.factories.live import make_live_session


def viewer(
    settings, shop_id: int, live_session_id: int, customer_id: int | None, device: str = "d1"
):  # type: ignore[no-untyped-def]
    token = sign_viewer_token(
        settings,
        ViewerClaims(
            shop_id=shop_id,
            live_session_id=live_session_id,
            customer_id=customer_id,
            device_id=device,
            name="观众",
        ),
    )
    return {"Authorization": f"Bearer {token}"}


def body(**overrides: Any) -> dict[str, Any]:
    return {"total_fen": 1000, "count": 5, "split": "lucky", "duration_seconds": 30, **overrides}


@pytest.fixture
async def live(session, shop):  # type: ignore[no-untyped-def]
    return await make_live_session(session, shop_id=shop.id, status="live")


async def top_up(client, amount_fen: int, key: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": key} if key else {}
    response = await client.post(
        "/api/v1/red-packet-budget/top-ups", json={"amount_fen": amount_fen}, headers=headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def start(client, live, **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await client.post(f"/api/v1/live/{live.id}/red-packets", json=body(**overrides))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def end_now(session, packet_id: int) -> None:  # type: ignore[no-untyped-def]
    past = utcnow() - dt.timedelta(seconds=1)
    await session.execute(update(RedPacket).where(RedPacket.id == packet_id).values(ends_at=past))


async def test_budget_top_up_is_idempotent_and_audited(client, session, shop) -> None:
    assert (await client.get("/api/v1/red-packet-budget")).json()["balance_fen"] == 0
    await top_up(client, 5000, key="k1")
    again = await top_up(client, 5000, key="k1")
    assert again["balance_fen"] == 5000 and len(again["entries"]) == 1
    bad = await client.post("/api/v1/red-packet-budget/top-ups", json={"amount_fen": -1})
    assert bad.status_code == 422 and bad.json()["field"] == "amount_fen"
    audits = await session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.shop_id == shop.id, AuditEntry.action == "red_packet.budget_top_up")
    )
    assert audits == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"total_fen": -100}, "total_fen"),
        ({"total_fen": 4, "count": 5}, "total_fen"),
        ({"count": 0}, "count"),
        ({"duration_seconds": 3}, "duration_seconds"),
        ({"duration_seconds": 3600}, "duration_seconds"),
        ({"split": "random"}, "split"),
        ({"condition": {"kind": "keyword"}}, "condition"),
        ({"condition": {"kind": "community", "community_id": 999999}}, "condition.community_id"),
    ],
)
async def test_bad_input_is_422_with_the_field(client, live, overrides, field) -> None:  # type: ignore[no-untyped-def]
    await top_up(client, 100_000)
    response = await client.post(f"/api/v1/live/{live.id}/red-packets", json=body(**overrides))
    assert response.status_code == 422, response.text
    assert (response.json()["field"] or "").startswith(field)


async def test_beyond_the_budget_is_409_and_nothing_is_taken(client, live) -> None:
    await top_up(client, 999)
    response = await client.post(f"/api/v1/live/{live.id}/red-packets", json=body())
    assert response.status_code == 409
    assert response.json()["code"] == "red_packet_budget_insufficient"
    assert (await client.get("/api/v1/red-packet-budget")).json()["balance_fen"] == 999
    listed = (await client.get(f"/api/v1/live/{live.id}/red-packets")).json()
    assert listed["items"] == []


async def test_grab_end_and_the_remainder_back_once(
    client, anon_client, session, shop, live, settings
) -> None:
    await top_up(client, 2000)
    packet = await start(client, live, total_fen=1000, count=5, split="equal")
    assert packet["state"] == "open"
    assert (await client.get("/api/v1/red-packet-budget")).json()["balance_fen"] == 1000
    customers = [
        await factories.make_customer(session, shop_id=shop.id, name=f"王{n}") for n in range(3)
    ]
    amounts = []
    for customer in customers:
        grabbed = await anon_client.post(
            f"/api/v1/public/red-packets/{packet['id']}/grab",
            headers=viewer(settings, shop.id, live.id, customer.id),
        )
        assert grabbed.status_code == 200, grabbed.text
        amounts.append(grabbed.json()["amount_fen"])
        assert grabbed.json()["balance_fen"] == grabbed.json()["amount_fen"]
    assert amounts == [200, 200, 200]
    # One customer, another device: still one grab.
    twice = await anon_client.post(
        f"/api/v1/public/red-packets/{packet['id']}/grab",
        headers=viewer(settings, shop.id, live.id, customers[0].id, device="d2"),
    )
    assert twice.status_code == 409 and twice.json()["code"] == "red_packet_already_grabbed"
    guest = await anon_client.post(
        f"/api/v1/public/red-packets/{packet['id']}/grab",
        headers=viewer(settings, shop.id, live.id, None),
    )
    assert guest.status_code == 401 and guest.json()["code"] == "customer_required"

    current = await anon_client.get(
        "/api/v1/public/red-packets/current",
        headers=viewer(settings, shop.id, live.id, customers[1].id),
    )
    card = current.json()["card"]
    assert card["grabbed_count"] == 3 and card["remaining_count"] == 2
    assert card["mine"] == {"amount_fen": 200}

    await end_now(session, packet["id"])
    late = await factories.make_customer(session, shop_id=shop.id, name="迟到")
    refused = await anon_client.post(
        f"/api/v1/public/red-packets/{packet['id']}/grab",
        headers=viewer(settings, shop.id, live.id, late.id),
    )
    assert refused.status_code == 409 and refused.json()["code"] == "red_packet_ended"
    detail = (await client.get(f"/api/v1/red-packets/{packet['id']}")).json()
    assert detail["status"] == "ended" and detail["returned_fen"] == 400
    assert detail["grabbed_count"] == 3 and detail["grabbed_fen"] == 600
    assert [g["customer_name"] for g in detail["grabs"]] == ["王**", "王**", "王**"]
    # Closing again (job, sweep, stop) gives nothing more back.
    assert (
        await service.close_red_packet(session=session, shop_id=shop.id, red_packet_id=packet["id"])
        is False
    )
    assert await service.close_due_red_packets(session=session) == 0
    stop = await client.post(f"/api/v1/red-packets/{packet['id']}/stop")
    assert stop.status_code == 409 and stop.json()["code"] == "red_packet_ended"
    budget = (await client.get("/api/v1/red-packet-budget")).json()
    assert budget["balance_fen"] == 2000 - 600
    assert [e["kind"] for e in budget["entries"]] == ["return", "debit", "top_up"]
    returns = await session.scalar(
        select(func.count())
        .select_from(RedPacketBudgetEntry)
        .where(
            RedPacketBudgetEntry.red_packet_id == packet["id"],
            RedPacketBudgetEntry.kind == "return",
        )
    )
    assert returns == 1
    balance = await anon_client.get(
        "/api/v1/public/red-packets/balance",
        headers=viewer(settings, shop.id, live.id, customers[0].id),
    )
    assert balance.json()["balance_fen"] == 200 and balance.json()["entries"][0]["kind"] == "grab"
    events = (
        (
            await session.execute(
                select(Event).where(Event.shop_id == shop.id, Event.type == "red_packet_grab")
            )
        )
        .scalars()
        .all()
    )
    assert sorted(e.properties["amount_fen"] for e in events) == [200, 200, 200]
    assert {e.live_session_id for e in events} == {live.id}
    actions = (
        (await session.execute(select(AuditEntry.action).where(AuditEntry.shop_id == shop.id)))
        .scalars()
        .all()
    )
    assert actions.count("red_packet.payout") == 3
    assert "red_packet.start" in actions and "red_packet.end" in actions


async def test_not_started_stop_early_and_running(
    client, anon_client, session, shop, live, settings
) -> None:
    await top_up(client, 10_000)
    packet = await start(client, live, starts_in_seconds=60)
    assert packet["state"] == "scheduled"
    second = await client.post(f"/api/v1/live/{live.id}/red-packets", json=body())
    assert second.status_code == 409 and second.json()["code"] == "red_packet_running"
    customer = await factories.make_customer(session, shop_id=shop.id)
    early = await anon_client.post(
        f"/api/v1/public/red-packets/{packet['id']}/grab",
        headers=viewer(settings, shop.id, live.id, customer.id),
    )
    assert early.status_code == 409 and early.json()["code"] == "red_packet_not_started"
    stopped = await client.post(f"/api/v1/red-packets/{packet['id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert stopped.json()["returned_fen"] == 1000
    assert (await client.get("/api/v1/red-packet-budget")).json()["balance_fen"] == 10_000
    shares = (
        (
            await session.execute(
                select(RedPacketShare.state).where(RedPacketShare.red_packet_id == packet["id"])
            )
        )
        .scalars()
        .all()
    )
    assert set(shares) == {"returned"}


async def test_keyword_condition(client, anon_client, session, shop, live, settings) -> None:
    await top_up(client, 10_000)
    packet = await start(client, live, condition={"kind": "keyword", "keyword": "发财"})
    customer = await factories.make_customer(session, shop_id=shop.id)
    headers = viewer(settings, shop.id, live.id, customer.id)
    url = f"/api/v1/public/red-packets/{packet['id']}/grab"
    refused = await anon_client.post(url, headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "red_packet_condition_not_met"
    assert "发财" in refused.json()["message"]
    await events_service.ingest_events(
        session=session,
        shop_id=shop.id,
        items=[{"type": "live_comment", "customer_id": customer.id, "live_session_id": live.id,
                "properties": {"text": "恭喜发财!"}}],
    )  # fmt: skip
    assert (await anon_client.post(url, headers=headers)).status_code == 200


async def test_the_last_share_ends_the_packet(
    client, anon_client, session, shop, live, settings
) -> None:
    await top_up(client, 100)
    packet = await start(client, live, total_fen=3, count=2)
    results = []
    for n in range(3):
        customer = await factories.make_customer(session, shop_id=shop.id, name=f"李{n}")
        results.append(
            await anon_client.post(
                f"/api/v1/public/red-packets/{packet['id']}/grab",
                headers=viewer(settings, shop.id, live.id, customer.id),
            )
        )
    assert [r.status_code for r in results] == [200, 200, 409]
    assert results[2].json()["code"] in ("red_packet_ended", "red_packet_empty")
    assert sorted(r.json()["amount_fen"] for r in results[:2]) in ([1, 2],)
    assert results[1].json()["card"]["state"] == "ended"
    detail = (await client.get(f"/api/v1/red-packets/{packet['id']}")).json()
    assert detail["status"] == "ended" and detail["returned_fen"] == 0
    assert (await client.get("/api/v1/red-packet-budget")).json()["balance_fen"] == 97
    card = await service.current_room_card(
        session=session, shop_id=shop.id, live_session_id=live.id
    )
    assert card is not None and card["state"] == "ended" and card["grabbed_count"] == 2


async def test_another_shop_is_404(
    client, anon_client, session, shop, other_shop, live, settings
) -> None:
    await top_up(client, 10_000)
    packet = await start(client, live)
    other_live = await make_live_session(session, shop_id=other_shop.id, status="live")
    stranger = await factories.make_customer(session, shop_id=other_shop.id)
    grabbed = await anon_client.post(
        f"/api/v1/public/red-packets/{packet['id']}/grab",
        headers=viewer(settings, other_shop.id, other_live.id, stranger.id),
    )
    assert grabbed.status_code == 404
    key = await factories.make_api_key(
        session,
        actor=__import__("liveloop.shops.service", fromlist=["x"]).actor_for_staff(
            await factories.make_staff(session, shop_id=other_shop.id, role="owner")
        ),
    )
    headers = {"Authorization": f"Bearer {key}"}
    assert (
        await anon_client.get(f"/api/v1/red-packets/{packet['id']}", headers=headers)
    ).status_code == 404
    assert (
        await anon_client.post(f"/api/v1/red-packets/{packet['id']}/stop", headers=headers)
    ).status_code == 404
    listed = await anon_client.get(f"/api/v1/live/{live.id}/red-packets", headers=headers)
    assert listed.status_code == 404
    started = await anon_client.post(
        f"/api/v1/live/{live.id}/red-packets", json=body(), headers=headers
    )
    assert started.status_code == 404
    balance = (await anon_client.get("/api/v1/red-packet-budget", headers=headers)).json()
    assert balance["balance_fen"] == 0


async def test_start_is_idempotent_and_sends_the_card(
    client, session, shop, live, monkeypatch
) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(
        service, "send_after_commit", lambda _s, *, live_session_id, message: sent.append(message)
    )
    await top_up(client, 10_000)
    headers = {"Idempotency-Key": "rain-1"}
    first = await client.post(f"/api/v1/live/{live.id}/red-packets", json=body(), headers=headers)
    again = await client.post(f"/api/v1/live/{live.id}/red-packets", json=body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert (await client.get("/api/v1/red-packet-budget")).json()["balance_fen"] == 9000
    assert [m["type"] for m in sent] == ["red_packet"]
    card = sent[0]["card"]
    assert card["id"] == first.json()["id"] and card["state"] == "open" and card["count"] == 5
    assert card["show_until"] > card["ends_at"]
    await client.post(f"/api/v1/red-packets/{card['id']}/stop")
    assert sent[-1]["card"]["state"] == "stopped"


async def test_balance_never_goes_negative(session, shop) -> None:
    from liveloop.core.errors import Conflict
    from liveloop.live.redpackets import payout

    customer = await factories.make_customer(session, shop_id=shop.id)
    await payout.BalancePayout().pay(
        session=session, shop_id=shop.id, customer_id=customer.id, amount_fen=150,
        red_packet_id=None, share_id=None,  # type: ignore[arg-type]
    )  # fmt: skip
    await payout.spend_balance(
        session=session, shop_id=shop.id, customer_id=customer.id, amount_fen=100
    )
    with pytest.raises(Conflict) as refused:
        await payout.spend_balance(
            session=session, shop_id=shop.id, customer_id=customer.id, amount_fen=51
        )
    assert refused.value.code == "red_packet_balance_insufficient"
    assert await payout.balance_of(session=session, shop_id=shop.id, customer_id=customer.id) == 50
    total = await session.scalar(
        select(func.sum(RedPacketBalanceEntry.amount_fen)).where(
            RedPacketBalanceEntry.customer_id == customer.id
        )
    )
    assert total == 50
