"""Group buy (拼团): campaigns, opening and joining groups, confirming or failing them.

A buyer opens a group (an order of kind "group" at the group price) and shares /group/{code};
others join the same way. A member holds a seat from the moment the order is placed; seats are
taken with one conditional UPDATE, so a group never has more than N members. A member counts
once paid (hook "order_paid"); N paid members confirm the group. At the deadline (a job per
group plus a periodic sweeper) a group short of N fails: paid members are refunded through the
payments service and unpaid orders cancelled — or, with the shop's "simulate group" setting, the
group is confirmed as it stands. A seat whose order expires unpaid comes back (hook
"order_released"). Every step is a conditional update, so reruns change nothing.
"""

from liveloop.commerce.groupbuy.campaigns import (
    campaigns_query,
    check_campaign_open,
    create_campaign,
    end_campaign,
    find_group_shop,
    get_campaign,
    get_group,
    get_group_by_code,
    get_settings,
    group_view,
    groups_query,
    list_members,
    mask_name,
    open_campaigns,
    update_campaign,
    update_settings,
)

# Importing groups registers the order hooks (order_paid, order_released) of this domain.
from liveloop.commerce.groupbuy.groups import (
    GroupPurchase,
    close_group,
    count_paid_member,
    due_group_ids,
    give_seat_back,
    group_of_order,
    join_group,
    open_group,
)
from liveloop.commerce.groupbuy.room import (
    current_room_card,
    joinable_groups,
    push_campaign_to_live,
    room_card,
    withdraw_campaign_from_live,
)

__all__ = [
    "GroupPurchase",
    "campaigns_query",
    "check_campaign_open",
    "close_group",
    "count_paid_member",
    "create_campaign",
    "current_room_card",
    "due_group_ids",
    "end_campaign",
    "find_group_shop",
    "get_campaign",
    "get_group",
    "get_group_by_code",
    "get_settings",
    "give_seat_back",
    "group_of_order",
    "group_view",
    "groups_query",
    "join_group",
    "joinable_groups",
    "list_members",
    "mask_name",
    "open_campaigns",
    "open_group",
    "push_campaign_to_live",
    "room_card",
    "update_campaign",
    "update_settings",
    "withdraw_campaign_from_live",
]
