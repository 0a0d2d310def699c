"""Factories of the events domain."""
