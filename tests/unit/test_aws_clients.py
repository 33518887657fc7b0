"""The one boto3 client factory: standard retries with bounded timeouts, or a single attempt for the sends the
domain retries itself, against a real HTTP server on 127.0.0.1 that fails every request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from shared.adapters import aws_clients
from shared.adapters.aws_clients import aws_client
from shared.adapters.providers import notification_sender_from_settings
from shared.settings import NotificationProviderSettings
from tests.conftest import use_test_aws

REGION = "ap-northeast-2"
ROOT = Path(__file__).resolve().parents[2]


class _AlwaysUnavailable(BaseHTTPRequestHandler):
    requests = 0

    def do_POST(self) -> None:
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"__type": "InternalFailure", "message": "unavailable"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def failing_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_AlwaysUnavailable]]:
    handler = type("Handler", (_AlwaysUnavailable,), {"requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    use_test_aws(monkeypatch, REGION, endpoint_url=f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    yield handler
    server.shutdown()
    server.server_close()


def test_a_retrying_client_tries_three_times(failing_endpoint: type[_AlwaysUnavailable]) -> None:
    with pytest.raises(ClientError):
        aws_client("sqs").list_queues()
    assert failing_endpoint.requests == 3


def test_a_single_attempt_client_tries_once(failing_endpoint: type[_AlwaysUnavailable]) -> None:
    with pytest.raises(ClientError):
        aws_client("sqs", retries=False).list_queues()
    assert failing_endpoint.requests == 1


def test_the_ses_and_sns_send_clients_try_once(failing_endpoint: type[_AlwaysUnavailable]) -> None:
    entry = {"Destination": {"ToAddresses": ["a@example.com"]}}
    with pytest.raises(ClientError):
        aws_client("sesv2", retries=False).send_bulk_email(
            DefaultContent={"Template": {"TemplateContent": {"Subject": "s", "Text": "t"}}}, BulkEmailEntries=[entry]
        )
    assert failing_endpoint.requests == 1
    with pytest.raises((ClientError, ResponseParserError)):  # the fake answers JSON; SNS speaks XML
        aws_client("sns", retries=False).publish(PhoneNumber="+821012345678", Message="m")
    assert failing_endpoint.requests == 2


def test_timeouts_fit_three_attempts_inside_the_api_timeout() -> None:
    per_attempt = aws_clients.CONNECT_TIMEOUT_SECONDS + aws_clients.READ_TIMEOUT_SECONDS
    # Standard mode sleeps at most 1 s, then 2 s, between the three attempts; API Gateway gives the API 29 s.
    assert 3 * per_attempt + 1 + 2 < 29


def test_ses_and_sns_senders_get_single_attempt_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    built: dict[str, Any] = {}
    real_client = boto3.client

    def recording_client(service: str, **kwargs: Any) -> Any:
        built[service] = kwargs["config"]
        return real_client(  # type: ignore[call-overload]
            service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x", **kwargs
        )

    monkeypatch.setattr(aws_clients.boto3, "client", recording_client)
    notification_sender_from_settings(NotificationProviderSettings(), dynamodb_client=object(), table_name="t")
    # EventBridge (the sandbox's email reports) keeps the SDK's retries: a duplicate report changes nothing.
    assert {"sesv2", "sns"} <= set(built) <= {"sesv2", "sns", "events"}
    assert all(built[s].retries == {"mode": "standard", "total_max_attempts": 1} for s in ("sesv2", "sns"))


def test_the_service_builds_every_client_through_the_factory() -> None:
    direct = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in ("functions", "shared")
        for path in (ROOT / package).rglob("*.py")
        if path.name != "aws_clients.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "boto3.client(" in line or "boto3.resource(" in line or "boto3.session" in line
    ]
    assert direct == []
