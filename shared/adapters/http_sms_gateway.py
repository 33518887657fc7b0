"""The notification port over a Korean SMS/LMS messaging gateway's HTTP API (urllib3, no retries of its own).

AWS SMS has no LMS; real LMS to Korean carriers (a subject and up to 2,000 EUC-KR bytes delivered as one message)
goes through a domestic gateway with this typical shape (JSON over HTTPS; UTF-8; every request carries
``Authorization: Bearer <api_key>``)::

    POST {endpoint}/v1/messages
        Idempotency-Key: <message.idempotency_key>
        Content-Type: application/json
        {"type": "SMS" | "LMS", "to": "+8210...", "from": "<registered sender number>"?,
         "subject": "..."? (LMS only), "text": "..."}                       (to in E.164)

        200 / 201  {"message_id": "..."}                                 -> DELIVERED (200 = replay of the same key)
        404 / 422  {"code": "RECIPIENT_NOT_FOUND", ...}                  -> RECIPIENT_NOT_FOUND
        409  {"code": "REQUEST_IN_PROGRESS", ...}  (same key in flight)   -> ProviderUnavailable
        408, 429, 5xx, any other 2xx, an unreadable body,
        connection errors and timeouts                                    -> ProviderUnavailable
        401 / 403 (bad or revoked credentials, unregistered sender)       -> ProviderRejected
        any other status (3xx, 400, 404/422 without RECIPIENT_NOT_FOUND, 409 IDEMPOTENCY_KEY_REUSED, ...)
                                                                          -> ProviderRejected

Error bodies are ``{"code": "...", "message": "..."}``; only ``code`` is read.

The gateway delivers at most one message per Idempotency-Key and answers a repeated key with the same message id,
so a ProviderUnavailable after the request may have reached it (timeout, 5xx, garbled 2xx) is safe to retry with
the same key. Retrying is the caller's job: this adapter makes exactly one HTTP attempt per call (urllib3
``retries=False``, redirects not followed). Korean law requires the ``from`` number to be pre-registered with the
gateway; without ``sender`` the gateway's default number is used.

Nothing here logs or puts into exception messages the api key, phone numbers, message text or response bodies.
"""

from __future__ import annotations

from typing import Any

import urllib3

from shared.adapters.http_json import JsonApi, error_code
from shared.adapters.notification_delivery import DeliveryOutcome, DeliveryResult, NotificationMessage

_RECIPIENT_NOT_FOUND_STATUSES = frozenset({404, 422})
_MESSAGE_TYPES = {"sms": "SMS", "lms": "LMS"}


class HttpSmsGateway:
    """NotificationSender (sms and lms) over the gateway API described in the module docstring."""

    def __init__(
        self,
        endpoint: str,
        api_key: str,
        *,
        sender: str | None = None,
        timeout_seconds: float = 5.0,
        http: urllib3.PoolManager | None = None,
    ) -> None:
        self._api = JsonApi("SMS gateway", endpoint, api_key, timeout_seconds=timeout_seconds, http=http)
        self._sender = sender or None

    def __repr__(self) -> str:
        return f"HttpSmsGateway(endpoint={self._api.endpoint!r})"

    def send(self, message: NotificationMessage) -> DeliveryResult:
        message_type = _MESSAGE_TYPES.get(message.channel)
        if message_type is None:
            raise ValueError(f"HttpSmsGateway sends sms and lms, not {message.channel}")
        payload: dict[str, str] = {"type": message_type, "to": message.destination, "text": message.body}
        if self._sender:
            payload["from"] = self._sender
        if message_type == "LMS" and message.title:
            payload["subject"] = message.title
        status, answer = self._api.call(
            "POST", "/v1/messages", payload=payload, idempotency_key=message.idempotency_key
        )
        if status in (200, 201):
            return self._delivered(answer, status)
        code = error_code(answer)
        if code == "RECIPIENT_NOT_FOUND" and status in _RECIPIENT_NOT_FOUND_STATUSES:
            return DeliveryResult(DeliveryOutcome.RECIPIENT_NOT_FOUND)
        raise self._api.failure("send", status, code)

    def _delivered(self, payload: Any, status: int) -> DeliveryResult:
        """A 2xx we cannot read may still have been accepted: report it as transient, so the caller's retry with
        the same idempotency key gets the gateway's answer instead of recording a failure (and never sends twice)."""
        message_id = payload.get("message_id") if isinstance(payload, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise self._api.unavailable("send", status, None, "success body lacks message_id")
        return DeliveryResult(DeliveryOutcome.DELIVERED, message_id)
