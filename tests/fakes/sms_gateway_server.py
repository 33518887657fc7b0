"""A fake Korean SMS/LMS gateway on 127.0.0.1: the wire protocol of shared.adapters.http_sms_gateway, with the
contract's sandbox rules, served by a real ThreadingHTTPServer in a background thread.

Sandbox rules (by the phone's last four digits, as SandboxNotificationSender):
    ...0000 -> 404 RECIPIENT_NOT_FOUND
    ...9999 -> 503 on every call
    ...8888 -> 503 on the first two calls per Idempotency-Key, then delivered
    otherwise -> 201 with a new message id; the same Idempotency-Key again -> 200 with the same id (delivered once);
                 the same key with a different message -> 409 IDEMPOTENCY_KEY_REUSED
Requests are checked like a real gateway would: ``type`` SMS (text <= 90 EUC-KR bytes, no subject) or LMS (text
<= 2,000 bytes, subject <= 40 bytes), ``to`` in E.164, ``text`` non-empty; otherwise 400 VALIDATION_ERROR.
A missing or wrong ``Authorization: Bearer <api_key>`` -> 401 UNAUTHORIZED.

Test controls: ``respond_next`` scripts the raw response to the next request (state untouched); ``hang_next``
processes the next request normally but holds its response back (longer than a client timeout); ``requests``
records every request received; ``delivered`` lists the messages actually delivered.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

from tests.fakes.gift_provider_server import RecordedRequest

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
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


@dataclass
class _Reply:
    status: int
    body: bytes
    hang_seconds: float = 0.0


@dataclass
class _State:
    calls: dict[str, int] = field(default_factory=dict)  # POST /v1/messages calls per Idempotency-Key
    by_key: dict[str, DeliveredMessage] = field(default_factory=dict)
    delivered: list[DeliveredMessage] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    scripted: deque[_Reply] = field(default_factory=deque)
    hangs: deque[float] = field(default_factory=deque)


class FakeSmsGatewayServer:
    """Start with ``with FakeSmsGatewayServer(api_key) as server:``; ``server.url`` is the endpoint."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._state = _State()
        self._released = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-sms-gateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- test controls and inspection --------------------------------------------------------------------------

    def respond_next(self, status: int, body: Any = None, *, raw: bytes | None = None) -> None:
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        with self._lock:
            self._state.scripted.append(_Reply(status, payload))

    def hang_next(self, seconds: float) -> None:
        with self._lock:
            self._state.hangs.append(seconds)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    @property
    def delivered(self) -> list[DeliveredMessage]:
        with self._lock:
            return list(self._state.delivered)

    def message_for(self, idempotency_key: str) -> DeliveredMessage | None:
        with self._lock:
            return self._state.by_key.get(idempotency_key)

    def calls_for(self, idempotency_key: str) -> int:
        with self._lock:
            return self._state.calls.get(idempotency_key, 0)

    # -- request handling (called from the server's threads) ---------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Reply:
        with self._lock:
            self._state.requests.append(RecordedRequest(method, path, headers, body))
            hang = self._state.hangs.popleft() if self._state.hangs else 0.0
            scripted = self._state.scripted.popleft() if self._state.scripted else None
            reply = scripted or self._route(method, path, headers, body)
        reply.hang_seconds = hang
        return reply

    def wait_released(self, seconds: float) -> None:
        self._released.wait(seconds)

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Reply:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "UNAUTHORIZED", "missing or invalid API key")
        if path == "/v1/messages":
            return self._send(headers, body) if method == "POST" else _error(405, "METHOD_NOT_ALLOWED")
        return _error(404, "NOT_FOUND", "no such resource")

    def _send(self, headers: dict[str, str], body: bytes) -> _Reply:
        key = headers.get("idempotency-key")
        if not key:
            return _error(400, "IDEMPOTENCY_KEY_REQUIRED")
        if not (headers.get("content-type") or "").startswith("application/json"):
            return _error(415, "UNSUPPORTED_MEDIA_TYPE")
        try:
            request = json.loads(body)
        except ValueError:
            return _error(400, "VALIDATION_ERROR", "body is not JSON")
        problem = _invalid(request)
        if problem:
            return _error(400, "VALIDATION_ERROR", problem)
        candidate = DeliveredMessage(
            message_id=f"MSG-{secrets.token_hex(8).upper()}", idempotency_key=key, type=request["type"],
            to=request["to"], text=request["text"], subject=request.get("subject"), sender=request.get("from"),
        )

        existing = self._state.by_key.get(key)
        if existing is not None:
            if existing.fingerprint != candidate.fingerprint:
                return _error(409, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key was used with another message")
            return _json(200, {"message_id": existing.message_id})

        if candidate.to.endswith("0000"):
            return _error(404, "RECIPIENT_NOT_FOUND", "no subscriber for this number")
        calls = self._state.calls[key] = self._state.calls.get(key, 0) + 1
        if candidate.to.endswith("9999") or (candidate.to.endswith("8888") and calls <= 2):
            return _error(503, "SERVICE_UNAVAILABLE", "try again later")

        self._state.by_key[key] = candidate
        self._state.delivered.append(candidate)
        return _json(201, {"message_id": candidate.message_id})


def _invalid(request: Any) -> str | None:
    if not isinstance(request, dict):
        return "body must be an object"
    kind, to, text = request.get("type"), request.get("to"), request.get("text")
    subject, sender = request.get("subject"), request.get("from")
    if kind not in _LIMITS:
        return "type must be SMS or LMS"
    if not isinstance(to, str) or not _E164.match(to):
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


def _json(status: int, payload: Any) -> _Reply:
    return _Reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _error(status: int, code: str, message: str = "") -> _Reply:
    return _json(status, {"code": code, "message": message or code})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeSmsGatewayServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _serve(self) -> None:
        fake = cast(_Server, self.server).fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = fake.handle(self.command, self.path, headers, body)
        if reply.hang_seconds:
            fake.wait_released(reply.hang_seconds)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
