"""Script library service: jieba search, ranking, visibility, variables and the starter set."""

from __future__ import annotations

import pytest

from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from liveloop.customers.points import service as points_service
from liveloop.customers.points import tiers as tiers_service
from liveloop.outreach.scripts import service
from liveloop.outreach.scripts.schemas import CategoryIn, EntryIn, EntryPatch
from liveloop.outreach.scripts.search import tokens
from liveloop.outreach.scripts.variables import check_variables, fill, variables_in
from liveloop.shops.service import actor_for_staff
from tests import factories


async def add(session, actor, title: str, text: str, **extra):  # type: ignore[no-untyped-def]
    return await service.create_entry(
        session=session, actor=actor, data=EntryIn(title=title, text=text, **extra)
    )


def test_tokens_leave_out_filler_and_lone_characters() -> None:
    assert tokens("什么时候发货呀？") == {"时候", "发货"}
    assert {"退换", "换货", "退换货", "政策"} <= tokens("退换货政策")
    assert tokens("S码和M码") >= {"s", "m"}  # Latin sizes are kept, lone 码 is not
    assert "码" not in tokens("S码和M码")


async def test_a_chinese_question_finds_the_entry_by_its_words(session, actor) -> None:  # type: ignore[no-untyped-def]
    shipping = await add(session, actor, "发货时间", "下单后48小时内发货")
    await add(session, actor, "退换货政策", "支持7天无理由退换货")
    await add(session, actor, "直播时长", "每场直播大约两个小时", keywords=["直播多久"])
    hits = await service.search_entries(session=session, actor=actor, q="什么时候发货呀")
    assert [(h.id, h.title) for h in hits.items] == [(shipping.id, "发货时间")]
    assert hits.items[0].matches == 1  # 发货 (时候 is in no entry)
    # A keyword counts as the entry's own word.
    live = await service.search_entries(session=session, actor=actor, q="今天直播多久")
    assert [h.title for h in live.items] == ["直播时长"]
    # Shorter words inside longer ones: 怎么退货 has no 退货 entry word, 换货 does.
    returns = await service.search_entries(session=session, actor=actor, q="可以换货吗")
    assert [h.title for h in returns.items] == ["退换货政策"]


async def test_rank_by_matches_then_usage(session, actor) -> None:  # type: ignore[no-untyped-def]
    both = await add(session, actor, "会员优惠", "会员专享优惠券")
    one_a = await add(session, actor, "优惠细节", "满199减30")
    one_b = await add(session, actor, "新人优惠", "新人立减")
    await service.use_entry(session=session, actor=actor, entry_id=one_b.id, customer_id=None)
    hits = await service.search_entries(session=session, actor=actor, q="会员有什么优惠")
    # both: 会员 + 优惠 = 2 matches; one_b and one_a: 1 each, one_b used once.
    assert [(h.id, h.matches, h.usage_count) for h in hits.items] == [
        (both.id, 2, 0),
        (one_b.id, 1, 1),
        (one_a.id, 1, 0),
    ]
    assert hits.total == 3


async def test_a_lone_character_matches_titles_and_texts(session, actor) -> None:  # type: ignore[no-untyped-def]
    await add(session, actor, "发货时间", "48小时内")
    await add(session, actor, "尺码", "S 到 XL")
    hits = await service.search_entries(session=session, actor=actor, q="发")
    assert [h.title for h in hits.items] == ["发货时间"]
    assert (await service.search_entries(session=session, actor=actor, q="%")).total == 0


async def test_editing_reindexes_the_entry(session, actor) -> None:  # type: ignore[no-untyped-def]
    entry = await add(session, actor, "发货时间", "48小时内发货")
    await service.update_entry(
        session=session, actor=actor, entry_id=entry.id,
        data=EntryPatch(title="尺码建议", text="偏大一码"),
    )  # fmt: skip
    assert (await service.search_entries(session=session, actor=actor, q="发货")).total == 0
    assert (await service.search_entries(session=session, actor=actor, q="尺码")).total == 1


async def test_personal_entries_are_their_owners_only(session, shop) -> None:  # type: ignore[no-untyped-def]
    mei = actor_for_staff(
        await factories.make_staff(session, shop_id=shop.id, role="service_agent")
    )
    li = actor_for_staff(await factories.make_staff(session, shop_id=shop.id, role="service_agent"))
    boss = actor_for_staff(await factories.make_staff(session, shop_id=shop.id, role="owner"))
    mine = await add(session, mei, "我的开场白", "您好，发货问题找我", scope="personal")
    for other in (li, boss):
        assert (await service.search_entries(session=session, actor=other, q="发货")).total == 0
        with pytest.raises(NotFound):
            await service.access_entry(session=session, actor=other, entry_id=mine.id)
    found = await service.search_entries(session=session, actor=mei, q="发货")
    assert [h.id for h in found.items] == [mine.id] and found.items[0].scope == "personal"
    # Agents keep their own entries but not the shop's.
    with pytest.raises(PermissionDenied):
        await add(session, mei, "发货时间", "48小时", scope="shop")
    shared = await add(session, boss, "发货时间", "48小时")
    with pytest.raises(PermissionDenied):
        await service.delete_entry(session=session, actor=mei, entry_id=shared.id)
    await service.delete_entry(session=session, actor=mei, entry_id=mine.id)
    with pytest.raises(NotFound):
        await service.access_entry(session=session, actor=mei, entry_id=mine.id)


