"""One webhook POST: the URL's host resolved once, every address checked (shared.domain.webhooks.webhook_urls), the
connection made to the checked address itself (no second lookup a DNS rebinding could change), signed with the
``standardwebhooks`` library, within one deadline, no redirect followed, at most a few KB of the answer read.

It never raises for what the receiver or the network does: the outcome is a `PostResult`. It logs the host and
the outcome only, never the secret, the body or the addresses."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import urllib3
from standardwebhooks import Webhook
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util.ssl_match_hostname import CertificateError

from shared.domain.webhooks.webhook_urls import Address, address_refusal

logger = logging.getLogger(__name__)

USER_AGENT = "win-notifications-webhooks/1"

Resolver = Callable[[str, int], list[str]]  # (host, port) -> addresses as text
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to for a TCP connection, in the system resolver's order, once each."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class PostResult:
    status_code: int | None  # None: no HTTP answer (refused before connecting, timed out, connection failed)
    error: str | None  # a short reason when it did not succeed

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # as in the URL, lower-case, without brackets
    port: int
    request_target: str  # path and query
    host_header: str


class _Refused(Exception):
    """The delivery is refused before any connection; the message is the PostResult's error."""


class WebhookPoster:
    def __init__(
        self,
        *,
        production: bool,
        resolver: Resolver = resolve_host,
        timeout_seconds: float = 10.0,
        max_body_bytes: int = 4096,
        ca_certs: str | None = None,
        loopback_only: bool = False,
    ) -> None:
        self._production = production
        # A stack that must never reach the outside (the local one): only 127.0.0.1 / localhost, refused before
        # any lookup, so not even a DNS query leaves the machine.
        self._loopback_only = loopback_only
        self._resolver = resolver
        self._timeout = timeout_seconds
        self._max_body_bytes = max_body_bytes
        self._ca_certs = ca_certs

    def post(self, url: str, secret: str, message_id: str, body: str, now: datetime) -> PostResult:
        """POSTs ``body`` signed for ``message_id`` at ``now`` (the attempt's time)."""
        try:
            target = self._target(url)
            addresses = self._checked_addresses(target)
        except _Refused as refused:
            return self._outcome(urlsplit(url).hostname or "", PostResult(None, str(refused)))
        moment = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
        headers = {
            "host": target.host_header,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            # the library reads the timestamp as UTC whatever its zone, so it is given in UTC
            "webhook-signature": Webhook(secret).sign(message_id, moment, body),
        }
        return self._outcome(target.host, self._send(target, addresses, headers, body.encode("utf-8")))

    # -- before any connection ---------------------------------------------------------------------------------

    def _target(self, url: str) -> _Target:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise _Refused("URL not allowed: not a URL") from None
        scheme = parts.scheme.lower()
        allowed = ("https",) if self._production else ("https", "http")
        if scheme not in allowed:
            raise _Refused("URL not allowed: must be https")
        if "@" in parts.netloc or not parts.hostname:
            raise _Refused("URL not allowed: no host, or user info")
        host = parts.hostname.rstrip(".")
        default_port = 443 if scheme == "https" else 80
        port = port or default_port
        shown = f"[{host}]" if ":" in host else host
        return _Target(
            scheme=scheme,
            host=host,
            port=port,
            request_target=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            host_header=shown if port == default_port else f"{shown}:{port}",
        )

    def _checked_addresses(self, target: _Target) -> list[Address]:
        if self._loopback_only and target.host not in _LOOPBACK_HOSTS:
            raise _Refused("address not allowed: this stack delivers to 127.0.0.1 and localhost only")
        try:
            addresses = [ipaddress.ip_address(target.host)]  # a literal address is not resolved
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(a) for a in self._resolver(target.host, target.port)]
            except (OSError, UnicodeError, ValueError):
                raise _Refused("host name not resolved") from None
        if not addresses:
            raise _Refused("host name not resolved")
        for address in addresses:  # every one: a name with one private address among public ones is refused
            reason = address_refusal(address, production=self._production)
            if reason:
                raise _Refused(f"address not allowed: {reason}")
        return addresses

    # -- the connection ----------------------------------------------------------------------------------------

    def _send(self, target: _Target, addresses: list[Address], headers: dict[str, str], body: bytes) -> PostResult:
        deadline = time.monotonic() + self._timeout
        timed_out = threading.Event()
        connection: HTTPConnection | None = None

        def expire() -> None:
            # one deadline for connect, send and read: a receiver trickling bytes cannot hold the delivery
            timed_out.set()
            sock = connection.sock if connection is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(self._timeout, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            connection = self._connect(target, addresses, deadline)
            connection.request("POST", target.request_target, body=body, headers=headers, preload_content=False)
            response = connection.getresponse()
            self._read_some(response, deadline)
            status = response.status
            if 300 <= status < 400:
                return PostResult(status, "redirect not followed")
            return PostResult(status, None if 200 <= status < 300 else f"HTTP {status}")
        except Exception as exc:  # whatever the network or the receiver does is an outcome
            return PostResult(None, "timed out" if timed_out.is_set() else _reason(exc))
        finally:
            watchdog.cancel()
            if connection is not None:
                connection.close()

    def _connect(self, target: _Target, addresses: list[Address], deadline: float) -> HTTPConnection:
        """A connection to the first checked address that accepts one (the next one only if connecting failed)."""
        failure: Exception = ConnectionError("no address")
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline")
            connection = self._connection(target, str(address), remaining)
            try:
                connection.connect()
            except (ssl.SSLError, CertificateError):
                connection.close()
                raise  # the receiver answered: its certificate is wrong, another address will not fix that
            except (OSError, urllib3.exceptions.HTTPError) as exc:
                connection.close()
                failure = exc
                continue
            return connection
        raise failure

    def _connection(self, target: _Target, address: str, timeout: float) -> HTTPConnection:
        if target.scheme == "https":
            return HTTPSConnection(
                address,
                target.port,
                timeout=timeout,
                cert_reqs="CERT_REQUIRED",
                server_hostname=target.host,  # SNI and the certificate are the URL's host, not the address
                assert_hostname=target.host,
                ca_certs=self._ca_certs,
            )
        return HTTPConnection(address, target.port, timeout=timeout)

    def _read_some(self, response: urllib3.BaseHTTPResponse, deadline: float) -> None:
        """Reads at most max_body_bytes of the answer and discards them; the rest is never read."""
        read = 0
        while read < self._max_body_bytes and time.monotonic() < deadline:
            chunk = response.read(min(1024, self._max_body_bytes - read), decode_content=False)
            if not chunk:
                return
            read += len(chunk)

    def _outcome(self, host: str, result: PostResult) -> PostResult:
        logger.info(
            "Webhook delivered" if result.succeeded else "Webhook not delivered",
            extra={"host": host, "status_code": result.status_code, "error": result.error},
        )
        return result


def _reason(exc: BaseException) -> str:
    """A short reason for the delivery log; never the exception's text (it may name the address)."""
    chain = _chain(exc)
    for kinds, reason in _REASONS:  # the most specific first: urllib3's NewConnectionError is a timeout error
        if any(isinstance(cause, kinds) for cause in chain):
            return reason
    return "connection failed"


_REASONS: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
    ((ssl.SSLCertVerificationError, CertificateError), "TLS certificate not valid for the host"),
    ((ssl.SSLError, urllib3.exceptions.SSLError), "TLS error"),
    (ConnectionRefusedError, "connection refused"),
    ((http.client.RemoteDisconnected, ConnectionResetError), "connection closed without an answer"),
    ((TimeoutError, urllib3.exceptions.TimeoutError), "timed out"),
    ((http.client.HTTPException, urllib3.exceptions.ProtocolError), "not an HTTP answer"),
]


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
