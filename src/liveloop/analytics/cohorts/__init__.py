"""Retention, cohorts and value figures (ROI, ROAS, CAC, LTV, AARRR, K-factor, KOL)."""
