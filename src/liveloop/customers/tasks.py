"""Background jobs of the customers domain."""
