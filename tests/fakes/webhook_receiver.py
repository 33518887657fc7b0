"""A webhook receiver on 127.0.0.1 that verifies every request's Standard Webhooks signature with the
``standardwebhooks`` library, for integration tests and for an end-to-end run of the deployed stack.

Each path has its own secret (known only once the webhook is registered, so it is set afterwards). Every request
is recorded as a `ReceivedWebhook` with ``verified``; a request that does not verify is answered 401 (unless the
receiver was made with ``reject_unverified=False``), a verified one 200. Faults per path, each for the next
``count`` requests of that path: ``fail_first`` (a status, 500 by default), ``hang_first`` (the answer held),
``redirect_first`` (a 3xx with a ``Location``).

Standalone: ``python -m tests.fakes.webhook_receiver --port 8124`` prints its URL and serves until interrupted.
Its controls over HTTP (loopback only, no auth; JSON bodies):

- ``POST /_fake/secret`` ``{"path", "secret"}``: the secret requests to ``path`` are verified with.
- ``POST /_fake/fail`` ``{"path", "count"?: 1, "status"?: 500}``.
- ``POST /_fake/hang`` ``{"path", "count"?: 1, "seconds"?: 30}``.
- ``POST /_fake/redirect`` ``{"path", "location", "count"?: 1, "status"?: 302}``.
- ``GET /_fake/received`` → ``{"received": [{"path", "webhook_id", "webhook_timestamp", "host", "verified",
  "status", "body"}]}`` in arrival order (``status`` is what the receiver answered).
- ``POST /_fake/reset`` ``{}``: forgets what was received and the faults (not the secrets).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Unpack
from urllib.parse import urlsplit

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.fakes import base
from tests.fakes.base import Control, LoopbackFake, Reply, control_error, json_reply


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    webhook_id: str | None
    webhook_timestamp: str | None
    host: str | None
    verified: bool
    status: int  # what the receiver answered
    body: str
    headers: dict[str, str]


class WebhookReceiver(LoopbackFake):
    """Start with ``with WebhookReceiver() as receiver:``; ``receiver.url + "/hook"`` is an endpoint."""

    thread_name = "fake-webhook-receiver"

    def __init__(
        self,
        secrets: dict[str, str] | None = None,
        *,
        reject_unverified: bool = True,
        **address: Unpack[base.Address],
    ) -> None:
        super().__init__(**address)
        self.reject_unverified = reject_unverified
        self._secrets: dict[str, str] = dict(secrets or {})
        self._received: list[ReceivedWebhook] = []
        self._faults: dict[str, deque[Reply]] = {}

    # -- test controls and inspection --------------------------------------------------------------------------

    def set_secret(self, path: str, secret: str) -> None:
        with self._lock:
            self._secrets[path] = secret

    def fail_first(self, path: str, count: int = 1, status: int = 500) -> None:
        self._add_faults(path, count, Reply(status, b'{"error":"scripted failure"}'))

    def hang_first(self, path: str, count: int = 1, seconds: float = 30.0) -> None:
        self._add_faults(path, count, Reply(200, b"{}", hang_seconds=seconds))

    def redirect_first(self, path: str, location: str, count: int = 1, status: int = 302) -> None:
        self._add_faults(path, count, Reply(status, b"", headers=(("Location", location),)))

    def received(self, path: str | None = None) -> list[ReceivedWebhook]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def reset(self) -> None:
        with self._lock:
            self._received.clear()
            self._faults.clear()

    def _add_faults(self, path: str, count: int, reply: Reply) -> None:
        with self._lock:
            self._faults.setdefault(path, deque()).extend([reply] * count)

    # -- request handling --------------------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        path = urlsplit(target).path
        verified = method == "POST" and self._verifies(path, headers, body)
        faults = self._faults.get(path)
        if faults:
            reply = faults.popleft()
        elif verified or not self.reject_unverified:
            reply = json_reply(200, {"ok": True})
        else:
            reply = json_reply(401, {"error": "signature not verified"})
        self._received.append(
            ReceivedWebhook(
                path=path,
                webhook_id=headers.get("webhook-id"),
                webhook_timestamp=headers.get("webhook-timestamp"),
                host=headers.get("host"),
                verified=verified,
                status=reply.status,
                body=body.decode("utf-8", errors="replace"),
                headers=dict(headers),
            )
        )
        return reply

    def _verifies(self, path: str, headers: dict[str, str], body: bytes) -> bool:
        secret = self._secrets.get(path)
        if secret is None:
            return False
        try:
            Webhook(secret).verify(body.decode("utf-8"), headers, json_parse=False)
        except (WebhookVerificationError, UnicodeDecodeError, ValueError):
            return False
        return True

    # -- controls over HTTP ------------------------------------------------------------------------------------

    def controls(self) -> dict[tuple[str, str], Control]:
        return {
            ("POST", "secret"): self._secret_control,
            ("POST", "fail"): self._fail_control,
            ("POST", "hang"): self._hang_control,
            ("POST", "redirect"): self._redirect_control,
            ("GET", "received"): self._received_control,
            ("POST", "reset"): self._reset_control,
        }

    def _secret_control(self, request: dict[str, Any]) -> Reply:
        path, secret = request.get("path"), request.get("secret")
        if not (isinstance(path, str) and isinstance(secret, str)):
            return control_error(400, "path and secret are required strings")
        try:
            Webhook(secret)
        except Exception:  # the library raises several kinds for a secret it cannot read
            return control_error(400, "not a webhook secret")
        self.set_secret(path, secret)
        return json_reply(200, {})

    def _fail_control(self, request: dict[str, Any]) -> Reply:
        path = request.get("path")
        if not isinstance(path, str):
            return control_error(400, "path is required")
        self.fail_first(path, int(request.get("count", 1)), int(request.get("status", 500)))
        return json_reply(200, {})

    def _hang_control(self, request: dict[str, Any]) -> Reply:
        path = request.get("path")
        if not isinstance(path, str):
            return control_error(400, "path is required")
        self.hang_first(path, int(request.get("count", 1)), float(request.get("seconds", 30.0)))
        return json_reply(200, {})

    def _redirect_control(self, request: dict[str, Any]) -> Reply:
        path, location = request.get("path"), request.get("location")
        if not (isinstance(path, str) and isinstance(location, str)):
            return control_error(400, "path and location are required")
        self.redirect_first(path, location, int(request.get("count", 1)), int(request.get("status", 302)))
        return json_reply(200, {})

    def _received_control(self, request: dict[str, Any]) -> Reply:
        shown = [{k: v for k, v in asdict(r).items() if k != "headers"} for r in self.received()]
        return json_reply(200, {"received": shown})

    def _reset_control(self, request: dict[str, Any]) -> Reply:
        self.reset()
        return json_reply(200, {})


def main() -> None:
    parser = base.standalone_arguments("A webhook receiver on 127.0.0.1 that verifies Standard Webhooks signatures")
    parser.add_argument("--accept-unverified", action="store_true", help="answer 200 to unverified requests too")
    args = parser.parse_args()
    base.serve_standalone(WebhookReceiver(reject_unverified=not args.accept_unverified, host=args.host, port=args.port))


if __name__ == "__main__":
    main()
