"""Business accounts, their API keys and dashboard users, who may call what (auth), the per-account fair-use
limit and the balance-alert thresholds."""
