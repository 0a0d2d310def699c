"""Points (积分) ledger and membership tiers (会员等级)."""
