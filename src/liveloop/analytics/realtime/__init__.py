"""The realtime live dashboard."""
