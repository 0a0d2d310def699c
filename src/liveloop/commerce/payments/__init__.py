"""Payments and refunds: providers, notifications, the hosted demo pay page."""
