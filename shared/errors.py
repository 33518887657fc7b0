"""Domain errors. Each carries the contract's error code; HTTP statuses are mapped in shared.http.errors."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the domain's rules refuse. A subclass names its contract error code in its bases:
    ``class NotFound(DomainError, code="NOT_FOUND")``."""

    code = "BAD_REQUEST"

    def __init_subclass__(cls, *, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(DomainError, code="UNAUTHORIZED"): ...


class Forbidden(DomainError, code="FORBIDDEN"): ...


class GiftSendingNotApproved(DomainError, code="GIFT_SENDING_NOT_APPROVED"): ...


class NotFound(DomainError, code="NOT_FOUND"): ...


class InsufficientCredits(DomainError, code="INSUFFICIENT_CREDITS"): ...


class GiftUnavailable(DomainError, code="GIFT_UNAVAILABLE"): ...


class NotResendable(DomainError, code="NOT_RESENDABLE"): ...


class RefundNotAllowed(DomainError, code="REFUND_NOT_ALLOWED"): ...


class InvalidState(DomainError, code="INVALID_STATE"): ...


class IdempotencyKeyReused(DomainError, code="IDEMPOTENCY_KEY_REUSED"): ...


class UserExists(DomainError, code="USER_EXISTS"): ...


class RateLimited(DomainError, code="RATE_LIMITED"):
    """The account made more requests than fair use allows; it may try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidInput(DomainError, code="VALIDATION_ERROR"):
    def __init__(self, message: str, details: list[dict] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class ConcurrentUpdate(Exception):
    """An optimistic write lost a race; the caller re-reads and tries again. Never reaches a client."""


class WebhookLimitReached(Exception):
    """The account has MAX_WEBHOOKS already (raised by the store; the webhook domain answers it)."""


class ProviderUnavailable(Exception):
    """A provider call failed in a way that may succeed on retry (5xx, timeout, throttling). ``retry_after``: the
    seconds the provider asked to wait (its 429's ``Retry-After``), or None."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderRejected(Exception):
    """The provider refused the call for a reason retrying will not fix (bad credentials, wrong endpoint,
    a request it does not accept): a misconfiguration, not an outage."""

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
