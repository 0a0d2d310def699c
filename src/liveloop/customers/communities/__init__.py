"""Communities (社群): groups the merchant runs on any channel, and their members."""
