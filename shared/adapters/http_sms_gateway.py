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

import json
import logging
from typing import Any
from urllib.parse import urlsplit

import urllib3

from shared.adapters.notification_delivery import DeliveryOutcome, DeliveryResult, NotificationMessage
from shared.errors import ProviderRejected, ProviderUnavailable

logger = logging.getLogger(__name__)

_POOL_MAXSIZE = 64
_USER_AGENT = "win-notifications/1.0"

_TRANSIENT_STATUSES = frozenset({408, 429})
_CREDENTIAL_STATUSES = frozenset({401, 403})
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
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("SMS gateway endpoint must be an absolute http(s) URL")
        if not api_key:
            raise ValueError("SMS gateway api key is empty")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._endpoint = endpoint.rstrip("/")
        self._api_key = api_key
        self._sender = sender or None
        self._timeout = urllib3.Timeout(total=timeout_seconds)
        self._http = http or urllib3.PoolManager(maxsize=_POOL_MAXSIZE, retries=False, timeout=self._timeout)

    def __repr__(self) -> str:
        return f"HttpSmsGateway(endpoint={self._endpoint!r})"

    def send(self, message: NotificationMessage) -> DeliveryResult:
        message_type = _MESSAGE_TYPES.get(message.channel)
        if message_type is None:
            raise ValueError(f"HttpSmsGateway sends sms and lms, not {message.channel}")
        payload: dict[str, str] = {"type": message_type, "to": message.destination, "text": message.body}
        if self._sender:
            payload["from"] = self._sender
        if message_type == "LMS" and message.title:
            payload["subject"] = message.title
        status, answer = self._post(
            "/v1/messages", json.dumps(payload, ensure_ascii=False).encode("utf-8"), message.idempotency_key
        )
        if status in (200, 201):
            return _delivered(answer, status)
        code = _error_code(answer)
        if status in _CREDENTIAL_STATUSES:
            raise self._rejected(status, code)
        if code == "RECIPIENT_NOT_FOUND" and status in _RECIPIENT_NOT_FOUND_STATUSES:
            return DeliveryResult(DeliveryOutcome.RECIPIENT_NOT_FOUND)
        if (
            status in _TRANSIENT_STATUSES
            or status >= 500
            or 200 <= status < 300
            or (status == 409 and code == "REQUEST_IN_PROGRESS")
        ):
            raise _unavailable(status, code)
        raise self._rejected(status, code)

    def _post(self, path: str, body: bytes, idempotency_key: str) -> tuple[int, Any]:
        """One attempt. Returns (status, parsed JSON body or None when the body is empty or not JSON)."""
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "User-Agent": _USER_AGENT,
        }
        try:
            response = self._http.request(
                "POST", f"{self._endpoint}{path}", body=body, headers=headers,
                timeout=self._timeout, retries=False, redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            logger.warning("SMS gateway unreachable", extra={"operation": path, "error": type(exc).__name__})
            raise ProviderUnavailable(f"SMS gateway POST {path}: {type(exc).__name__}") from exc
        return response.status, _parse_json(response.data)

    def _rejected(self, status: int, code: str | None) -> ProviderRejected:
        logger.error("SMS gateway rejected the call", extra={"operation": "send", "status": status, "code": code})
        return ProviderRejected(f"SMS gateway send: HTTP {status} {code or ''}".rstrip(), status=status, code=code)


def _unavailable(status: int, code: str | None, detail: str | None = None) -> ProviderUnavailable:
    logger.warning("SMS gateway unavailable",
                   extra={"operation": "send", "status": status, "code": code, "detail": detail})
    reason = detail or f"HTTP {status} {code or ''}".rstrip()
    return ProviderUnavailable(f"SMS gateway send: {reason}")


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


def _delivered(payload: Any, status: int) -> DeliveryResult:
    """A 2xx we cannot read may still have been accepted: report it as transient, so the caller's retry with the
    same idempotency key gets the gateway's answer instead of recording a failure (and never sends twice)."""
    message_id = payload.get("message_id") if isinstance(payload, dict) else None
    if not isinstance(message_id, str) or not message_id:
        raise _unavailable(status, None, "success body lacks message_id")
    return DeliveryResult(DeliveryOutcome.DELIVERED, message_id)
