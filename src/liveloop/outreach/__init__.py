"""The outreach domain."""
