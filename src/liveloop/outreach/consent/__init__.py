"""Consent, do-not-contact, frequency caps and quiet hours; unsubscribe without login; reminders."""
