"""How a failed AWS call is told to the domain: ProviderUnavailable (retry later, with the same key) or
ProviderRejected (retrying will not help). One mapping for every send the domain retries itself (SES, SNS).

Nothing here puts AWS error messages into logs or exceptions (SES echoes addresses in them); only the operation,
the HTTP status and the error code.
"""

from __future__ import annotations

import logging

import botocore.exceptions

from shared.adapters.rate_limit import retry_after_seconds
from shared.errors import ProviderRejected, ProviderUnavailable

logger = logging.getLogger(__name__)

# Error codes that mean "try again later" whatever their HTTP status (SES answers throttling with a 400 or 429).
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalFailure",
        "InternalError",
        "InternalErrorException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSThrottlingException",
        "KMSThrottling",
    }
)
_TRANSIENT_STATUSES = frozenset({408, 429})


def aws_failure(provider: str, operation: str, exc: Exception) -> ProviderUnavailable | ProviderRejected:
    """Map a botocore failure: throttling, 5xx, timeouts and connection errors are transient; anything else
    (MessageRejected, an unverified sender or MAIL FROM domain, a suspended or paused account, access denied, an
    invalid parameter, missing credentials) is a refusal that retrying will not fix."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or None
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _TRANSIENT_CODES or status in _TRANSIENT_STATUSES or status >= 500:
            logger.warning(f"{provider} unavailable", extra={"operation": operation, "status": status, "code": code})
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders") or {}
            return ProviderUnavailable(
                f"{provider} {operation}: HTTP {status} {code or ''}".rstrip(),
                retry_after=retry_after_seconds(headers.get("retry-after")),  # AWS rarely sends one; honoured if so
            )
        logger.error(f"{provider} rejected the call", extra={"operation": operation, "status": status, "code": code})
        return ProviderRejected(
            f"{provider} {operation}: HTTP {status} {code or ''}".rstrip(), status=status, code=code
        )
    name = type(exc).__name__
    if isinstance(
        exc,
        (
            botocore.exceptions.ConnectionError,
            botocore.exceptions.HTTPClientError,
            botocore.exceptions.CredentialRetrievalError,
        ),
    ):
        logger.warning(f"{provider} unreachable", extra={"operation": operation, "error": name})
        return ProviderUnavailable(f"{provider} {operation}: {name}")
    logger.error(f"{provider} call failed", extra={"operation": operation, "error": name})
    return ProviderRejected(f"{provider} {operation}: {name}", status=0, code=name)
