"""Tables of the events domain."""
