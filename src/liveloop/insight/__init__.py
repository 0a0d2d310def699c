"""The insight domain."""
