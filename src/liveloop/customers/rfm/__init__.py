"""RFM scores and lifecycle stages of customers."""
