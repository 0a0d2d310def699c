"""Records of red packets for tests outside this package (the shop isolation test)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


async def make_redpacket_records(session: AsyncSession, *, shop_id: int) -> dict[str, int]:
    """A running red packet in a live session of this shop."""
    from liveloop.live.redpackets import service
    from liveloop.live.redpackets.schemas import RedPacketCreate
    from liveloop.shops.service import system_actor
    from tests.factories.live import make_live_session

    actor = system_actor(shop_id, "test")
    room = await make_live_session(session, shop_id=shop_id, status="live")
    await service.top_up_budget(session=session, actor=actor, amount_fen=1000)
    packet = await service.start_red_packet(
        session=session,
        actor=actor,
        live_session_id=room.id,
        data=RedPacketCreate(total_fen=100, count=2),
    )
    return {"red_packet_id": packet.id}
