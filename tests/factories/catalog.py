"""Factories of the catalog domain."""
