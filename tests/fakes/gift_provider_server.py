"""A fake B2B gifticon API on 127.0.0.1: the wire protocol of shared.adapters.http_gift_provider, with the
contract's sandbox rules, served by a real ThreadingHTTPServer in a background thread.

Sandbox rules (by the phone's last four digits, as SandboxGiftProvider):
    unknown gift -> 422 GIFT_UNAVAILABLE; DISCONTINUED gift -> 410 GIFT_UNAVAILABLE
    ...0000 -> 404 RECIPIENT_NOT_FOUND
    ...9999 -> 503 on every call
    ...8888 -> 503 on the first two calls per Idempotency-Key, then success
    otherwise -> 201 with a new coupon; the same Idempotency-Key again -> 200 with the same coupon (issued once);
                 the same key with a different gift or phone -> 409 IDEMPOTENCY_KEY_REUSED
A missing or wrong ``Authorization: Bearer <api_key>`` -> 401 UNAUTHORIZED.

Test controls: ``respond_next`` scripts the raw response to the next request (state untouched); ``hang_next``
processes the next request normally but holds its response back (longer than a client timeout); ``requests``
records every request received.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

from shared.adapters.gift_provider import SANDBOX_CATALOG
from shared.clock import gifticon_expiry, utc_now

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def default_catalog() -> list[dict[str, Any]]:
    return [
        {"gift_id": g.gift_id, "name": g.name, "brand": g.brand, "price": g.price, "status": g.status}
        for g in SANDBOX_CATALOG
    ]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Coupon:
    coupon_id: str
    expires_on: date
    fingerprint: tuple[str, str]  # (gift_id, phone) the key was first used with


@dataclass
class _Reply:
    status: int
    body: bytes
    hang_seconds: float = 0.0


@dataclass
class _State:
    catalog: list[dict[str, Any]] = field(default_factory=default_catalog)
    calls: dict[str, int] = field(default_factory=dict)  # POST /v1/coupons calls per Idempotency-Key
    coupons: dict[str, Coupon] = field(default_factory=dict)
    issue_count: int = 0  # coupons actually created (replays excluded)
    requests: list[RecordedRequest] = field(default_factory=list)
    scripted: deque[_Reply] = field(default_factory=deque)
    hangs: deque[float] = field(default_factory=deque)


class FakeGiftProviderServer:
    """Start with ``with FakeGiftProviderServer(api_key) as server:``; ``server.url`` is the endpoint."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._state = _State()
        self._released = threading.Event()  # set on stop: lets held responses go
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-gift-provider", daemon=True
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
        """The next request gets exactly this response (JSON-encoded ``body``, or ``raw`` bytes)."""
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        with self._lock:
            self._state.scripted.append(_Reply(status, payload))

    def hang_next(self, seconds: float) -> None:
        """The next request is processed, but its response is held for ``seconds`` (or until stop)."""
        with self._lock:
            self._state.hangs.append(seconds)

    def set_catalog(self, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self._state.catalog = items

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    @property
    def issue_count(self) -> int:
        with self._lock:
            return self._state.issue_count

    def coupon_for(self, idempotency_key: str) -> Coupon | None:
        with self._lock:
            return self._state.coupons.get(idempotency_key)

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
        if path == "/v1/catalog":
            return _json(200, {"items": self._state.catalog}) if method == "GET" else _error(405, "METHOD_NOT_ALLOWED")
        if path == "/v1/coupons":
            return self._issue(headers, body) if method == "POST" else _error(405, "METHOD_NOT_ALLOWED")
        return _error(404, "NOT_FOUND", "no such resource")

    def _issue(self, headers: dict[str, str], body: bytes) -> _Reply:
        key = headers.get("idempotency-key")
        if not key:
            return _error(400, "IDEMPOTENCY_KEY_REQUIRED")
        if not (headers.get("content-type") or "").startswith("application/json"):
            return _error(415, "UNSUPPORTED_MEDIA_TYPE")
        try:
            request = json.loads(body)
        except ValueError:
            return _error(400, "VALIDATION_ERROR", "body is not JSON")
        fields = ("gift_id", "phone", "title", "message")
        if not isinstance(request, dict) or not all(isinstance(request.get(f), str) for f in fields):
            return _error(400, "VALIDATION_ERROR", "gift_id, phone, title and message are required")
        gift_id, phone = request["gift_id"], request["phone"]
        if not _E164.match(phone):
            return _error(400, "VALIDATION_ERROR", "phone must be E.164")

        existing = self._state.coupons.get(key)
        if existing is not None:
            if existing.fingerprint != (gift_id, phone):
                return _error(409, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key was used with another request")
            return _coupon(200, existing)

        gift = next((g for g in self._state.catalog if g.get("gift_id") == gift_id), None)
        if gift is None:
            return _error(422, "GIFT_UNAVAILABLE", "unknown gift")
        if gift.get("status") != "ON_SALE":
            return _error(410, "GIFT_UNAVAILABLE", "gift discontinued")
        if phone.endswith("0000"):
            return _error(404, "RECIPIENT_NOT_FOUND", "no subscriber for this number")
        calls = self._state.calls[key] = self._state.calls.get(key, 0) + 1
        if phone.endswith("9999") or (phone.endswith("8888") and calls <= 2):
            return _error(503, "SERVICE_UNAVAILABLE", "try again later")

        self._state.issue_count += 1
        coupon = Coupon(
            coupon_id=f"CPN-{secrets.token_hex(8).upper()}",
            expires_on=gifticon_expiry(utc_now()),
            fingerprint=(gift_id, phone),
        )
        self._state.coupons[key] = coupon
        return _coupon(201, coupon)


def _json(status: int, payload: Any) -> _Reply:
    return _Reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _error(status: int, code: str, message: str = "") -> _Reply:
    return _json(status, {"code": code, "message": message or code})


def _coupon(status: int, coupon: Coupon) -> _Reply:
    return _json(status, {"coupon_id": coupon.coupon_id, "expires_on": coupon.expires_on.isoformat()})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeGiftProviderServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    timeout = 30  # idle keep-alive connections are dropped eventually

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
            self.close_connection = True  # the client gave up (timed out) meanwhile
