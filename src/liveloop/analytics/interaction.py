"""The interaction section of a post-live report: comments, likes, shares, questions, the
share of viewers who did any of them, and the words viewers used most."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.expressions import epoch_floor, json_int, json_text, ratio, viewer_key
from liveloop.analytics.keywords import top_keywords
from liveloop.analytics.viewing import Window, session_events
from liveloop.events.models import Event
from liveloop.live.conditions import COMMENT_EVENT, ENTER_EVENT
from liveloop.live.models import LiveShare

LIKE_EVENT = "live_like"


def _shown_comment() -> Any:
    """A comment the word filter did not block (a blocked one never reached the room)."""
    return func.coalesce(Event.properties["blocked"].as_boolean(), False).is_(False)


async def _comments_per_minute(
    session: AsyncSession, shop_id: int, live_session_id: int, window: Window
) -> list[int]:
    minutes = window.minutes
    if minutes == 0:
        return []
    offset = epoch_floor(Event.occurred_at) - window.start
    bucket = (offset // 60).label("m")
    rows = await session.execute(
        select(bucket, func.count())
        .where(
            session_events(shop_id, live_session_id, COMMENT_EVENT),
            _shown_comment(),
            offset >= 0,
            offset < window.end - window.start,
        )
        .group_by(bucket)
    )
    series = [0] * minutes
    for minute, number in rows:
        if 0 <= int(minute) < minutes:
            series[int(minute)] += int(number)
    return series


def _sharer_key() -> Any:
    return func.coalesce(
        literal("c:") + cast(LiveShare.sharer_customer_id, String),
        literal("d:") + LiveShare.sharer_device_id,
    )


async def _questions(
    session: AsyncSession, shop_id: int, live_session_id: int
) -> dict[str, int] | None:
    """Questions sent to the anchor (the Q&A tool), or None where that tool is not installed."""
    try:
        from liveloop.live.polls.models import LiveQuestion, QuestionStatus
    except ImportError:  # pragma: no cover - the Q&A tool ships with LiveLoop
        return None
    answered = case((LiveQuestion.status == QuestionStatus.ANSWERED.value, 1), else_=0)
    asked, done, askers = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(answered), 0),
                func.count(func.distinct(LiveQuestion.voter_key)),
            ).where(
                LiveQuestion.shop_id == shop_id, LiveQuestion.live_session_id == live_session_id
            )
        )
    ).one()
    return {"asked": int(asked), "answered": int(done), "askers": int(askers)}


async def interaction_section(
    *, session: AsyncSession, shop_id: int, live_session_id: int, window: Window, uv: int
) -> dict[str, Any]:
    # One pass over the session's comments and likes, grouped by viewer (the key built on
    # the grouped rows, not on every event): counts, who commented or liked, who interacted.
    comment = Event.type == COMMENT_EVENT
    shown = and_(comment, _shown_comment())
    like = Event.type == LIKE_EVENT
    liked = json_int(Event.properties, "count")
    grouped = (
        select(
            Event.customer_id.label("customer_id"),
            Event.anonymous_id.label("anonymous_id"),
            func.count(case((shown, 1))).label("shown"),
            func.count(case((and_(comment, ~_shown_comment()), 1))).label("blocked"),
            func.coalesce(func.sum(case((like, liked))), 0).label("likes"),
            func.count(case((like, 1))).label("like_events"),
            func.count(case((and_(like, liked > 0), 1))).label("counted_likes"),
        )
        .where(session_events(shop_id, live_session_id, COMMENT_EVENT, LIKE_EVENT))
        .group_by(Event.customer_id, Event.anonymous_id)
        .subquery("grouped")
    )
    key = viewer_key(grouped.c.customer_id, grouped.c.anonymous_id)
    per_viewer = await session.execute(
        select(
            key, func.sum(grouped.c.shown), func.sum(grouped.c.blocked), func.sum(grouped.c.likes),
            func.sum(grouped.c.like_events), func.sum(grouped.c.counted_likes),
        ).group_by(key)
    )  # fmt: skip
    comments = commenters = blocked = likes = likers = 0
    interacting: set[str] = set()
    for viewer, n_shown, n_blocked, n_likes, like_events, counted in per_viewer:
        comments += int(n_shown)
        commenters += int(n_shown) > 0
        blocked += int(n_blocked)
        likes += int(n_likes)
        likers += int(like_events) > 0
        if int(n_shown) > 0 or int(counted) > 0:
            interacting.add(str(viewer))
    brought = (
        await session.execute(
            select(func.count(func.distinct(viewer_key()))).where(
                session_events(shop_id, live_session_id, ENTER_EVENT),
                json_text(Event.properties, "share_code") != "",
            )
        )
    ).scalar_one()
    # Every share of the session; those with a sharer known by customer or device interacted.
    known = or_(LiveShare.sharer_customer_id.is_not(None), LiveShare.sharer_device_id != "")
    shares = (
        await session.execute(
            select(case((known, _sharer_key()))).where(
                LiveShare.shop_id == shop_id, LiveShare.live_session_id == live_session_id
            )
        )
    ).all()
    sharers = len(shares)
    interacting.update(str(sharer) for (sharer,) in shares if sharer is not None)
    interacting_viewers = len(interacting)
    text = json_text(Event.properties, "text")
    texts = await session.execute(
        select(text, func.count())
        .where(session_events(shop_id, live_session_id, COMMENT_EVENT), _shown_comment())
        .group_by(text)
    )
    return {
        "comments": int(comments),
        "commenters": int(commenters),
        "blocked_comments": int(blocked),
        "comments_per_minute": await _comments_per_minute(
            session, shop_id, live_session_id, window
        ),
        "likes": int(likes),
        "likers": int(likers),
        "shares": int(sharers),
        "viewers_from_shares": int(brought),
        "interacting_viewers": int(interacting_viewers),
        "interaction_rate": ratio(int(interacting_viewers), uv),
        "questions": await _questions(session, shop_id, live_session_id),
        "keywords": top_keywords((str(t), int(n)) for t, n in texts),
    }
