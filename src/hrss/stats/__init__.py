"""Indicator statistics computed from the real-name ledgers (实名制自动统计)."""
