"""Mic requests (上麦/连麦): the signalling and its record; the media is the media server's."""
