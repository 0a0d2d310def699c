"""Lotteries (抽奖) with a verifiable draw (docs/lottery-fairness.md)."""
