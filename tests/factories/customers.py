"""Factories of the customers domain."""
