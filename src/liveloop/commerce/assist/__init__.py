"""Assist (助力): a customer shares a link and distinct helpers move them to a reward."""