def test_variables_are_checked_and_filled() -> None:
    check_variables("{客户昵称}您好，{name}，您是{会员等级}")
    with pytest.raises(InvalidInput) as unknown:
        check_variables("您好{客户姓名}")
    assert unknown.value.field == "text" and "{客户姓名}" in unknown.value.message
    with pytest.raises(InvalidInput) as unclosed:
        check_variables("您好{客户昵称")
    assert unclosed.value.code == "unclosed_variable"
    assert variables_in("{name}，{客户昵称}，{店铺名}") == ["客户昵称", "店铺名"]
    assert fill("{name}您好，{会员等级}", {"客户昵称": "小林"}) == ("小林您好，", ["会员等级"])


async def test_use_fills_the_customer_and_counts(session, shop, actor) -> None:  # type: ignore[no-untyped-def]
    customer = await factories.make_customer(session, shop_id=shop.id, name="王小丫")
    await tiers_service.create_tier(
        session=session, actor=actor, values={"name": "金卡", "level": 2, "min_points": 100}
    )
    await points_service.grant_points(
        session=session, shop_id=shop.id, customer_id=customer.id, points=150, reason="test"
    )
    product = await factories.make_product(session, shop_id=shop.id)
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=customer.id, lines=[(product.skus[0].id, 1)]
    )
    entry = await add(
        session, actor, "会员福利",
        "{客户昵称}，您是{会员等级}，有{积分}积分；订单{最近订单号}；{店铺名}",
    )  # fmt: skip
    used = await service.use_entry(
        session=session, actor=actor, entry_id=entry.id, customer_id=customer.id
    )
    assert used.text == f"王小丫，您是金卡，有150积分；订单{order.number}；{shop.name}"
    assert used.missing == [] and used.usage_count == 1
    stranger = await factories.make_customer(session, shop_id=shop.id, name=None)
    again = await service.use_entry(
        session=session, actor=actor, entry_id=entry.id, customer_id=stranger.id
    )
    assert again.text == f"亲，您是，有0积分；订单；{shop.name}"
    assert again.missing == ["客户昵称", "会员等级", "最近订单号"] and again.usage_count == 2


async def test_use_for_another_shops_customer_is_not_found(session, actor, other_shop) -> None:  # type: ignore[no-untyped-def]
    entry = await add(session, actor, "发货时间", "{客户昵称}，48小时内发货")
    foreign = await factories.make_customer(session, shop_id=other_shop.id)
    with pytest.raises(NotFound):
        await service.use_entry(
            session=session, actor=actor, entry_id=entry.id, customer_id=foreign.id
        )
    assert (
        await service.access_entry(session=session, actor=actor, entry_id=entry.id)
    ).usage_count == 0


async def test_categories(session, actor) -> None:  # type: ignore[no-untyped-def]
    first = await service.create_category(
        session=session, actor=actor, data=CategoryIn(name="发货物流", position=1)
    )
    second = await service.create_category(
        session=session, actor=actor, data=CategoryIn(name="退换售后", position=0)
    )
    with pytest.raises(Conflict):
        await service.create_category(
            session=session, actor=actor, data=CategoryIn(name="发货物流")
        )
    entry = await add(session, actor, "发货时间", "48小时", category_id=first.id)
    listed = await service.list_categories(session=session, actor=actor)
    assert [(c["name"], c["entry_count"]) for c in listed] == [("退换售后", 0), ("发货物流", 1)]
    await service.delete_category(session=session, actor=actor, category_id=first.id)
    kept = await service.access_entry(session=session, actor=actor, entry_id=entry.id)
    assert kept.category_id is None and second.id


async def test_starter_set_answers_the_usual_questions(session, shop, actor) -> None:  # type: ignore[no-untyped-def]
    from liveloop.demo.scripts_demo import STARTER_SET, seed_scripts

    agent = await factories.make_staff(session, shop_id=shop.id, role="service_agent")
    written = await seed_scripts(session, actor=actor, staff=[agent])
    assert written == sum(len(entries) for entries in STARTER_SET.values()) + 1
    for question, title in [
        ("什么时候发货呀", "发货时间"),
        ("怎么退货", "退换货政策"),
        ("直播多久", "直播时长"),
        ("有什么优惠", "优惠细节"),
        ("会员有什么福利", "会员福利"),
        ("尺码怎么选", "规格怎么选"),
        ("我要投诉", "安抚与处理"),
    ]:
        hits = await service.search_entries(session=session, actor=actor, q=question)
        assert hits.items and hits.items[0].title == title, question
    mine = await service.search_entries(
        session=session, actor=actor_for_staff(agent), q="在吗", scope="personal"
    )
    assert [h.title for h in mine.items] == ["我的开场白"]
