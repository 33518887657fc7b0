"""A provider's 429 over the wire-level fakes: ProviderUnavailable with the answer's Retry-After, nothing resolved or
issued for it, and the engine's retry waits that long and goes again with the same idempotency key."""

from __future__ import annotations

from typing import Any, cast

import pytest

from shared.adapters.giftishow import GiftishowCredentials, GiftishowProvider, tr_id_for
from shared.adapters.solapi import SolapiApi, SolapiCredentials
from shared.domain.clock import utc_now
from shared.domain.gifts.provider import IssueOutcome, IssueRequest
from shared.domain.sends.batch_processing import BatchWorker, Outcome, deliver_in_bulk
from shared.errors import ProviderUnavailable
from shared.models.items import RecipientState
from tests.fakes import solapi_server
from tests.fakes.giftishow_server import AUTH_CODE, AUTH_TOKEN, USER_ID, FakeGiftishowServer
from tests.fakes.solapi_server import FakeSolapiServer

KEY = "gsnd_0193abcdef12aabbccddeeff-1-r00001-0"


def _giftishow(fake: FakeGiftishowServer) -> GiftishowProvider:
    credentials = GiftishowCredentials(custom_auth_code=AUTH_CODE, custom_auth_token=AUTH_TOKEN, user_id=USER_ID)
    return GiftishowProvider(credentials, "0212345678", endpoint=fake.url, dev_yn="Y", timeout_seconds=2)


def _request(key: str = KEY) -> IssueRequest:
    return IssueRequest(idempotency_key=key, gift_id="G00000000101", phone="+821012345678", title="Win", content="Hi")


def test_a_giftishow_429_is_an_outage_with_its_retry_after_and_nothing_issued() -> None:
    with FakeGiftishowServer() as fake:
        fake.clock = lambda: 1_000.0  # one second that never ends
        fake.limit_rate(1)
        provider = _giftishow(fake)
        assert provider.issue(_request("other-attempt")).outcome is IssueOutcome.ISSUED
        with pytest.raises(ProviderUnavailable) as raised:
            provider.issue(_request())
        assert raised.value.retry_after == 1.0
        assert fake.calls("0201") == 0  # refused before any work: nothing to read back
        assert tr_id_for(KEY) not in fake.issued_tr_ids
        assert fake.rate() == {"limit": 1, "peak": 2, "throttled": 1, "requests": 2}


def test_the_engine_waits_the_retry_after_and_reuses_the_key() -> None:
    with FakeGiftishowServer() as fake:
        now = [1_000.0]
        fake.clock = lambda: now[0]
        fake.limit_rate(1)
        provider = _giftishow(fake)
        provider.issue(_request("other-attempt"))  # this second's one request
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            now[0] += seconds  # the fake's next second

        worker = BatchWorker(store=cast(Any, None), payment=cast(Any, None), sleep=sleep, retry_base_seconds=0.2)
        recipient = RecipientState(rid="r00001", phone="+821012345678", status="PENDING", updated_at=utc_now())
        keys: list[str] = []

        def deliver(key: str, waiting: list[RecipientState]) -> dict[str, Outcome | None]:
            keys.append(key)
            result = provider.issue(_request(key))
            return {recipient.rid: Outcome("SENT", coupon_id=result.coupon_id)}

        outcomes = deliver_in_bulk(worker, [recipient], cast(Any, _Send()), KEY, deliver)

    assert outcomes[recipient.rid].status == "SENT" and outcomes[recipient.rid].calls == 2
    assert slept == [1.0]  # max(0.2 s backoff, Retry-After 1 s)
    assert keys == [KEY, KEY]
    sends = [fake.form(r) for r in fake.requests if fake.form(r).get("api_code") == "0204"]
    assert [form["tr_id"] for form in sends[1:]] == [tr_id_for(KEY)] * 2  # the same tr_id both times
    assert fake.issue_count == 2  # the other attempt's coupon and this one's, once


def test_retries_that_run_out_are_a_provider_error_not_a_recipient_failure() -> None:
    worker = BatchWorker(store=cast(Any, None), payment=cast(Any, None), sleep=lambda s: None)
    recipient = RecipientState(rid="r00001", phone="+821012345678", status="PENDING", updated_at=utc_now())

    def deliver(key: str, waiting: list[RecipientState]) -> dict[str, Outcome | None]:
        raise ProviderUnavailable("HTTP 429", retry_after=1)

    outcome = deliver_in_bulk(worker, [recipient], cast(Any, _Send()), KEY, deliver)[recipient.rid]
    assert (outcome.status, outcome.reason) == ("FAILED", "PROVIDER_ERROR")  # resendable, refunded, auto-retried


def test_a_solapi_429_carries_its_retry_after() -> None:
    with FakeSolapiServer() as fake:
        fake.clock = lambda: 2_000.0
        fake.limit_rate(1)
        credentials = SolapiCredentials.model_validate(
            {"api_key": solapi_server.API_KEY, "api_secret": solapi_server.API_SECRET}
        )
        api = SolapiApi(fake.url, credentials)
        api.create_group()
        with pytest.raises(ProviderUnavailable) as raised:
            api.create_group()
    assert raised.value.retry_after == 1.0


class _Send:
    kind = "GIFT"
