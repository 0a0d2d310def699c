"""The console's left navigation: every area of the product, grouped, with who may see it."""

from __future__ import annotations

from dataclasses import dataclass

from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.i18n import N_


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str  # English msgid, translated when rendered
    href: str
    icon: str
    permission: P | None = None
    available: bool = True  # False: its issue is still open; the page says "not yet available"
    summary: str = ""  # what the area will do, shown on its placeholder page


@dataclass(frozen=True)
class NavGroup:
    label: str
    items: tuple[NavItem, ...]


NAV: tuple[NavGroup, ...] = (
    NavGroup(
        N_("Overview"),
        (NavItem("dashboard", N_("Dashboard"), "/console", "home"),),
    ),
    NavGroup(
        N_("Customers"),
        (
            NavItem("customers", N_("Customers"), "/console/customers", "users", P.CUSTOMERS_READ),
            NavItem("tags", N_("Tags"), "/console/tags", "tag", P.CUSTOMERS_READ),
            NavItem("tag_rules", N_("Tag rules"), "/console/tag-rules", "tag", P.CUSTOMERS_READ),
            NavItem("rfm", N_("RFM and lifecycle"), "/console/rfm", "chart", P.CUSTOMERS_READ),
            NavItem("points", N_("Points and tiers"), "/console/points", "id", P.CUSTOMERS_READ),
            NavItem(
                "segments",
                N_("Segments"),
                "/console/segments",
                "filter",
                P.CUSTOMERS_READ,
                summary=N_(
                    "Build audiences from tags, behaviour and value, updated as they change."
                ),
            ),
            NavItem(
                "communities",
                N_("Communities"),
                "/console/communities",
                "chat",
                P.CUSTOMERS_READ,
                summary=N_("Customer groups on WeCom and WeChat, their members and activity."),
            ),
            NavItem(
                "channel_codes",
                N_("Channel codes"),
                "/console/channel-codes",
                "id",
                P.CUSTOMERS_READ,
            ),
            NavItem(
                "fission",
                N_("Referral fission"),
                "/console/fission",
                "send",
                P.CUSTOMERS_READ,
            ),
        ),
    ),
    NavGroup(
        N_("Commerce"),
        (
            NavItem("products", N_("Products"), "/console/products", "box", P.CATALOG_READ),
            NavItem(
                "live",
                N_("Live"),
                "/console/live",
                "video",
                P.LIVE_MANAGE,
            ),
            NavItem(
                "orders",
                N_("Orders"),
                "/console/orders",
                "receipt",
                P.ORDERS_READ,
            ),
            NavItem("coupons", N_("Coupons"), "/console/coupons", "tag", P.CATALOG_READ),
            NavItem(
                "flash_sales", N_("Flash sales"), "/console/flash-sales", "receipt", P.CATALOG_READ
            ),
            NavItem(
                "group_buys", N_("Group buys"), "/console/group-buys", "users", P.ORDERS_MANAGE
            ),
            NavItem("assists", N_("Assists"), "/console/assists", "send", P.ORDERS_MANAGE),
            NavItem("affiliates", N_("Affiliates"), "/console/affiliates", "id", P.ORDERS_MANAGE),
        ),
    ),
    NavGroup(
        N_("Engagement"),
        (
            NavItem(
                "service",
                N_("Customer service"),
                "/console/service",
                "chat",
                P.CUSTOMERS_WRITE,
            ),
            NavItem(
                "outreach",
                N_("Outreach"),
                "/console/outreach",
                "send",
                P.OUTREACH_MANAGE,
                summary=N_("Broadcasts and invitations through your own channels."),
            ),
            NavItem(
                "scripts",
                N_("Scripts"),
                "/console/scripts",
                "book",
                P.CUSTOMERS_READ,
            ),
            NavItem(
                "journeys",
                N_("Journeys"),
                "/console/journeys",
                "flow",
                P.OUTREACH_MANAGE,
                available=False,
                summary=N_("Automations: trigger, condition, delay, action."),
            ),
        ),
    ),
    NavGroup(
        N_("Insight"),
        (
            NavItem(
                "analytics",
                N_("Analytics"),
                "/console/analytics",
                "chart",
                P.ANALYTICS_READ,
                summary=N_("Live figures, post-live reports, funnels, cohorts and exports."),
            ),
            NavItem(
                "insight",
                N_("Insight"),
                "/console/insight",
                "bulb",
                P.ANALYTICS_READ,
                available=False,
                summary=N_("Recommendations, customer value, churn risk and comment language."),
            ),
        ),
    ),
    NavGroup(
        N_("Settings"),
        (
            NavItem("shop", N_("Shop"), "/console/settings/shop", "store", P.SHOP_MANAGE),
            NavItem("staff", N_("Staff"), "/console/settings/staff", "id", P.SHOP_MANAGE),
            NavItem("api_keys", N_("API keys"), "/console/settings/api-keys", "key", P.SHOP_MANAGE),
            NavItem(
                "payments", N_("Payments"), "/console/settings/payments", "receipt", P.SHOP_MANAGE
            ),
            NavItem("audit", N_("Audit log"), "/console/settings/audit", "list", P.AUDIT_READ),
        ),
    ),
)

PLACEHOLDER_AREAS: dict[str, NavItem] = {
    item.key: item for group in NAV for item in group.items if not item.available
}


def nav_for(actor: Actor | None) -> list[NavGroup]:
    """The groups and items this actor may open; empty groups are left out."""
    if actor is None:
        return []
    groups = []
    for group in NAV:
        items = tuple(i for i in group.items if i.permission is None or actor.can(i.permission))
        if items:
            groups.append(NavGroup(group.label, items))
    return groups


def active_key(path: str) -> str:
    """The nav item whose href is the longest prefix of the path."""
    best, best_length = "", -1
    for group in NAV:
        for item in group.items:
            href = item.href
            nested = href != "/console" and path.startswith(href + "/")
            matches = path == href or nested
            if matches and len(href) > best_length:
                best, best_length = item.key, len(href)
    return best
