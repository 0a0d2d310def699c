"""Outreach channels: e-mail (SMTP), webhook, WeCom mass messages, SMS, behind one interface."""
