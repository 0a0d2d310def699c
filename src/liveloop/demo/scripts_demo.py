"""The demo shop's script library (话术库): the usual questions of a tea shop's live room —
shipping time, returns, live hours, discounts, sizes, member benefits, complaints — as
shop-wide entries, and one personal entry of the demo service agent.

Wire it: at the end of seed_demo, `await seed_scripts(session, actor=actor, staff=staff)`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.outreach.scripts import service as scripts_service
from liveloop.outreach.scripts.schemas import CategoryIn, EntryIn, LinkIn
from liveloop.shops.models import Staff
from liveloop.shops.permissions import Role
from liveloop.shops.service import Actor, actor_for_staff

# category -> [(title, text, keywords)]
STARTER_SET: dict[str, list[tuple[str, str, list[str]]]] = {
    "发货物流": [
        (
            "发货时间",
            "{客户昵称}您好～直播间下单的宝贝48小时内发货（预售款以商品页写的时间为准），"
            "默认顺丰/中通，发货后订单里就能看到物流单号哦。",
            ["几天发货", "快递", "物流"],
        ),
        (
            "查物流",
            "{客户昵称}，您最近的订单 {最近订单号} 可以在「我的订单」里点开看物流，"
            "有任何延误我这边帮您催一下快递～",
            ["快递到哪", "单号"],
        ),
    ],
    "退换售后": [
        (
            "退换货政策",
            "{店铺名}支持7天无理由退换货（茶叶拆封后不影响二次销售的可退），"
            "质量问题来回运费我们承担，在订单里申请售后就可以啦。",
            ["退货", "换货", "七天无理由", "售后"],
        ),
    ],
    "尺码规格": [
        (
            "规格怎么选",
            "茶叶有50g尝鲜装、100g罐装和250g家庭装，第一次喝建议先拿尝鲜装试试口味；"
            "茶具套装的尺寸都写在详情页第三张图里哦。",
            ["尺码", "规格", "多大", "克数"],
        ),
    ],
    "直播时间": [
        (
            "直播时长",
            "我们每周二、四、六晚上8点开播，每场大约2个小时，"
            "关注直播间就能收到开播提醒，错过的福利回放里也能看到～",
            ["几点直播", "开播", "直播多久"],
        ),
    ],
    "优惠活动": [
        (
            "优惠细节",
            "今天直播间满199减30，和新人券可以叠加使用；限时秒杀的宝贝不参与满减，"
            "下单时系统会自动帮您选最划算的券。",
            ["优惠券", "满减", "折扣", "便宜"],
        ),
    ],
    "会员权益": [
        (
            "会员福利",
            "{客户昵称}，您现在是{会员等级}，有 {积分} 积分可以抵现；"
            "会员每月还能领一次专属券，生日当月积分翻倍哦。",
            ["会员", "积分", "等级", "权益"],
        ),
    ],
    "投诉处理": [
        (
            "安抚与处理",
            "非常抱歉给您带来不好的体验，{客户昵称}！我已经把您的问题记下来并转给主管，"
            "今天之内一定给您答复，您也可以随时在这里找我。",
            ["投诉", "不满意", "差评", "生气"],
        ),
    ],
}
AGENT_PERSONAL = (
    "我的开场白",
    "{客户昵称}您好，我是{店铺名}的客服小美，很高兴为您服务～请问有什么可以帮您？",
    ["你好", "在吗"],
)


async def seed_scripts(session: AsyncSession, *, actor: Actor, staff: Sequence[Staff]) -> int:
    """The starter set (returns how many entries were written)."""
    written = 0
    for position, (name, entries) in enumerate(STARTER_SET.items()):
        category = await scripts_service.create_category(
            session=session, actor=actor, data=CategoryIn(name=name, position=position)
        )
        for title, text, keywords in entries:
            # The buyer's order list in the shop's mall, where after-sales are requested.
            orders = LinkIn(title="我的订单", url=f"/mall/{actor.shop_id}/orders")
            links = [orders] if title in ("退换货政策", "查物流") else []
            await scripts_service.create_entry(
                session=session,
                actor=actor,
                data=EntryIn(
                    title=title,
                    text=text,
                    category_id=category.id,
                    scope="shop",
                    keywords=keywords,
                    links=links,
                ),
            )
            written += 1
    agent = next((s for s in staff if s.role == Role.SERVICE_AGENT), None)
    if agent is not None:
        title, text, keywords = AGENT_PERSONAL
        await scripts_service.create_entry(
            session=session,
            actor=actor_for_staff(agent),
            data=EntryIn(title=title, text=text, scope="personal", keywords=keywords),
        )
        written += 1
    return written
