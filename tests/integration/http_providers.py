"""The HTTP provider adapter HttpGiftProvider (gifticons) with its fake server on 127.0.0.1 (tests.fakes), as the
tests of test_http_providers.py drive it.

Its API: a bearer key, an Idempotency-Key per send, JSON in and out, the contract's sandbox rules by the phone's
last four digits, and one HTTP attempt per call. A driver says how to build its adapter, send one gift, and read the
outcome; the answer tables list the shared answers and the adapter's own.
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

import pytest

from shared.adapters.gift_provider import IssueOutcome, IssueRequest, IssueResult
from shared.adapters.http_gift_provider import HttpGiftProvider
from tests.fakes.base import FakeJsonServer, RecordedRequest
from tests.fakes.gift_provider_server import FakeGiftProviderServer

PHONE = "+821012345678"
GIFT_API_KEY = "gp-live-4f1c9a7e2b5d8c3a"

# (status, JSON body, raw bytes sent instead of the body): answers both adapters take for "try again later".
TRANSIENT_OR_UNREADABLE: list[tuple[int, Any, bytes | None]] = [
    (408, None, None),
    (429, {"code": "RATE_LIMITED"}, None),
    (500, {"code": "INTERNAL_ERROR"}, None),
    (502, None, b"<html><body>502 Bad Gateway</body></html>"),
    (503, {"code": "SERVICE_UNAVAILABLE"}, None),
    (504, None, None),
    (409, {"code": "REQUEST_IN_PROGRESS"}, None),
    (200, None, b"<html>maintenance</html>"),
    (200, None, b"\xff\xfe not json"),
    (200, ["ID-1"], None),
    (202, {"status": "ACCEPTED"}, None),
]
# (status, JSON body): refusals both adapters pass on as ProviderRejected.
REFUSED: list[tuple[int, Any]] = [
    (400, {"code": "VALIDATION_ERROR"}),
    (404, None),  # a 404 without RECIPIENT_NOT_FOUND: wrong path, not an unknown recipient
    (409, {"code": "IDEMPOTENCY_KEY_REUSED"}),
    (302, None),
]
RECIPIENT_NOT_FOUND_STATUSES = [404, 422]

FakeT = TypeVar("FakeT", bound=FakeJsonServer)
ServerT = TypeVar("ServerT", bound=FakeJsonServer)
AdapterT = TypeVar("AdapterT")


class _Result(Protocol):
    @property
    def outcome(self) -> Enum: ...


ResultT = TypeVar("ResultT", bound=_Result)


class HttpProvider(ABC, Generic[FakeT, AdapterT, ResultT]):
    """One HTTP adapter and its running fake, as the shared tests drive them."""

    fake_type: ClassVar[type[FakeJsonServer]]
    adapter_type: ClassVar[type[Any]]  # built as adapter_type(endpoint, api_key, **options)
    api_key: ClassVar[str]
    path: ClassVar[str]  # where a send goes
    logged_as: ClassVar[str]  # how the adapter names the provider in its log lines
    message_texts: ClassVar[tuple[str, ...]]  # the words every send carries (never logged)
    success: ClassVar[Enum]  # the outcome of an issued gift or delivered message
    not_found: ClassVar[Any]  # the result for a recipient the provider does not know
    # The adapter's own answers, besides the shared tables above.
    definite_answers: ClassVar[list[tuple[int, Any, Any]]]  # (status, body, the result it reads)
    transient_answers: ClassVar[list[tuple[int, Any, bytes | None]]]  # (status, body, raw), as TRANSIENT_OR_UNREADABLE
    refusals: ClassVar[list[tuple[int, Any]]]  # (status, body), as REFUSED
    garbled_success: ClassVar[tuple[dict[str, Any], str]]  # a 200 body it cannot read, and the id in it

    def __init__(self, fake: FakeT) -> None:
        self.fake = fake

    def adapter(self, endpoint: str | None = None, api_key: str | None = None, **options: Any) -> AdapterT:
        """The adapter for ``endpoint`` (default: the fake) with ``api_key`` (default: the fake's)."""
        endpoint = self.fake.url if endpoint is None else endpoint
        return cast(AdapterT, self.adapter_type(endpoint, self.api_key if api_key is None else api_key, **options))

    @abstractmethod
    def send(self, adapter: AdapterT, key: str = "send-1:r1:0", phone: str = PHONE) -> ResultT:
        """One gift or message to ``phone`` under the idempotency key ``key``."""

    @abstractmethod
    def send_other_content(self, adapter: AdapterT, key: str) -> ResultT:
        """What ``send(adapter, key)`` sends, with something changed."""

    def succeeded(self, result: ResultT) -> bool:
        return result.outcome is self.success

    @abstractmethod
    def result_id(self, result: ResultT) -> str | None:
        """The provider's id for what it issued or delivered (coupon, message), as the adapter returned it."""

    @abstractmethod
    def issued_id(self, key: str) -> str | None:
        """The fake's id for what it issued or delivered under ``key``."""

    @abstractmethod
    def issued_count(self) -> int:
        """How many the fake actually issued or delivered (replays not counted)."""

    def other_calls(self, adapter: AdapterT) -> list[Callable[[], object]]:
        """The adapter's calls besides sending, which fail like a send when the provider cannot be used."""
        return []


class GiftProviderOverHttp(HttpProvider[FakeGiftProviderServer, HttpGiftProvider, IssueResult]):
    fake_type = FakeGiftProviderServer
    adapter_type = HttpGiftProvider
    api_key = GIFT_API_KEY
    path = "/v1/coupons"
    logged_as = "gift provider"
    message_texts = ("축하합니다!", "1등 당첨 선물")
    success = IssueOutcome.ISSUED
    not_found = IssueResult(IssueOutcome.RECIPIENT_NOT_FOUND)
    definite_answers: ClassVar[list[tuple[int, Any, Any]]] = [
        (409, {"code": "GIFT_UNAVAILABLE"}, IssueResult(IssueOutcome.GIFT_UNAVAILABLE)),
        (410, {"code": "GIFT_UNAVAILABLE"}, IssueResult(IssueOutcome.GIFT_UNAVAILABLE)),
        (422, {"code": "GIFT_UNAVAILABLE"}, IssueResult(IssueOutcome.GIFT_UNAVAILABLE)),
    ]
    transient_answers: ClassVar[list[tuple[int, Any, bytes | None]]] = [
        (201, {"coupon_id": "", "expires_on": "2030-01-01"}, None),
        (201, {"coupon_id": "CPN-1"}, None),
        (200, {"coupon_id": "CPN-1", "expires_on": "next month"}, None),
    ]
    refusals: ClassVar[list[tuple[int, Any]]] = [(403, {"code": "FORBIDDEN"}), (422, {"code": "INVALID_TEMPLATE"})]
    garbled_success = ({"coupon_id": "CPN-SECRET", "expires_on": "soon"}, "CPN-SECRET")

    def send(self, adapter: HttpGiftProvider, key: str = "send-1:r1:0", phone: str = PHONE) -> IssueResult:
        return adapter.issue(gift_request(key, phone=phone))

    def send_other_content(self, adapter: HttpGiftProvider, key: str) -> IssueResult:
        return adapter.issue(gift_request(key, phone="+821099998877"))

    def result_id(self, result: IssueResult) -> str | None:
        return result.coupon_id

    def issued_id(self, key: str) -> str | None:
        coupon = self.fake.coupon_for(key)
        return coupon.coupon_id if coupon else None

    def issued_count(self) -> int:
        return self.fake.issue_count

    def other_calls(self, adapter: HttpGiftProvider) -> list[Callable[[], object]]:
        return [adapter.catalog]


HTTP_PROVIDERS: dict[str, type[HttpProvider[Any, Any, Any]]] = {"gift": GiftProviderOverHttp}


def gift_request(key: str = "send-1:r1:0", *, phone: str = PHONE, gift_id: str = "SBX-COFFEE") -> IssueRequest:
    return IssueRequest(idempotency_key=key, gift_id=gift_id, phone=phone, title="축하합니다!", content="1등 당첨 선물")


def each_provider_with(rows: Callable[[type[HttpProvider[Any, Any, Any]]], list[tuple[Any, ...]]]) -> list[Any]:
    """pytest params: every provider's name with each of the rows ``rows`` gives for it."""
    return [
        pytest.param(name, *row, id=f"{name}-{number}")
        for name, provider in HTTP_PROVIDERS.items()
        for number, row in enumerate(rows(provider))
    ]


def fake_server_fixture(fake_type: type[ServerT], api_key: str) -> Any:
    """A pytest fixture (assign it to the name tests ask for): a fresh ``fake_type(api_key)``, running, per test."""

    def server() -> Iterator[ServerT]:
        with fake_type(api_key) as running:
            yield running

    return pytest.fixture(server)


def unused_port_url() -> str:
    """An http:// URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def assert_authorised_json_post(sent: RecordedRequest, path: str, api_key: str, idempotency_key: str) -> None:
    assert (sent.method, sent.path) == ("POST", path)
    assert sent.header("Authorization") == f"Bearer {api_key}"
    assert sent.header("Idempotency-Key") == idempotency_key
    assert sent.header("Content-Type") == "application/json"
