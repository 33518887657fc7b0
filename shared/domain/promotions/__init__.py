"""Promotions, their winners, and the automatic notification of recorded winners."""
