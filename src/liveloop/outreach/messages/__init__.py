"""Message templates (sandboxed Jinja2, per-channel parts), live posters and A/B assignment."""
