"""LiveLoop: private-domain live commerce."""
