"""WebhookPoster against the webhook receiver on 127.0.0.1: signatures, failures, redirects, the deadline, the
answer's size limit, and the address checks made before any connection (names resolved by an injected resolver)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.adapters.webhook_http import USER_AGENT, WebhookPoster
from tests.fakes.webhook_receiver import WebhookReceiver

BODY = '{"type":"recipient.sent","timestamp":"2025-01-02T03:04:05Z","data":{"send_id":"s1"}}'


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class Resolver:
    """A resolver that answers from a table and remembers what it was asked."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "not known")
        return self.table[host]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as fake:
        yield fake


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket connects to during the test (still only loopback: the guard runs underneath)."""
    seen: list[Any] = []
    guarded = socket.socket.connect

    def recording(self: socket.socket, address: Any) -> Any:
        seen.append(address)
        return guarded(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    return seen


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_a_signed_post_verifies(receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    secret = new_secret()
    receiver.set_secret("/hook", secret)
    moment = now()

    result = WebhookPoster(production=False).post(f"{receiver.url}/hook?x=1", secret, "evt_1", BODY, moment)

    assert result.succeeded and result.status_code == 200 and result.error is None
    [got] = receiver.received("/hook")
    assert got.verified and got.body == BODY
    assert got.webhook_id == "evt_1" and got.webhook_timestamp == str(int(moment.timestamp()))
    assert got.headers["content-type"] == "application/json" and got.headers["user-agent"] == USER_AGENT
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "Webhook delivered" in logged and secret not in logged and "send_id" not in logged


def test_a_wrong_secret_does_not_verify(receiver: WebhookReceiver) -> None:
    receiver.set_secret("/hook", new_secret())
    result = WebhookPoster(production=False).post(f"{receiver.url}/hook", new_secret(), "evt_1", BODY, now())
    assert result.status_code == 401 and not result.succeeded
    assert [r.verified for r in receiver.received()] == [False]


def test_every_attempt_has_the_same_id_and_its_own_timestamp(receiver: WebhookReceiver) -> None:
    secret = new_secret()
    receiver.set_secret("/hook", secret)
    receiver.fail_first("/hook", 1)
    poster = WebhookPoster(production=False)
    first_at = now() - dt.timedelta(seconds=90)

    first = poster.post(f"{receiver.url}/hook", secret, "evt_same", BODY, first_at)
    second = poster.post(f"{receiver.url}/hook", secret, "evt_same", BODY, now())

    assert (first.status_code, first.succeeded, first.error) == (500, False, "HTTP 500")
    assert second.succeeded
    attempts = receiver.received("/hook")
    assert [a.webhook_id for a in attempts] == ["evt_same", "evt_same"]
    assert all(a.verified for a in attempts) and attempts[0].body == attempts[1].body
    assert int(attempts[1].webhook_timestamp or 0) - int(attempts[0].webhook_timestamp or 0) >= 89


def test_a_redirect_is_not_followed(receiver: WebhookReceiver) -> None:
    secret = new_secret()
    receiver.set_secret("/hook", secret)
    receiver.set_secret("/elsewhere", secret)
    receiver.redirect_first("/hook", f"{receiver.url}/elsewhere")

    result = WebhookPoster(production=False).post(f"{receiver.url}/hook", secret, "evt_1", BODY, now())

    assert result.status_code == 302 and not result.succeeded and result.error == "redirect not followed"
    assert [r.path for r in receiver.received()] == ["/hook"]


def test_a_hanging_receiver_times_out(receiver: WebhookReceiver) -> None:
    secret = new_secret()
    receiver.set_secret("/hook", secret)
    receiver.hang_first("/hook", seconds=10)
    started = time.monotonic()

    result = WebhookPoster(production=False, timeout_seconds=1.0).post(
        f"{receiver.url}/hook", secret, "evt_1", BODY, now()
    )

    assert time.monotonic() - started < 2.5
    assert result.status_code is None and result.error == "timed out"


def test_nothing_listening_is_a_connection_failure() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = WebhookPoster(production=False).post(f"http://127.0.0.1:{port}/hook", new_secret(), "e", BODY, now())
    assert result == type(result)(None, "connection refused")


class TrickleServer:
    """Answers 200 with a Content-Length of 100 MB, sends ``sent`` bytes of it and then nothing more until the
    client closes: a client reading past its limit waits for the rest and times out."""

    def __init__(self, sent: int = 16384) -> None:
        self.sent = sent
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.client_closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            connection.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n" + b"x" * self.sent)
            try:
                while connection.recv(65536):
                    pass
            except OSError:
                pass
            self.client_closed.set()

    def close(self) -> None:
        self.listener.close()


def test_a_big_answer_is_not_read_past_the_limit() -> None:
    server = TrickleServer()
    try:
        started = time.monotonic()
        result = WebhookPoster(production=False, timeout_seconds=3.0, max_body_bytes=4096).post(
            f"http://127.0.0.1:{server.port}/hook", new_secret(), "evt_1", BODY, now()
        )
        assert result.succeeded and time.monotonic() - started < 1.5
        assert server.client_closed.wait(2)
    finally:
        server.close()


def test_production_refuses_loopback_before_connecting(receiver: WebhookReceiver, connects: list[Any]) -> None:
    resolver = Resolver({"hooks.example.com": ["127.0.0.1"]})
    poster = WebhookPoster(production=True, resolver=resolver)
    port = int(receiver.url.rsplit(":", 1)[1])
    literal = poster.post(f"https://127.0.0.1:{port}/hook", new_secret(), "evt_1", BODY, now())
    named = poster.post("https://hooks.example.com/hook", new_secret(), "evt_1", BODY, now())
    assert literal == named == type(literal)(None, "address not allowed: loopback address")
    assert connects == [] and receiver.requests == []


def test_production_refuses_http(connects: list[Any]) -> None:
    resolver = Resolver({"hooks.example.com": ["93.184.216.34"]})
    result = WebhookPoster(production=True, resolver=resolver).post(
        "http://hooks.example.com/hook", new_secret(), "evt_1", BODY, now()
    )
    assert result.error == "URL not allowed: must be https"
    assert connects == [] and resolver.asked == []


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["10.0.0.5"], "private address"),
        (["169.254.169.254"], "link-local address"),
        (["93.184.216.34", "192.168.1.10"], "private address"),  # one bad address among good ones
        (["::ffff:10.0.0.5"], "IPv4-embedding private address"),
    ],
)
@pytest.mark.parametrize("production", [True, False])
def test_a_name_resolving_to_a_refused_address_is_refused_before_connecting(
    addresses: list[str], reason: str, production: bool, receiver: WebhookReceiver, connects: list[Any]
) -> None:
    resolver = Resolver({"hooks.example.com": addresses})
    result = WebhookPoster(production=production, resolver=resolver).post(
        "https://hooks.example.com/hook", new_secret(), "evt_1", BODY, now()
    )
    assert result.status_code is None and result.error == f"address not allowed: {reason}"
    assert resolver.asked == [("hooks.example.com", 443)]
    assert connects == [] and receiver.requests == []


def test_a_name_not_resolved_is_a_failure(connects: list[Any]) -> None:
    result = WebhookPoster(production=False, resolver=Resolver({})).post(
        "https://nowhere.example.com/hook", new_secret(), "evt_1", BODY, now()
    )
    assert result == type(result)(None, "host name not resolved")
    assert connects == []


def test_a_literal_address_is_not_resolved(receiver: WebhookReceiver) -> None:
    secret = new_secret()
    receiver.set_secret("/hook", secret)
    resolver = Resolver({})
    assert WebhookPoster(production=False, resolver=resolver).post(f"{receiver.url}/hook", secret, "e", BODY, now())
    assert resolver.asked == [] and receiver.received("/hook")[0].verified


def test_the_checked_address_is_the_one_connected_to(receiver: WebhookReceiver, connects: list[Any]) -> None:
    secret = new_secret()
    receiver.set_secret("/hook", secret)
    port = int(receiver.url.rsplit(":", 1)[1])
    resolver = Resolver({"hooks.example.com": ["127.0.0.1"]})

    result = WebhookPoster(production=False, resolver=resolver).post(
        f"http://hooks.example.com:{port}/hook", secret, "evt_1", BODY, now()
    )

    assert result.succeeded
    assert resolver.asked == [("hooks.example.com", port)]  # once: no second lookup a rebinding could change
    assert [address[0] for address in connects] == ["127.0.0.1"]
    [got] = receiver.received("/hook")
    assert got.verified and got.host == f"hooks.example.com:{port}"


# -- https: the certificate is checked against the URL's host name, not the address connected to ----------------


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[WebhookReceiver, Path]]:
    cert, key = self_signed(tmp_path, "hooks.example.com")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with WebhookReceiver() as fake:
        server = fake._server
        assert server is not None
        server.socket = context.wrap_socket(server.socket, server_side=True)
        yield fake, cert


@pytest.mark.parametrize(("name", "verified"), [("hooks.example.com", True), ("other.example.com", False)])
def test_https_checks_the_certificate_against_the_url_host(
    tls_receiver: tuple[WebhookReceiver, Path], name: str, verified: bool
) -> None:
    receiver, cert = tls_receiver
    secret = new_secret()
    receiver.set_secret("/hook", secret)
    port = int(receiver.url.rsplit(":", 1)[1])
    resolver = Resolver({name: ["127.0.0.1"]})

    result = WebhookPoster(production=False, resolver=resolver, ca_certs=str(cert), timeout_seconds=3).post(
        f"https://{name}:{port}/hook", secret, "evt_1", BODY, now()
    )

    if verified:
        assert result.succeeded and receiver.received("/hook")[0].verified
    else:
        assert result == type(result)(None, "TLS certificate not valid for the host")
        assert receiver.received() == []


def test_a_loopback_only_poster_refuses_any_other_host_before_looking_it_up(
    receiver: WebhookReceiver, connects: list[Any]
) -> None:
    resolver = Resolver({"hooks.example.com": ["93.184.216.34"]})
    poster = WebhookPoster(production=False, resolver=resolver, loopback_only=True)
    result = poster.post("https://hooks.example.com/x", new_secret(), "evt_1", "{}", now())
    assert result.status_code is None and result.error is not None and "127.0.0.1 and localhost only" in result.error
    assert resolver.asked == [] and connects == []
    receiver.set_secret("/ok", secret := new_secret())
    assert poster.post(receiver.url + "/ok", secret, "evt_2", "{}", now()).status_code == 200
