"""Coupons: rules, issued coupons, claims and their use at checkout."""
