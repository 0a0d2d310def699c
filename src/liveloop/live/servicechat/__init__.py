"""In-room customer service: a viewer's private chat with the shop's agents."""
