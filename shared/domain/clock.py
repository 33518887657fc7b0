"""Time in one place: UTC instants for storage, Asia/Seoul dates for coupon expiry (Korea has no DST)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

SEOUL = timezone(timedelta(hours=9), "Asia/Seoul")
GIFTICON_VALIDITY_DAYS = 30


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def gifticon_expiry(issued_at: datetime) -> date:
    """Valid 30 days including the issue day (Seoul calendar)."""
    return issued_at.astimezone(SEOUL).date() + timedelta(days=GIFTICON_VALIDITY_DAYS - 1)
