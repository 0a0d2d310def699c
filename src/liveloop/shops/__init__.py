"""Shops (tenants), staff and roles, API keys, and the audit log."""
