"""End-to-end fixtures: the deployed stack (MiniStack) over HTTP.

The stack is described by `.local/stack.env` (written by `make stack-up` / `make run`): at least
`API_URL` (base URL, no trailing slash) and `ADMIN_API_KEY`. Without it every e2e test is skipped.
`WN_STACK_ENV` may point at another env file.

Every test makes its own accounts through the admin API, so tests do not depend on each other or on
the demo account.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts import stack_env
from tests.api_calls import ApiCalls, Reply, open_account
from tests.api_calls import unique as unique  # the e2e tests import it from here

STACK_ENV = Path(os.environ.get("WN_STACK_ENV", stack_env.STACK_ENV))
SEOUL = timezone(timedelta(hours=9), "Asia/Seoul")

HTTP_TIMEOUT = 30.0
SEND_TIMEOUT = 90.0  # background processing: SQS -> Lambda
POLL_INTERVAL = 0.4

COFFEE, CAKE, RETIRED = "SBX-COFFEE", "SBX-CAKE", "SBX-RETIRED"
COFFEE_PRICE, CAKE_PRICE, RETIRED_PRICE = 4_500, 25_000, 3_000


@dataclass(frozen=True)
class Stack:
    api_url: str
    admin_key: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def stack() -> Stack:
    if not STACK_ENV.is_file():
        pytest.skip(f"e2e: {STACK_ENV} not found; start the local stack first (make stack-up)")
    env = stack_env.read(STACK_ENV)
    missing = [name for name in ("API_URL", "ADMIN_API_KEY") if not env.get(name)]
    if missing:
        pytest.fail(f"e2e: {STACK_ENV} lacks {', '.join(missing)}")
    api_url = env["API_URL"].rstrip("/")
    try:
        requests.get(f"{api_url}/health", timeout=10)
    except requests.ConnectionError as error:
        pytest.skip(f"e2e: {STACK_ENV} names {api_url}, which does not answer (stale file? make stack-up): {error}")
    return Stack(api_url=api_url, admin_key=env["ADMIN_API_KEY"], env=env)


# --- HTTP client ---------------------------------------------------------------------------------


@dataclass
class Client(ApiCalls):
    """Calls the API with one key (or none); a fresh requests.Session per client, so one client per thread."""

    base_url: str
    key: str | None
    account_id: str = ""
    session: requests.Session = field(default_factory=requests.Session)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Reply:
        sent_headers = {"Accept": "application/json"}
        if self.key is not None:
            sent_headers["Authorization"] = f"Bearer {self.key}"
        data: str | None = raw
        if body is not None:
            data = json.dumps(body)
        if data is not None:
            sent_headers["Content-Type"] = "application/json"
        sent_headers.update(headers or {})
        response = self.session.request(
            method, self.base_url + path, data=data, headers=sent_headers, params=params, timeout=HTTP_TIMEOUT
        )
        try:
            parsed = response.json() if response.text else None
        except ValueError:
            parsed = None
        return Reply(response.status_code, parsed, response.headers, response.text)

    def with_new_session(self) -> Client:
        return Client(self.base_url, self.key, self.account_id)


@pytest.fixture(scope="session")
def admin(stack: Stack) -> Client:
    return Client(stack.api_url, stack.admin_key)


@pytest.fixture(scope="session")
def anonymous(stack: Stack) -> Client:
    return Client(stack.api_url, None)


AccountFactory = Callable[..., Client]


def make_account(admin: Client, name: str = "E2E Shop", *, approved: bool = True, credits: int = 0) -> Client:
    """A new account through the admin API; returns a client acting for it."""
    account_id, api_key = open_account(admin, name, approved=approved, credits=credits)
    return Client(admin.base_url, api_key, account_id)


@pytest.fixture(scope="session")
def new_account(admin: Client) -> AccountFactory:
    def factory(name: str = "E2E Shop", *, approved: bool = True, credits: int = 0) -> Client:
        return make_account(admin, name, approved=approved, credits=credits)

    return factory


# --- domain helpers ------------------------------------------------------------------------------


def create_promotion(client: Client, name: str = "Spring") -> str:
    reply = client.post("/promotions", {"name": name})
    assert reply.status == 201, reply
    return str(reply.body["promotion_id"])


def gift_send_body(promotion_id: str, phones: list[str], gift_id: str = COFFEE, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "promotion_id": promotion_id,
        "gift_id": gift_id,
        "title": "Winner",
        "content": "Congratulations on winning!",
        "recipients": [{"phone": phone, "name": f"Winner {n}"} for n, phone in enumerate(phones)],
    }
    body.update(extra)
    return body


def assert_counts_consistent(send: dict[str, Any]) -> None:
    counts = send["counts"]
    assert counts["total"] == counts["pending"] + counts["sent"] + counts["failed"], send
    assert 0 <= counts["resendable"] <= counts["failed"], send


def wait_for(
    client: Client,
    send_id: str,
    done: Callable[[dict[str, Any]], bool],
    waiting_for: str,
    timeout: float = SEND_TIMEOUT,
    sends: str = "gift-sends",
) -> Reply:
    """Polls GET /{sends}/{id} until ``done(send)``; checks the counts invariant and the status on every read."""
    deadline = time.monotonic() + timeout
    last: Reply | None = None
    while time.monotonic() < deadline:
        last = client.get(f"/{sends}/{send_id}")
        assert last.status == 200, last
        assert_counts_consistent(last.body)
        if done(last.body):
            return last
        assert last.body["status"] in ("SCHEDULED", "QUEUED", "PROCESSING"), last
        time.sleep(POLL_INTERVAL)
    pytest.fail(f"send {send_id}: {waiting_for} not reached within {timeout:.0f}s; last: {last!r}")


def wait_completed(
    client: Client, send_id: str, timeout: float = SEND_TIMEOUT, sends: str = "gift-sends"
) -> dict[str, Any]:
    """Polls GET /{sends}/{id} until COMPLETED; checks the counts invariant on every read."""
    last = wait_for(client, send_id, lambda send: send["status"] == "COMPLETED", "COMPLETED", timeout, sends)
    assert last.body["counts"]["pending"] == 0, last
    return dict(last.body)


def wait_settled(
    client: Client, send_id: str, timeout: float = SEND_TIMEOUT, sends: str = "gift-sends"
) -> dict[str, Any]:
    """Polls GET /{sends}/{id} until nothing is pending: COMPLETED, or PROCESSING while provider errors wait for
    their automatic retry (minutes away). Checks the counts invariant on every read."""

    def settled(send: dict[str, Any]) -> bool:
        return send["status"] in ("COMPLETED", "PROCESSING") and send["counts"]["pending"] == 0

    return dict(wait_for(client, send_id, settled, "nothing pending", timeout, sends).body)


def all_pages(client: Client, path: str, limit: int = 200, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following next_cursor; asserts the list shape on each page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query: dict[str, Any] = {"limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        reply = client.get(path, params=query)
        assert reply.status == 200, reply
        assert set(reply.body) == {"items", "next_cursor"}, reply
        assert len(reply.body["items"]) <= limit, reply
        items.extend(reply.body["items"])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return items
        assert reply.body["items"], f"a page with a next_cursor but no items: {reply!r}"
    pytest.fail(f"{path}: more than 1000 pages")


def account_credits(client: Client) -> int:
    reply = client.get("/account")
    assert reply.status == 200, reply
    return int(reply.body["credits"])


def seoul_date(moment: datetime) -> date:
    return moment.astimezone(SEOUL).date()


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.tzinfo is not None, f"timestamp without an offset: {text}"
    return moment


# --- the sandbox send: one send through every sandbox outcome, shared by several tests ----------------

NORMAL_PHONES = ["010-2000-0001", "01020000002", "+82 10-2000-0003"]
NORMAL_E164 = ["+821020000001", "+821020000002", "+821020000003"]
NOT_FOUND_PHONE, NOT_FOUND_E164 = "010-3000-0000", "+821030000000"
ALWAYS_FAILS_PHONE, ALWAYS_FAILS_E164 = "010-3000-9999", "+821030009999"
FAILS_TWICE_PHONE, FAILS_TWICE_E164 = "010-3000-8888", "+821030008888"
INVALID_PHONES = ["not-a-phone", "02-1234-5678"]  # not a number; a Seoul landline, not a mobile
SANDBOX_PHONES = [
    *NORMAL_PHONES,
    NOT_FOUND_PHONE,
    ALWAYS_FAILS_PHONE,
    FAILS_TWICE_PHONE,
    *INVALID_PHONES,
]
SANDBOX_CREDITS = 100_000


@dataclass(frozen=True)
class SandboxSend:
    client: Client
    promotion_id: str
    send_id: str
    accepted: dict[str, Any]
    started: datetime
    finished: datetime
    final: dict[str, Any]
    credits_before: int


@pytest.fixture(scope="session")
def sandbox_send(admin: Client) -> SandboxSend:
    client = make_account(admin, "Sandbox Shop", credits=SANDBOX_CREDITS)
    promotion_id = create_promotion(client, "Sandbox table")
    credits_before = account_credits(client)
    started = utc_now()
    reply = client.post("/gift-sends", gift_send_body(promotion_id, SANDBOX_PHONES))
    assert reply.status == 202, reply
    final = wait_settled(client, reply.body["send_id"])  # the 9999 provider error waits for its automatic retry
    return SandboxSend(
        client=client,
        promotion_id=promotion_id,
        send_id=reply.body["send_id"],
        accepted=reply.body,
        started=started,
        finished=utc_now(),
        final=final,
        credits_before=credits_before,
    )
