"""Broadcasts (群发): audience, variants, scheduling, idempotent delivery, clicks, results."""
