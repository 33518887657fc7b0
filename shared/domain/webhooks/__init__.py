"""Webhooks: registered endpoints and their signing secrets, the URL rules, and the signed, retried deliveries of
account events."""
