"""KOL / KOC affiliates: codes that attribute orders, and commission on what they sell."""
