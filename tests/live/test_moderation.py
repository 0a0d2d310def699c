"""Moderation: the sensitive-word filter, mutes, bans, kicks, lifts and deleted comments."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.events.models import Event
from liveloop.live import moderation
from liveloop.live.moderation import WordFilter
from tests import factories
from tests.factories.live import make_live_session


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, dict[str, Any]]]:
    messages: list[tuple[int, dict[str, Any]]] = []

    def record(session: Any, *, live_session_id: int, message: dict[str, Any]) -> None:
        messages.append((live_session_id, message))

    monkeypatch.setattr(moderation, "send_after_commit", record)
    return messages


# ------------------------------------------------------------------------------ word filter


def test_masks_chinese_words_keeping_the_rest():
    words = WordFilter.from_words([("加微信", "mask"), ("傻", "mask")])
    result = words.check("主播好傻，加微信领券")
    assert result.text == "主播好＊，＊＊＊领券"
    assert result.matched == ["傻", "加微信"]
    assert result.blocked is False


def test_blocks_and_matches_full_width_and_any_case():
    words = WordFilter.from_words([("VX", "block"), ("刷单", "mask")])
    result = words.check("加我ｖｘ：abc")
    assert result.blocked is True and result.matched == ["VX"]
    assert words.check("Vx123").blocked is True
    assert words.check("没有问题").matched == []
    assert words.check("没有问题").text == "没有问题"


def test_block_wins_over_mask_for_the_same_word():
    words = WordFilter.from_words([("ｆｏｏ", "mask"), ("foo", "block")])
    assert words.check("FOO").blocked is True


def test_an_empty_list_passes_everything():
    assert WordFilter.from_words([]).check("随便说").text == "随便说"


@given(st.text(max_size=60))
def test_masking_never_changes_the_length_or_the_unmatched_characters(text):
    words = WordFilter.from_words([("ab", "mask"), ("微信", "mask"), ("ﬀ", "mask")])
    result = words.check(text)
    assert len(result.text) == len(text)
    for original, shown in zip(text, result.text, strict=True):
        assert shown == original or shown == moderation.MASK_CHAR


async def test_word_list_crud_refreshes_the_cached_filter(session, shop, actor):
    assert (await moderation.load_word_filter(session=session, shop_id=shop.id)).size == 0
    rows = await moderation.add_words(
        session=session, actor=actor, words=[("加微信", "block"), ("二维码", "mask")]
    )
    words = await moderation.load_word_filter(session=session, shop_id=shop.id)
    assert words.check("加微信").blocked is True
    await moderation.update_word(session=session, actor=actor, word_id=rows[0].id, action="mask")
    words = await moderation.load_word_filter(session=session, shop_id=shop.id)
    assert words.check("加微信").blocked is False
    await moderation.delete_word(session=session, actor=actor, word_id=rows[1].id)
    words = await moderation.load_word_filter(session=session, shop_id=shop.id)
    assert words.check("二维码").matched == []
    assert [w.word for w in await moderation.list_words(session=session, shop_id=shop.id)] == [
        "加微信"
    ]


async def test_word_validation_says_what_is_wrong(session, actor):
    with pytest.raises(InvalidInput) as error:
        await moderation.add_words(session=session, actor=actor, words=[("字" * 51, "mask")])
    assert error.value.code == "word_too_long" and "51" in error.value.message


async def test_another_shops_word_is_not_found(session, other_shop, actor):
    from tests.factories.customers import _actor

    theirs = await moderation.add_words(
        session=session, actor=_actor(other_shop.id, None), words=[("x", "mask")]
    )
    with pytest.raises(NotFound):
        await moderation.delete_word(session=session, actor=actor, word_id=theirs[0].id)


# ----------------------------------------------------------------------------- restrictions


async def test_mute_applies_to_the_customer_or_device_in_that_session(session, shop, actor, sent):
    customer = await factories.make_customer(session, shop_id=shop.id)
    live = await make_live_session(session, shop_id=shop.id, status="live")
    other = await make_live_session(session, shop_id=shop.id, status="live")
    mute = await moderation.mute(
        session=session,
        actor=actor,
        live_session_id=live.id,
        customer_id=customer.id,
        device_id="dev-12345678",
        minutes=5,
        reason="刷屏",
    )

    async def find(live_session_id, customer_id=None, device_id=None, kind="mute"):
        return await moderation.find_active_restriction(
            session=session,
            shop_id=shop.id,
            live_session_id=live_session_id,
            customer_id=customer_id,
            device_id=device_id,
            kind=kind,
        )

    assert (await find(live.id, customer_id=customer.id)).id == mute.id
    assert (await find(live.id, device_id="dev-12345678")).id == mute.id
    assert await find(other.id, customer_id=customer.id) is None
    assert await find(live.id, customer_id=customer.id, kind="ban") is None
    assert await find(live.id, device_id="someone-else") is None
    assert sent == [
        (
            live.id,
            {
                "type": "_moderation",
                "action": "mute",
                "customer_id": customer.id,
                "device_id": "dev-12345678",
                "until": mute.until.isoformat(),
                "reason": "刷屏",
            },
        )
    ]
    await moderation.lift_restriction(session=session, actor=actor, restriction_id=mute.id)
    assert await find(live.id, customer_id=customer.id) is None
    assert sent[-1][1]["action"] == "unmute"
    with pytest.raises(Conflict):
        await moderation.lift_restriction(session=session, actor=actor, restriction_id=mute.id)


async def test_a_shop_wide_ban_reaches_every_live_room(session, shop, actor, sent):
    live = await make_live_session(session, shop_id=shop.id, status="live")
    second = await make_live_session(session, shop_id=shop.id, status="live")
    await make_live_session(session, shop_id=shop.id)  # scheduled: no hub to tell
    later = await make_live_session(session, shop_id=shop.id)
    ban = await moderation.ban(
        session=session, actor=actor, live_session_id=None, device_id="bad-device-1"
    )
    assert ban.until is None
    assert sorted(room for room, _ in sent) == sorted([live.id, second.id])
    found = await moderation.find_active_restriction(
        session=session,
        shop_id=shop.id,
        live_session_id=later.id,
        customer_id=None,
        device_id="bad-device-1",
        kind="ban",
    )
    assert found is not None and "for good" in moderation.restriction_text(found)


async def test_kick_is_a_ten_minute_ban_from_this_room(session, shop, actor, sent):
    customer = await factories.make_customer(session, shop_id=shop.id)
    live = await make_live_session(session, shop_id=shop.id, status="live")
    kick = await moderation.kick(
        session=session, actor=actor, live_session_id=live.id, customer_id=customer.id
    )
    assert kick.kind == "ban"
    minutes = (kick.until - kick.created_at).total_seconds() / 60
    assert moderation.KICK_MINUTES - 0.1 < minutes < moderation.KICK_MINUTES + 0.1
    assert sent[-1][1]["action"] == "kick"
    assert "in this room" in moderation.restriction_text(kick)


async def test_restrictions_need_a_target_and_a_sane_duration(session, shop, actor):
    live = await make_live_session(session, shop_id=shop.id, status="live")
    with pytest.raises(InvalidInput) as error:
        await moderation.mute(session=session, actor=actor, live_session_id=live.id)
    assert error.value.field == "customer_id"
    with pytest.raises(InvalidInput) as error:
        await moderation.mute(
            session=session, actor=actor, live_session_id=live.id, device_id="d-1", minutes=0
        )
    assert error.value.field == "minutes"


async def test_another_shops_customer_or_session_cannot_be_restricted(
    session, shop, other_shop, actor
):
    theirs = await factories.make_customer(session, shop_id=other_shop.id)
    their_room = await make_live_session(session, shop_id=other_shop.id, status="live")
    with pytest.raises(NotFound):
        await moderation.ban(
            session=session, actor=actor, live_session_id=None, customer_id=theirs.id
        )
    with pytest.raises(NotFound):
        await moderation.mute(
            session=session, actor=actor, live_session_id=their_room.id, device_id="dev-1"
        )


async def test_delete_comment_tells_the_room_and_records_an_event(session, shop, actor, sent):
    live = await make_live_session(session, shop_id=shop.id, status="live")
    await moderation.delete_comment(
        session=session, actor=actor, live_session_id=live.id, comment_id="c-42", text="广告"
    )
    assert sent == [(live.id, {"type": "comment_deleted", "id": "c-42"})]
    event = (
        await session.execute(
            select(Event).where(Event.shop_id == shop.id, Event.type == "live_comment_deleted")
        )
    ).scalar_one()
    assert event.live_session_id == live.id
    assert event.properties["comment_id"] == "c-42"
