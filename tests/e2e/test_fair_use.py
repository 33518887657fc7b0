"""Fair use on the running stack (contract v1.1, "Fair use"; the template's defaults, 50 requests/s with bursts of
100, counted in windows of 2 s): an account past its limit gets 429 RATE_LIMITED with a Retry-After, while another
account's requests in the same moment all succeed, and /health and the admin key are unaffected.

The account's window is filled in the deployed table first, so the check holds however fast the machine is: a real
burst needs a stack that serves one account more than 50 requests/s, and MiniStack on a busy 2-core machine serves
about 15/s (and times out under a dozen parallel clients)."""

from __future__ import annotations

import time

import boto3

from shared.adapters.store.keys import request_window
from shared.domain.accounts.fair_use import RequestLimit
from tests.api_calls import Reply
from tests.e2e.conftest import AccountFactory, Client, Stack, utc_now

RATE, BURST, WINDOW_SECONDS = 50, 100, 2.0  # AccountRequestsPerSecond, AccountRequestBurst as deployed by default


def _assert_rate_limited(reply: Reply) -> None:
    assert reply.status == 429, reply
    assert reply.body == {"code": "RATE_LIMITED", "message": reply.body["message"]}, reply
    assert reply.headers["Retry-After"].isdigit(), reply.headers
    assert 1 <= int(reply.headers["Retry-After"]) <= WINDOW_SECONDS, reply.headers


def test_an_account_whose_window_is_full_gets_429_and_nothing_is_done(
    stack: Stack, admin: Client, anonymous: Client, new_account: AccountFactory
) -> None:
    busy, calm = new_account("Full Window Shop"), new_account("Calm Shop")
    env = stack.env
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    limit, now = RequestLimit(per_second=RATE, burst=BURST), utc_now()
    # This window and the next two hold BURST requests already, as if the account had just made them: the
    # requests below land in one of them however slowly the stack answers.
    windows = [limit.window_at(now).start_ms + n * limit.window_ms for n in range(3)]
    for start in windows:
        pk, sk = request_window(busy.account_id, start)
        item = {"pk": {"S": pk}, "sk": {"S": sk}, "requests": {"N": str(BURST)}, "expires_at": {"N": "0"}}
        dynamodb.put_item(TableName=env["DATA_TABLE_NAME"], Item=item)

    _assert_rate_limited(busy.post("/promotions", {"name": "Too many"}))
    _assert_rate_limited(busy.get("/account"))
    assert calm.get("/account").status == 200
    assert admin.post(f"/admin/accounts/{busy.account_id}/gift-approval", {"approved": True}).status == 200
    assert anonymous.get("/health").status == 200
    assert utc_now().timestamp() * 1000 < windows[-1] + limit.window_ms, "the test outlived the windows it filled"

    time.sleep((windows[-1] + limit.window_ms) / 1000 - utc_now().timestamp() + 0.1)  # past the filled windows
    listed = busy.get("/promotions")
    assert listed.status == 200, listed
    assert listed.body["items"] == [], "the refused POST created a promotion"
