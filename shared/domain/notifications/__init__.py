"""SMS, LMS and email sends: message rules (EUC-KR bytes, templates, emoji), creating a notification send, and
delivering its batches through the notification sender (the port the provider adapters implement)."""
