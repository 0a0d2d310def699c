"""Assist (助力): a customer starts an assist on a campaign and shares /assist/{code}; each
distinct helper moves them toward the reward (a price cut to a target price, or a coupon).

Abuse limits, each refused attempt recorded with its reason (the console's abuse list):
no self-help (same customer or the owner's own device), one help per customer and one per
device in a campaign (unique constraints, so they hold under races), the campaign's cap on helps
(a conditional UPDATE), and optionally new customers only — a helper whose customer record was
created before the assist started is not new. The reward is granted once: a conditional UPDATE
on reward_granted_at decides who grants it.
"""

from liveloop.commerce.assist.campaigns import (
    REFUSAL_MESSAGES,
    assist_view,
    assists_query,
    campaigns_query,
    create_campaign,
    end_campaign,
    expire_due_assists,
    find_assist_shop,
    get_assist_by_code,
    get_campaign,
    list_helps,
    mask_name,
    refusals_query,
)

# Importing helps registers this domain's order hook (order_released).
from liveloop.commerce.assist.helps import (
    HelpOutcome,
    free_assist_price,
    grant_reward,
    help_assist,
    redeem_price_cut,
    start_assist,
)

__all__ = [
    "REFUSAL_MESSAGES",
    "HelpOutcome",
    "assist_view",
    "assists_query",
    "campaigns_query",
    "create_campaign",
    "end_campaign",
    "expire_due_assists",
    "find_assist_shop",
    "free_assist_price",
    "get_assist_by_code",
    "get_campaign",
    "grant_reward",
    "help_assist",
    "list_helps",
    "mask_name",
    "redeem_price_cut",
    "refusals_query",
    "start_assist",
]
