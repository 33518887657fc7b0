"""Gifticon sends: the catalog and its sync, creating a gift send, and issuing each recipient's coupon through the
gift provider (the port the provider adapters implement)."""
