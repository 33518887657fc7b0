"""What the two API clients share: tests.integration.api_client calls the API Lambda handler in-process,
tests.e2e.conftest calls the deployed stack over HTTP. Both answer with a Reply, offer get/post/put/delete over
their own ``call`` (the transport, all that differs) and open accounts through the admin API alike."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    body: Any  # the parsed JSON, None for an empty or non-JSON body
    headers: Any  # a dict in-process; requests' case-insensitive headers over HTTP
    text: str = ""  # the body as sent

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"Reply({self.status}, {self.text[:600]!r})"


class ApiCalls:
    """The HTTP verbs over ``call(method, path, body=None, **options)``, which a subclass defines."""

    call: Callable[..., Reply]

    def get(self, path: str, **options: Any) -> Reply:
        return self.call("GET", path, **options)

    def post(self, path: str, body: Any = None, **options: Any) -> Reply:
        return self.call("POST", path, body, **options)

    def put(self, path: str, body: Any = None, **options: Any) -> Reply:
        return self.call("PUT", path, body, **options)

    def delete(self, path: str, **options: Any) -> Reply:
        return self.call("DELETE", path, **options)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def open_account(admin: ApiCalls, name: str, *, approved: bool = True, credits: int = 0) -> tuple[str, str]:
    """A new account through the admin API, approved for gifts and topped up if asked: (account_id, api_key)."""
    created = admin.post("/admin/accounts", {"name": name})
    assert created.status == 201, created
    account_id = created.body["account_id"]
    if approved:
        reply = admin.post(f"/admin/accounts/{account_id}/gift-approval", {"approved": True})
        assert reply.status == 200, reply
    if credits:
        reply = admin.post(f"/admin/accounts/{account_id}/credits", {"amount": credits, "reference": unique("seed")})
        assert reply.status == 200, reply
        assert reply.body["credits"] == credits, reply
    return account_id, str(created.body["api_key"])
