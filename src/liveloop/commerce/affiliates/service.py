"""Affiliates: profiles, codes and rates; order attribution and the commission lifecycle.

An order is attributed when placed (hook "order_placed") to the affiliate whose code it carries:
a promo code in `attribution["promo_code"]` first, then its share code, then its source code;
failing those, to the affiliate behind the live room link it came through: the entry link's
customer or staff member, else the customer who shared the room (never buying from oneself).
Commission is written per order line when the order is paid (pending), settles once the return
window is over (periodic job), and is taken back in proportion to refunds (hook
"order_refunded"; each refund counted once). Rounding: see `commission.py`.
"""

from liveloop.commerce.affiliates.ledger import (
    RefundPart,
    attribute_order,
    find_affiliate_code,
    find_live_link_affiliate,
    note_order_released,
    order_codes,
    record_commission,
    refund_parts,
    reverse_commission,
    start_return_window,
)
from liveloop.commerce.affiliates.profiles import (
    add_code,
    check_promo_code,
    create_affiliate,
    get_affiliate,
    get_settings,
    list_affiliates,
    list_codes,
    list_product_rates,
    set_product_rate,
    update_affiliate,
    update_settings,
)
from liveloop.commerce.affiliates.reports import (
    SETTLEMENT_COLUMNS,
    affiliate_orders_query,
    commissions_query,
    settle_due_commissions,
    settlement_rows,
    summaries,
)

__all__ = [
    "SETTLEMENT_COLUMNS",
    "RefundPart",
    "add_code",
    "affiliate_orders_query",
    "attribute_order",
    "check_promo_code",
    "commissions_query",
    "create_affiliate",
    "find_affiliate_code",
    "find_live_link_affiliate",
    "get_affiliate",
    "get_settings",
    "list_affiliates",
    "list_codes",
    "list_product_rates",
    "note_order_released",
    "order_codes",
    "record_commission",
    "refund_parts",
    "reverse_commission",
    "set_product_rate",
    "settle_due_commissions",
    "settlement_rows",
    "start_return_window",
    "summaries",
    "update_affiliate",
    "update_settings",
]
