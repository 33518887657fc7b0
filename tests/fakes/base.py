"""What every fake provider server shares: a real ThreadingHTTPServer on 127.0.0.1 (a free port) in a background
thread, JSON in and out, a log of every request, bearer-key checking, and the test controls.

A fake subclasses `FakeJsonServer` and lists its `routes`: path -> method -> handler. A handler answers an
authorised request that no test scripted; it is called with the fake's lock held, so it may change state freely.
An unknown path is a 404 NOT_FOUND, another method a 405 METHOD_NOT_ALLOWED.

Test controls: ``respond_next`` scripts the raw response to the next request (state untouched); ``hang_next``
processes the next request normally but holds its response back (longer than a client timeout, or until stop);
``requests`` records every request received. A fake started as its own process offers some of them over HTTP under
``/_fake/`` (see CONTROL_PREFIX).
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


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


@dataclass
class Reply:
    status: int
    body: bytes
    hang_seconds: float = 0.0


def json_reply(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def error_reply(status: int, code: str, message: str = "") -> Reply:
    """The providers' error body: ``{"code", "message"}``."""
    return json_reply(status, {"code": code, "message": message or code})


def idempotent_json(headers: dict[str, str], body: bytes) -> tuple[str, Any] | Reply:
    """(Idempotency-Key, JSON body) of a request, or what a provider answers instead: 400 without the key,
    415 for another media type, 400 for a body that is not JSON."""
    key = headers.get("idempotency-key")
    if not key:
        return error_reply(400, "IDEMPOTENCY_KEY_REQUIRED")
    if not (headers.get("content-type") or "").startswith("application/json"):
        return error_reply(415, "UNSUPPORTED_MEDIA_TYPE")
    try:
        return key, json.loads(body)
    except ValueError:
        return error_reply(400, "VALIDATION_ERROR", "body is not JSON")


RouteHandler = Callable[[dict[str, str], bytes], Reply]  # (lower-cased headers, body) -> reply

# Test controls of a fake running as its own process (an e2e run): paths under this prefix, no provider auth, served
# only while the fake listens on a loopback address.
CONTROL_PREFIX = "/_fake/"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def serves_controls(server: ThreadingHTTPServer | None) -> bool:
    return server is not None and str(server.server_address[0]) in _LOOPBACK


def control_json(body: bytes) -> dict[str, Any] | None:
    """A control request's JSON object (an empty body is ``{}``), or None when it is not one."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class FakeJsonServer:
    """Start with ``with Fake(api_key) as server:``; ``server.url`` is the endpoint."""

    thread_name = "fake-json-server"

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripted: deque[Reply] = deque()
        self._hangs: deque[float] = deque()
        self._released = threading.Event()  # set on stop: lets held responses go
        self._calls: dict[str, int] = {}  # sandbox-ruled calls per Idempotency-Key
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
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
            self._scripted.append(Reply(status, payload))

    def hang_next(self, seconds: float) -> None:
        """The next request is processed, but its response is held for ``seconds`` (or until stop)."""
        with self._lock:
            self._hangs.append(seconds)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def calls_for(self, idempotency_key: str) -> int:
        with self._lock:
            return self._calls.get(idempotency_key, 0)

    # -- request handling (called from the server's threads) ---------------------------------------------------

    def routes(self) -> dict[str, dict[str, RouteHandler]]:
        raise NotImplementedError

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        by_method = self.routes().get(path)
        if by_method is None:
            return error_reply(404, "NOT_FOUND", "no such resource")
        handler = by_method.get(method)
        return handler(headers, body) if handler else error_reply(405, "METHOD_NOT_ALLOWED")

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            self._requests.append(RecordedRequest(method, path, headers, body))
            hang = self._hangs.popleft() if self._hangs else 0.0
            if self._scripted:
                reply = self._scripted.popleft()
            elif headers.get("authorization") != f"Bearer {self.api_key}":
                reply = error_reply(401, "UNAUTHORIZED", "missing or invalid API key")
            else:
                reply = self._route(method, path, headers, body)
        reply.hang_seconds = hang
        return reply

    def wait_released(self, seconds: float) -> None:
        self._released.wait(seconds)

    def sandbox_refusal(self, idempotency_key: str, phone: str) -> Reply | None:
        """The contract's sandbox rules by the phone's last four digits (call with the lock held): ...0000 is
        404 RECIPIENT_NOT_FOUND; ...9999 is 503 on every call; ...8888 is 503 on the first two calls per key."""
        if phone.endswith("0000"):
            return error_reply(404, "RECIPIENT_NOT_FOUND", "no subscriber for this number")
        calls = self._calls[idempotency_key] = self._calls.get(idempotency_key, 0) + 1
        if phone.endswith("9999") or (phone.endswith("8888") and calls <= 2):
            return error_reply(503, "SERVICE_UNAVAILABLE", "try again later")
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeJsonServer) -> None:
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
