"""The loopback HTTP server every provider fake runs on: a ThreadingHTTPServer on a chosen host and port (default
127.0.0.1 and a free port) in a background thread, a log of every request, the test controls, and the standalone
process.

A fake subclasses `LoopbackFake` and implements its protocol in ``answer`` (routing, its own kind of auth, its own
error bodies); ``answer`` is called with the fake's lock held, so it may change state freely. A `Reply` may hold its
answer back (``hang_seconds``) or lose it (``lost``: the work is done, the connection closes unanswered).

Test controls: ``respond_next`` scripts the raw response to the next request (state untouched); ``hang_next``
processes the next request normally but holds its response back (longer than a client timeout, or until stop);
``requests`` records every request received. ``limit_rate(n)`` makes the fake behave like a rate-limited provider:
past ``n`` requests in one wall-clock second it answers 429 with ``Retry-After: 1`` and does nothing; ``rate``
reports the limit, the requests answered 429 and the peak requests received in any one second (refused ones
included: what the provider saw). A fake started as its own process offers the controls it lists in
``controls`` over HTTP under ``/_fake/`` (CONTROL_PREFIX), only while it listens on a loopback address.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypedDict, Unpack, cast
from urllib.parse import urlsplit

CONTROL_PREFIX = "/_fake/"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # the request target, query included
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    hang_seconds: float = 0.0  # hold the answer this long (or until stop)
    lost: bool = False  # close the connection without answering
    headers: tuple[tuple[str, str], ...] = ()  # more response headers (e.g. a redirect's Location)


def json_reply(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def json_object(body: bytes) -> dict[str, Any] | None:
    """A request's JSON object (an empty body is ``{}``), or None when it is not one."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class Address(TypedDict, total=False):
    """Where a fake listens: ``host`` (default 127.0.0.1) and ``port`` (default 0, a free one)."""

    host: str
    port: int


Control = Callable[[dict[str, Any]], Reply]  # the control request's JSON object -> reply


class LoopbackFake:
    """Start with ``with Fake(...) as fake:``; ``fake.url`` is the endpoint."""

    thread_name = "loopback-fake"

    def __init__(self, **address: Unpack[Address]) -> None:
        self._address = (address.get("host", "127.0.0.1"), address.get("port", 0))
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripted: deque[Reply] = deque()
        self._hangs: deque[float] = deque()
        self._released = threading.Event()  # set on stop: lets held responses go
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._rate_limit: int | None = None
        self._per_second: Counter[int] = Counter()  # requests received per wall-clock second
        self._throttled = 0
        self.clock: Callable[[], float] = time.time  # the rate limit's seconds (tests fix it)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = _Server(self, self._address)
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

    def limit_rate(self, requests_per_second: int | None) -> None:
        """At most this many requests a second are served (None: no limit); the counts start again."""
        if requests_per_second is not None and requests_per_second < 1:
            raise ValueError("requests_per_second must be positive")
        with self._lock:
            self._rate_limit = requests_per_second
            self._per_second.clear()
            self._throttled = 0

    def rate(self) -> dict[str, Any]:
        """``{"limit", "peak" (most requests received in one second), "throttled" (answered 429), "requests"}``."""
        with self._lock:
            return {
                "limit": self._rate_limit,
                "peak": max(self._per_second.values(), default=0),
                "throttled": self._throttled,
                "requests": sum(self._per_second.values()),
            }

    # -- the protocol (a subclass's part) ----------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """The reply to a request no test scripted (called with the lock held)."""
        raise NotImplementedError

    def controls(self) -> dict[tuple[str, str], Control]:
        """(method, name under CONTROL_PREFIX) -> control; called without the lock."""
        return {}

    # -- request handling (called from the server's threads) ---------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        path = urlsplit(target).path
        if path.startswith(CONTROL_PREFIX) and self.serves_controls():
            return self._control(method, path.removeprefix(CONTROL_PREFIX), body)
        with self._lock:
            self._requests.append(RecordedRequest(method, target, headers, body))
            second = int(self.clock())
            self._per_second[second] += 1
            if self._rate_limit is not None and self._per_second[second] > self._rate_limit:
                self._throttled += 1
                return dataclasses.replace(_TOO_MANY, headers=(("Retry-After", "1"),))
            hang = self._hangs.popleft() if self._hangs else 0.0
            reply = self._scripted.popleft() if self._scripted else self.answer(method, target, headers, body)
        return dataclasses.replace(reply, hang_seconds=max(hang, reply.hang_seconds)) if hang else reply

    def serves_controls(self) -> bool:
        return self._server is not None and str(self._server.server_address[0]) in _LOOPBACK

    def wait_released(self, seconds: float) -> None:
        self._released.wait(seconds)

    def _control(self, method: str, name: str, body: bytes) -> Reply:
        control = ({("GET", "rate"): self._rate_control, ("POST", "rate"): self._limit_control} | self.controls()).get(
            (method, name)
        )
        if control is None:
            return control_error(404, "no such control")
        request = json_object(body)
        return control(request) if request is not None else control_error(400, "the body must be a JSON object")

    def _rate_control(self, request: dict[str, Any]) -> Reply:
        return json_reply(200, self.rate())

    def _limit_control(self, request: dict[str, Any]) -> Reply:
        limit = request.get("requests_per_second")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            return control_error(400, "requests_per_second: a positive int, or null")
        self.limit_rate(limit)
        return json_reply(200, self.rate())


_TOO_MANY = json_reply(429, {"code": "429", "errorCode": "TooManyRequests", "message": "too many requests"})


def control_error(status: int, message: str) -> Reply:
    return json_reply(status, {"error": message})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: LoopbackFake, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients' connection pools expect
    timeout = 30  # idle keep-alive connections are dropped eventually
    # Headers and body are two writes: with Nagle's algorithm the body waits for the client's delayed ACK, 40 ms
    # a request on Linux, which a provider's own server does not add.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _serve(self) -> None:
        fake = cast(_Server, self.server).fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = fake.handle(self.command, self.path, headers, body)
        if reply.lost:
            self.close_connection = True
            self.connection.close()
            return
        if reply.hang_seconds:
            fake.wait_released(reply.hang_seconds)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timed out) meanwhile


# -- a fake as its own process ---------------------------------------------------------------------------------


def standalone_arguments(description: str | None) -> argparse.ArgumentParser:
    """The arguments every fake's ``python -m`` takes: ``--host``, ``--port`` (0: a free one)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--requests-per-second", type=int, default=None, help="answer 429 past this many a second")
    return parser


def serve_standalone(fake: LoopbackFake) -> None:
    """Prints the fake's URL once it listens (a launcher reads that line) and serves until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with fake:
        print(fake.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
