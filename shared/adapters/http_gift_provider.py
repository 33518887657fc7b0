"""The gift provider port over a B2B gifticon HTTP API (urllib3, no retries of its own).

Wire protocol (JSON over HTTPS; UTF-8; every request carries ``Authorization: Bearer <api_key>``)::

    POST {endpoint}/v1/coupons
        Idempotency-Key: <request.idempotency_key>
        Content-Type: application/json
        {"gift_id": "...", "phone": "+8210...", "title": "...", "message": "..."}   (phone in E.164)

        200 / 201  {"coupon_id": "...", "expires_on": "YYYY-MM-DD"}    -> ISSUED (200 = replay of the same key)
        404 / 422  {"code": "RECIPIENT_NOT_FOUND", ...}                -> RECIPIENT_NOT_FOUND
        409 / 410 / 422  {"code": "GIFT_UNAVAILABLE", ...}             -> GIFT_UNAVAILABLE
        409  {"code": "REQUEST_IN_PROGRESS", ...}  (same key in flight) -> ProviderUnavailable
        408, 429, 5xx, any other 2xx, an unparseable body,
        connection errors and timeouts                                  -> ProviderUnavailable
        401 / 403 (bad or revoked credentials)                          -> ProviderRejected
        any other status (3xx, 400, 404/409/410/422 without one of the
        codes above, e.g. a wrong endpoint path or a reused key)        -> ProviderRejected

    GET {endpoint}/v1/catalog
        200  {"items": [{"gift_id", "name", "brand", "price", "status": "ON_SALE" | "DISCONTINUED"}, ...]}
             -> list[GiftItem], ``position`` = 1-based order in the list
        401 / 403 -> ProviderRejected; anything else (incl. an unparseable body) -> ProviderUnavailable

Error bodies are ``{"code": "...", "message": "..."}``; only ``code`` is read.

The provider issues at most one coupon per Idempotency-Key and answers a repeated key with the same coupon,
so a ProviderUnavailable after the request may have reached the provider (timeout, 5xx, garbled 2xx) is safe to
retry with the same key. Retrying is the caller's job (shared.domain.gift_processing): this adapter makes exactly
one HTTP attempt per call (urllib3 ``retries=False``, redirects not followed).

ProviderRejected is deliberately not a ProviderUnavailable: a revoked key or a wrong endpoint is a
misconfiguration that retrying cannot fix, and must not be recorded as a provider outage on each recipient.

Nothing here logs or puts into exception messages the api key, phone numbers, coupon ids or response bodies.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import urllib3
from pydantic import ValidationError

from shared.adapters.gift_provider import IssueOutcome, IssueRequest, IssueResult
from shared.errors import ProviderRejected, ProviderUnavailable
from shared.models.items import GiftItem

logger = logging.getLogger(__name__)

# Connections are opened lazily; this only bounds how many idle ones are kept for reuse (the gift consumer
# calls the provider from up to PROVIDER_CONCURRENCY threads).
_POOL_MAXSIZE = 64
_USER_AGENT = "win-notifications/1.0"

_TRANSIENT_STATUSES = frozenset({408, 429})
_CREDENTIAL_STATUSES = frozenset({401, 403})
_RECIPIENT_NOT_FOUND_STATUSES = frozenset({404, 422})
_GIFT_UNAVAILABLE_STATUSES = frozenset({409, 410, 422})


class HttpGiftProvider:
    """GiftProvider over the B2B HTTP API described in the module docstring."""

    def __init__(
        self,
        endpoint: str,
        api_key: str,
        *,
        timeout_seconds: float = 5.0,
        http: urllib3.PoolManager | None = None,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("gift provider endpoint must be an absolute http(s) URL")
        if not api_key:
            raise ValueError("gift provider api key is empty")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._endpoint = endpoint.rstrip("/")
        self._api_key = api_key
        self._timeout = urllib3.Timeout(total=timeout_seconds)
        self._http = http or urllib3.PoolManager(maxsize=_POOL_MAXSIZE, retries=False, timeout=self._timeout)

    def __repr__(self) -> str:
        return f"HttpGiftProvider(endpoint={self._endpoint!r})"

    # -- GiftProvider ------------------------------------------------------------------------------------------

    def issue(self, request: IssueRequest) -> IssueResult:
        body = json.dumps(
            {"gift_id": request.gift_id, "phone": request.phone, "title": request.title, "message": request.content},
            ensure_ascii=False,
        ).encode("utf-8")
        status, payload = self._call(
            "POST", "/v1/coupons", body=body,
            extra_headers={"Idempotency-Key": request.idempotency_key, "Content-Type": "application/json"},
        )
        if status in (200, 201):
            return _issued(payload, status)
        code = _error_code(payload)
        if status in _CREDENTIAL_STATUSES:
            raise self._rejected("issue", status, code)
        if code == "RECIPIENT_NOT_FOUND" and status in _RECIPIENT_NOT_FOUND_STATUSES:
            return IssueResult(IssueOutcome.RECIPIENT_NOT_FOUND)
        if code == "GIFT_UNAVAILABLE" and status in _GIFT_UNAVAILABLE_STATUSES:
            return IssueResult(IssueOutcome.GIFT_UNAVAILABLE)
        if (
            status in _TRANSIENT_STATUSES
            or status >= 500
            or 200 <= status < 300
            or (status == 409 and code == "REQUEST_IN_PROGRESS")
        ):
            raise _unavailable("issue", status, code)
        raise self._rejected("issue", status, code)

    def catalog(self) -> list[GiftItem]:
        status, payload = self._call("GET", "/v1/catalog")
        if status in _CREDENTIAL_STATUSES:
            raise self._rejected("catalog", status, _error_code(payload))
        if status != 200:
            raise _unavailable("catalog", status, _error_code(payload))
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise _unavailable("catalog", status, None, "response has no items list")
        try:
            return [
                GiftItem(
                    gift_id=item["gift_id"], name=item["name"], brand=item["brand"], price=item["price"],
                    status=item["status"], position=position,
                )
                for position, item in enumerate(items, start=1)
            ]
        except (KeyError, TypeError, ValidationError) as exc:
            raise _unavailable("catalog", status, None, "malformed catalog item") from exc

    # -- HTTP ----------------------------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, body: bytes | None = None, extra_headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """One attempt. Returns (status, parsed JSON body or None when the body is empty or not JSON)."""
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
            **(extra_headers or {}),
        }
        try:
            response = self._http.request(
                method, f"{self._endpoint}{path}", body=body, headers=headers,
                timeout=self._timeout, retries=False, redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            # Timeouts, refused/reset connections, protocol errors. The message names only the error type:
            # urllib3's own messages are safe (no headers), but keep logs predictable.
            logger.warning("gift provider unreachable", extra={"operation": path, "error": type(exc).__name__})
            raise ProviderUnavailable(f"gift provider {method} {path}: {type(exc).__name__}") from exc
        return response.status, _parse_json(response.data)

    def _rejected(self, operation: str, status: int, code: str | None) -> ProviderRejected:
        logger.error("gift provider rejected the call", extra={"operation": operation, "status": status, "code": code})
        return ProviderRejected(f"gift provider {operation}: HTTP {status} {code or ''}".rstrip(), status=status,
                                code=code)


def _unavailable(operation: str, status: int, code: str | None, detail: str | None = None) -> ProviderUnavailable:
    logger.warning("gift provider unavailable",
                   extra={"operation": operation, "status": status, "code": code, "detail": detail})
    reason = detail or f"HTTP {status} {code or ''}".rstrip()
    return ProviderUnavailable(f"gift provider {operation}: {reason}")


def _parse_json(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None


def _error_code(payload: Any) -> str | None:
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, str) else None


def _issued(payload: Any, status: int) -> IssueResult:
    """A 2xx we cannot read may still have issued a coupon: report it as transient, so the caller's retry with
    the same idempotency key fetches the coupon instead of recording a failure."""
    if not isinstance(payload, dict):
        raise _unavailable("issue", status, None, "unreadable success body")
    coupon_id = payload.get("coupon_id")
    expires_on = payload.get("expires_on")
    if not isinstance(coupon_id, str) or not coupon_id or not isinstance(expires_on, str):
        raise _unavailable("issue", status, None, "success body lacks coupon_id or expires_on")
    try:
        expiry = date.fromisoformat(expires_on)
    except ValueError as exc:
        raise _unavailable("issue", status, None, "success body has a malformed expires_on") from exc
    return IssueResult(IssueOutcome.ISSUED, coupon_id=coupon_id, expires_on=expiry)
