"""Figures of a fission campaign: the funnel, the K-factor and the leaderboard.

K-factor (docs/private-domain.md, "Referral fission"):
    i = link opens / participants            (invites sent per participant: a share we
                                              cannot see, so an opened link stands for it)
    c = counted invitees / link opens        (conversion of an invite)
    K = i × c = counted invitees / participants
K > 1 means each participant brings in more than one qualifying new customer: the campaign grows
by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.customers.fission.models import (
    FissionInvite,
    FissionParticipant,
    FissionReward,
    InviteStatus,
    RewardStatus,
)

# Rewards that reached the participant (or are on their way).
GIVEN = (RewardStatus.GRANTED.value, RewardStatus.TO_SHIP.value, RewardStatus.SHIPPED.value)
GIVEN += (RewardStatus.NEEDS_ADDRESS.value,)


@dataclass(frozen=True)
class KFactor:
    invites_per_participant: float
    conversion_rate: float
    k_factor: float


def k_factor(*, participants: int, link_opens: int, counted: int) -> KFactor:
    per_participant = link_opens / participants if participants else 0.0
    conversion = counted / link_opens if link_opens else 0.0
    return KFactor(
        invites_per_participant=round(per_participant, 4),
        conversion_rate=round(conversion, 4),
        k_factor=round(counted / participants, 4) if participants else 0.0,
    )


async def campaign_stats(
    *, session: AsyncSession, shop_id: int, campaign_id: int
) -> dict[str, Any]:
    participants, opens = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(FissionParticipant.link_opens), 0)).where(
                FissionParticipant.shop_id == shop_id, FissionParticipant.campaign_id == campaign_id
            )
        )
    ).one()
    by_status: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    rows = await session.execute(
        select(FissionInvite.status, FissionInvite.reason, func.count())
        .where(FissionInvite.shop_id == shop_id, FissionInvite.campaign_id == campaign_id)
        .group_by(FissionInvite.status, FissionInvite.reason)
    )
    for status, reason, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        if status == InviteStatus.REJECTED.value and reason:
            by_reason[reason] = by_reason.get(reason, 0) + count
    rewarded = (
        await session.execute(
            select(func.count()).where(
                FissionReward.shop_id == shop_id,
                FissionReward.campaign_id == campaign_id,
                FissionReward.status.in_(GIVEN),
            )
        )
    ).scalar_one()
    counted = by_status.get(InviteStatus.COUNTED.value, 0)
    k = k_factor(participants=participants, link_opens=int(opens), counted=counted)
    return {
        "participants": participants,
        "link_opens": int(opens),
        "invitees": sum(by_status.values()),
        "counted": counted,
        "pending": by_status.get(InviteStatus.PENDING.value, 0),
        "rejected": by_status.get(InviteStatus.REJECTED.value, 0),
        "rewarded": rewarded,
        "invites_per_participant": k.invites_per_participant,
        "conversion_rate": k.conversion_rate,
        "k_factor": k.k_factor,
        "rejected_by_reason": by_reason,
    }


async def leaderboard(
    *, session: AsyncSession, shop_id: int, campaign_id: int, limit: int = 20
) -> list[dict[str, Any]]:
    """Top inviters by counted invites (ties: who got there first, then who joined first)."""
    rows = (
        await session.execute(
            select(FissionParticipant)
            .where(
                FissionParticipant.shop_id == shop_id,
                FissionParticipant.campaign_id == campaign_id,
                FissionParticipant.counted_count > 0,
            )
            .order_by(
                FissionParticipant.counted_count.desc(),
                FissionParticipant.reached_at.is_(None),
                FissionParticipant.reached_at,
                FissionParticipant.id,
            )
            .limit(limit)
            # Counters move by UPDATE statements: read them, not the session's loaded copies.
            .execution_options(populate_existing=True)
        )
    ).scalars()
    return [
        {
            "rank": rank,
            "participant_id": p.id,
            "customer_id": p.customer_id,
            "display_name": p.display_name,
            "counted": p.counted_count,
            "invitees": p.invitee_count,
        }
        for rank, p in enumerate(rows, start=1)
    ]
