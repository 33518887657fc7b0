"""JSON over HTTP for the providers' own APIs (the gift provider, the SMS gateway): one attempt per call
(retries are the caller's, with the same idempotency key), a bearer key, and one mapping of failures to
ProviderUnavailable (may work later) or ProviderRejected (will not). Nothing here logs or puts into
exception messages the key, request bodies or response bodies."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

import urllib3

from shared.errors import ProviderRejected, ProviderUnavailable

logger = logging.getLogger(__name__)

# Connections are opened lazily; this only bounds how many idle ones are kept for reuse (consumers call
# providers from up to PROVIDER_CONCURRENCY threads).
_POOL_MAXSIZE = 64
_USER_AGENT = "win-notifications/1.0"
TRANSIENT_STATUSES = frozenset({408, 429})
CREDENTIAL_STATUSES = frozenset({401, 403})


class JsonApi:
    def __init__(
        self, name: str, endpoint: str, api_key: str, *, timeout_seconds: float, http: urllib3.PoolManager | None
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{name} endpoint must be an absolute http(s) URL")
        if not api_key:
            raise ValueError(f"{name} api key is empty")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self.name = name
        self.endpoint = endpoint.rstrip("/")
        self._api_key = api_key
        self._timeout = urllib3.Timeout(total=timeout_seconds)
        self._http = http or urllib3.PoolManager(maxsize=_POOL_MAXSIZE, retries=False, timeout=self._timeout)

    def call(
        self, method: str, path: str, *, payload: dict[str, Any] | None = None, idempotency_key: str | None = None
    ) -> tuple[int, Any]:
        """One attempt. Returns (status, parsed JSON body or None when the body is empty or not JSON)."""
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json", "User-Agent": _USER_AGENT}
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = self._http.request(
                method,
                f"{self.endpoint}{path}",
                body=body,
                headers=headers,
                timeout=self._timeout,
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            # Timeouts, refused/reset connections, protocol errors: only the error type is kept.
            logger.warning(f"{self.name} unreachable", extra={"operation": path, "error": type(exc).__name__})
            raise ProviderUnavailable(f"{self.name} {method} {path}: {type(exc).__name__}") from exc
        return response.status, parse_json(response.data)

    def rejected(self, operation: str, status: int, code: str | None) -> ProviderRejected:
        logger.error(f"{self.name} rejected the call", extra={"operation": operation, "status": status, "code": code})
        return ProviderRejected(
            f"{self.name} {operation}: HTTP {status} {code or ''}".rstrip(), status=status, code=code
        )

    def unavailable(
        self, operation: str, status: int, code: str | None, detail: str | None = None
    ) -> ProviderUnavailable:
        logger.warning(
            f"{self.name} unavailable", extra={"operation": operation, "status": status, "code": code, "detail": detail}
        )
        reason = detail or f"HTTP {status} {code or ''}".rstrip()
        return ProviderUnavailable(f"{self.name} {operation}: {reason}")

    def failure(self, operation: str, status: int, code: str | None) -> ProviderUnavailable | ProviderRejected:
        """A write that neither succeeded nor named a known outcome: transient when retrying (with the same
        idempotency key) may work — including an unreadable 2xx, which may have taken effect — else rejected."""
        if status in CREDENTIAL_STATUSES:
            return self.rejected(operation, status, code)
        if (
            status in TRANSIENT_STATUSES
            or status >= 500
            or 200 <= status < 300
            or (status == 409 and code == "REQUEST_IN_PROGRESS")
        ):
            return self.unavailable(operation, status, code)
        return self.rejected(operation, status, code)


def parse_json(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None


def error_code(payload: Any) -> str | None:
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, str) else None
