"""Segments (人群圈选): a JSON filter language compiled to one SQL query."""
