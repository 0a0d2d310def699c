"""The analytics domain."""
