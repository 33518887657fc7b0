"""A fake Korean SMS/LMS gateway on 127.0.0.1: the wire protocol of shared.adapters.http_sms_gateway, with the
contract's sandbox rules, served by tests.fakes.base.

Sandbox rules (by the phone's last four digits, as SandboxNotificationSender):
    ...0000 -> 404 RECIPIENT_NOT_FOUND
    ...9999 -> 503 on every call
    ...8888 -> 503 on the first two calls per Idempotency-Key, then delivered
    otherwise -> 201 with a new message id; the same Idempotency-Key again -> 200 with the same id (delivered once);
                 the same key with a different message -> 409 IDEMPOTENCY_KEY_REUSED
Requests are checked like a real gateway would: ``type`` SMS (text <= 90 EUC-KR bytes, no subject) or LMS (text
<= 2,000 bytes, subject <= 40 bytes), ``to`` in E.164, ``text`` non-empty; otherwise 400 VALIDATION_ERROR.
A missing or wrong ``Authorization: Bearer <api_key>`` -> 401 UNAUTHORIZED.

Test controls (tests.fakes.base): ``respond_next``, ``hang_next``, ``requests``; here also ``delivered`` (the
messages actually delivered) and ``message_for``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from tests.fakes.base import E164, FakeJsonServer, Reply, RouteHandler, error_reply, idempotent_json, json_reply

_LIMITS = {"SMS": 90, "LMS": 2_000}
_SUBJECT_MAX_BYTES = 40


@dataclass(frozen=True)
class DeliveredMessage:
    message_id: str
    idempotency_key: str
    type: str
    to: str
    text: str
    subject: str | None
    sender: str | None

    @property
    def fingerprint(self) -> tuple[str, str, str, str | None, str | None]:
        return (self.type, self.to, self.text, self.subject, self.sender)


class FakeSmsGatewayServer(FakeJsonServer):
    """Start with ``with FakeSmsGatewayServer(api_key) as server:``; ``server.url`` is the endpoint."""

    thread_name = "fake-sms-gateway"

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self._by_key: dict[str, DeliveredMessage] = {}
        self._delivered: list[DeliveredMessage] = []

    @property
    def delivered(self) -> list[DeliveredMessage]:
        with self._lock:
            return list(self._delivered)

    def message_for(self, idempotency_key: str) -> DeliveredMessage | None:
        with self._lock:
            return self._by_key.get(idempotency_key)

    def routes(self) -> dict[str, dict[str, RouteHandler]]:
        return {"/v1/messages": {"POST": self._send}}

    def _send(self, headers: dict[str, str], body: bytes) -> Reply:
        parsed = idempotent_json(headers, body)
        if isinstance(parsed, Reply):
            return parsed
        key, request = parsed
        problem = _invalid(request)
        if problem:
            return error_reply(400, "VALIDATION_ERROR", problem)
        candidate = DeliveredMessage(
            message_id=f"MSG-{secrets.token_hex(8).upper()}",
            idempotency_key=key,
            type=request["type"],
            to=request["to"],
            text=request["text"],
            subject=request.get("subject"),
            sender=request.get("from"),
        )

        existing = self._by_key.get(key)
        if existing is not None:
            if existing.fingerprint != candidate.fingerprint:
                return error_reply(409, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key was used with another message")
            return json_reply(200, {"message_id": existing.message_id})

        refusal = self.sandbox_refusal(key, candidate.to)
        if refusal is not None:
            return refusal

        self._by_key[key] = candidate
        self._delivered.append(candidate)
        return json_reply(201, {"message_id": candidate.message_id})


def _invalid(request: Any) -> str | None:
    if not isinstance(request, dict):
        return "body must be an object"
    kind, to, text = request.get("type"), request.get("to"), request.get("text")
    subject, sender = request.get("subject"), request.get("from")
    if kind not in _LIMITS:
        return "type must be SMS or LMS"
    if not isinstance(to, str) or not E164.match(to):
        return "to must be E.164"
    if not isinstance(text, str) or not text:
        return "text is required"
    if sender is not None and not isinstance(sender, str):
        return "from must be a string"
    try:
        if len(text.encode("euc-kr")) > _LIMITS[kind]:
            return f"text is longer than {_LIMITS[kind]} bytes"
        if subject is not None:
            if kind == "SMS":
                return "an SMS has no subject"
            if not isinstance(subject, str) or len(subject.encode("euc-kr")) > _SUBJECT_MAX_BYTES:
                return f"subject must be a string of at most {_SUBJECT_MAX_BYTES} bytes"
    except UnicodeEncodeError:
        return "text must be encodable in EUC-KR"
    return None
