"""Roles and what each may do: the one place permissions are declared."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    OPERATOR = "operator"
    SERVICE_AGENT = "service_agent"
    ANCHOR = "anchor"
    ANALYST = "analyst"


class Permission(StrEnum):
    SHOP_MANAGE = "shop.manage"  # shop settings, staff, roles, API keys
    AUDIT_READ = "audit.read"
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"
    CUSTOMERS_DELETE = "customers.delete"
    CUSTOMERS_MERGE = "customers.merge"
    CUSTOMERS_REVEAL_PII = "customers.reveal_pii"
    CUSTOMERS_IMPORT = "customers.import"
    CUSTOMERS_EXPORT = "customers.export"
    TAGS_MANAGE = "tags.manage"
    CATALOG_READ = "catalog.read"
    CATALOG_WRITE = "catalog.write"
    EVENTS_READ = "events.read"
    EVENTS_WRITE = "events.write"
    LIVE_MANAGE = "live.manage"
    ORDERS_READ = "orders.read"  # order list, detail and export
    ORDERS_MANAGE = "orders.manage"
    OUTREACH_MANAGE = "outreach.manage"
    ANALYTICS_READ = "analytics.read"


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {
            P.CUSTOMERS_READ,
            P.CUSTOMERS_WRITE,
            P.CUSTOMERS_DELETE,
            P.CUSTOMERS_MERGE,
            P.CUSTOMERS_IMPORT,
            P.CUSTOMERS_EXPORT,
            P.TAGS_MANAGE,
            P.CATALOG_READ,
            P.CATALOG_WRITE,
            P.EVENTS_READ,
            P.EVENTS_WRITE,
            P.LIVE_MANAGE,
            P.ORDERS_READ,
            P.ORDERS_MANAGE,
            P.OUTREACH_MANAGE,
            P.ANALYTICS_READ,
        }
    ),
    # Agents phone customers back, so they may reveal numbers; every reveal is audited.
    Role.SERVICE_AGENT: frozenset(
        {
            P.CUSTOMERS_READ,
            P.CUSTOMERS_WRITE,
            P.CUSTOMERS_REVEAL_PII,
            P.TAGS_MANAGE,
            P.CATALOG_READ,
            P.EVENTS_READ,
            P.ORDERS_READ,
            P.ORDERS_MANAGE,
        }
    ),
    Role.ANCHOR: frozenset({P.CATALOG_READ, P.LIVE_MANAGE, P.CUSTOMERS_READ}),
    Role.ANALYST: frozenset(
        {
            P.CUSTOMERS_READ,
            P.CUSTOMERS_EXPORT,
            P.CATALOG_READ,
            P.EVENTS_READ,
            P.ORDERS_READ,
            P.ANALYTICS_READ,
            P.AUDIT_READ,
        }
    ),
}

ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.OWNER: ("店主", "Owner"),
    Role.OPERATOR: ("运营", "Operator"),
    Role.SERVICE_AGENT: ("客服", "Service agent"),
    Role.ANCHOR: ("主播", "Anchor"),
    Role.ANALYST: ("分析师", "Analyst"),
}


def permissions_for(role: Role | str) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[Role(role)]
