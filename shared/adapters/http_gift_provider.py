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

from datetime import date
from typing import Any

import urllib3
from pydantic import ValidationError

from shared.adapters.gift_provider import IssueOutcome, IssueRequest, IssueResult
from shared.adapters.http_json import CREDENTIAL_STATUSES, JsonApi, error_code
from shared.models.items import GiftItem

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
        self._api = JsonApi("gift provider", endpoint, api_key, timeout_seconds=timeout_seconds, http=http)

    def __repr__(self) -> str:
        return f"HttpGiftProvider(endpoint={self._api.endpoint!r})"

    def issue(self, request: IssueRequest) -> IssueResult:
        status, payload = self._api.call(
            "POST",
            "/v1/coupons",
            idempotency_key=request.idempotency_key,
            payload={
                "gift_id": request.gift_id,
                "phone": request.phone,
                "title": request.title,
                "message": request.content,
            },
        )
        if status in (200, 201):
            return self._issued(payload, status)
        code = error_code(payload)
        if code == "RECIPIENT_NOT_FOUND" and status in _RECIPIENT_NOT_FOUND_STATUSES:
            return IssueResult(IssueOutcome.RECIPIENT_NOT_FOUND)
        if code == "GIFT_UNAVAILABLE" and status in _GIFT_UNAVAILABLE_STATUSES:
            return IssueResult(IssueOutcome.GIFT_UNAVAILABLE)
        raise self._api.failure("issue", status, code)

    def catalog(self) -> list[GiftItem]:
        status, payload = self._api.call("GET", "/v1/catalog")
        if status in CREDENTIAL_STATUSES:
            raise self._api.rejected("catalog", status, error_code(payload))
        if status != 200:
            raise self._api.unavailable("catalog", status, error_code(payload))
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise self._api.unavailable("catalog", status, None, "response has no items list")
        try:
            return [
                GiftItem(
                    gift_id=item["gift_id"],
                    name=item["name"],
                    brand=item["brand"],
                    price=item["price"],
                    status=item["status"],
                    position=position,
                )
                for position, item in enumerate(items, start=1)
            ]
        except (KeyError, TypeError, ValidationError) as exc:
            raise self._api.unavailable("catalog", status, None, "malformed catalog item") from exc

    def _issued(self, payload: Any, status: int) -> IssueResult:
        """A 2xx we cannot read may still have issued a coupon: report it as transient, so the caller's retry
        with the same idempotency key fetches the coupon instead of recording a failure."""
        if not isinstance(payload, dict):
            raise self._api.unavailable("issue", status, None, "unreadable success body")
        coupon_id = payload.get("coupon_id")
        expires_on = payload.get("expires_on")
        if not isinstance(coupon_id, str) or not coupon_id or not isinstance(expires_on, str):
            raise self._api.unavailable("issue", status, None, "success body lacks coupon_id or expires_on")
        try:
            expiry = date.fromisoformat(expires_on)
        except ValueError as exc:
            raise self._api.unavailable("issue", status, None, "success body has a malformed expires_on") from exc
        return IssueResult(IssueOutcome.ISSUED, coupon_id=coupon_id, expires_on=expiry)
