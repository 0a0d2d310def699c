"""Attribution of orders to touchpoints under several models."""
