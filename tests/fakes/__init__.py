"""Local stand-ins for external services, served on 127.0.0.1 for the unit tests."""
