"""One-time SMS codes that prove a viewer owns a phone number."""
