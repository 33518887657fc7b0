"""Notification counts bought with credits, and their refund within 7 days while none was used."""
