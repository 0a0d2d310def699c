"""Referral fission (裂变 / 任务宝): invite N friends, get a reward."""
