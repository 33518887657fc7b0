"""Delivery reports from the providers, each applied once: delivered, failed (the count given back), or a retry."""
