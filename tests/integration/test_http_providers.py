"""What HttpGiftProvider promises, against its real HTTP fake on 127.0.0.1: the sandbox
outcomes, one attempt per call, idempotent replays, how answers map to outcomes and errors, the endpoint and key
checks, and no secrets in logs or errors (tests.integration.http_providers drives them)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from shared.errors import ProviderRejected, ProviderUnavailable
from tests.integration.http_providers import (
    HTTP_PROVIDERS,
    PHONE,
    RECIPIENT_NOT_FOUND_STATUSES,
    REFUSED,
    TRANSIENT_OR_UNREADABLE,
    HttpProvider,
    each_provider_with,
    unused_port_url,
)

Provider = HttpProvider[Any, Any, Any]


@pytest.fixture(params=list(HTTP_PROVIDERS))
def http_provider(request: pytest.FixtureRequest) -> Iterator[Provider]:
    provider_type = HTTP_PROVIDERS[request.param]
    with provider_type.fake_type(provider_type.api_key) as fake:
        yield provider_type(fake)


# -- the sandbox outcomes and one attempt per call ---------------------------------------------------------------


def test_unknown_phone_is_recipient_not_found(http_provider: Provider) -> None:
    adapter = http_provider.adapter(timeout_seconds=2.0)
    assert http_provider.send(adapter, phone="+821012340000") == http_provider.not_found
    assert http_provider.issued_count() == 0


def test_replaying_an_idempotency_key_returns_the_same_answer_issued_once(http_provider: Provider) -> None:
    adapter = http_provider.adapter(timeout_seconds=2.0)
    first = http_provider.send(adapter, "send-1:r1:0")
    replay = http_provider.send(adapter, "send-1:r1:0")
    other = http_provider.send(adapter, "send-1:r1:1")  # a resend round is a new key: issued anew

    assert replay == first
    assert http_provider.result_id(replay) is not None
    assert http_provider.succeeded(other) and http_provider.result_id(other) != http_provider.result_id(first)
    assert http_provider.issued_count() == 2
    assert len(http_provider.fake.requests) == 3


def test_outage_is_unavailable_after_one_attempt_each(http_provider: Provider) -> None:
    adapter = http_provider.adapter(timeout_seconds=2.0)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            http_provider.send(adapter, phone="+821012349999")
    assert len(http_provider.fake.requests) == 3  # one HTTP call per send: the adapter never retries on its own
    assert http_provider.issued_count() == 0


def test_8888_fails_twice_per_idempotency_key_then_succeeds(http_provider: Provider) -> None:
    adapter = http_provider.adapter(timeout_seconds=2.0)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            http_provider.send(adapter, "send-1:r2:0", "+821012348888")
    succeeded = http_provider.send(adapter, "send-1:r2:0", "+821012348888")

    assert http_provider.succeeded(succeeded)
    assert http_provider.result_id(succeeded) == http_provider.issued_id("send-1:r2:0")
    assert http_provider.fake.calls_for("send-1:r2:0") == 3
    with pytest.raises(ProviderUnavailable):  # a new key starts over
        http_provider.send(adapter, "send-1:r2:1", "+821012348888")


def test_injected_pool_with_retries_still_makes_one_attempt(http_provider: Provider) -> None:
    pool = urllib3.PoolManager(retries=urllib3.Retry(total=5, status_forcelist=[503], backoff_factor=0))
    adapter = http_provider.adapter(timeout_seconds=2.0, http=pool)

    with pytest.raises(ProviderUnavailable):
        http_provider.send(adapter, phone="+821012349999")
    assert len(http_provider.fake.requests) == 1


# -- transport failures ---------------------------------------------------------------------------------------


def test_timeout_is_unavailable_and_the_retry_gets_the_same_answer(http_provider: Provider) -> None:
    adapter = http_provider.adapter(timeout_seconds=0.3)
    http_provider.fake.hang_next(30)  # the provider issues or delivers, but the answer never arrives in time

    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        http_provider.send(adapter, "send-1:r3:0")
    assert time.monotonic() - started < 3

    issued_meanwhile = http_provider.issued_id("send-1:r3:0")
    assert issued_meanwhile is not None
    assert http_provider.result_id(http_provider.send(adapter, "send-1:r3:0")) == issued_meanwhile
    assert http_provider.issued_count() == 1


def test_connection_refused_is_unavailable(http_provider: Provider) -> None:
    adapter = http_provider.adapter(unused_port_url(), timeout_seconds=1.0)

    with pytest.raises(ProviderUnavailable):
        http_provider.send(adapter)
    for call in http_provider.other_calls(adapter):
        with pytest.raises(ProviderUnavailable):
            call()


# -- answers ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", RECIPIENT_NOT_FOUND_STATUSES)
def test_recipient_not_found_answers(http_provider: Provider, status: int) -> None:
    http_provider.fake.respond_next(status, {"code": "RECIPIENT_NOT_FOUND"})
    assert http_provider.send(http_provider.adapter(timeout_seconds=2.0)) == http_provider.not_found


@pytest.mark.parametrize(
    ("http_provider", "status", "body", "result"),
    each_provider_with(lambda provider: provider.definite_answers),
    indirect=["http_provider"],
)
def test_definite_answers(http_provider: Provider, status: int, body: Any, result: Any) -> None:
    http_provider.fake.respond_next(status, body)
    assert http_provider.send(http_provider.adapter(timeout_seconds=2.0)) == result


@pytest.mark.parametrize(
    ("http_provider", "status", "body", "raw"),
    each_provider_with(lambda provider: [*TRANSIENT_OR_UNREADABLE, *provider.transient_answers]),
    indirect=["http_provider"],
)
def test_transient_or_unreadable_answers_are_unavailable(
    http_provider: Provider, status: int, body: Any, raw: bytes | None
) -> None:
    http_provider.fake.respond_next(status, body, raw=raw)
    with pytest.raises(ProviderUnavailable):
        http_provider.send(http_provider.adapter(timeout_seconds=2.0))


@pytest.mark.parametrize(
    ("http_provider", "status", "body"),
    each_provider_with(lambda provider: [*REFUSED, *provider.refusals]),
    indirect=["http_provider"],
)
def test_non_transient_refusals_are_rejected(http_provider: Provider, status: int, body: Any) -> None:
    http_provider.fake.respond_next(status, body)
    with pytest.raises(ProviderRejected) as raised:
        http_provider.send(http_provider.adapter(timeout_seconds=2.0))
    assert raised.value.status == status


def test_wrong_api_key_is_rejected_not_unavailable(http_provider: Provider) -> None:
    adapter = http_provider.adapter(api_key="revoked-key", timeout_seconds=2.0)

    with pytest.raises(ProviderRejected) as raised:
        http_provider.send(adapter)
    assert not isinstance(raised.value, ProviderUnavailable)
    assert (raised.value.status, raised.value.code) == (401, "UNAUTHORIZED")
    for call in http_provider.other_calls(adapter):
        with pytest.raises(ProviderRejected):
            call()
    assert http_provider.issued_count() == 0


def test_wrong_endpoint_path_is_rejected(http_provider: Provider) -> None:
    adapter = http_provider.adapter(f"{http_provider.fake.url}/api", timeout_seconds=2.0)
    with pytest.raises(ProviderRejected) as raised:
        http_provider.send(adapter)
    assert raised.value.status == 404


def test_reusing_a_key_for_another_request_is_rejected(http_provider: Provider) -> None:
    adapter = http_provider.adapter(timeout_seconds=2.0)
    http_provider.send(adapter, "send-1:r1:0")
    with pytest.raises(ProviderRejected) as raised:
        http_provider.send_other_content(adapter, "send-1:r1:0")
    assert (raised.value.status, raised.value.code) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert http_provider.issued_count() == 1


# -- secrets stay out of logs and errors ----------------------------------------------------------------------


def test_no_api_key_phone_text_or_ids_in_logs_or_errors(
    http_provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = http_provider.adapter(timeout_seconds=0.3)
    errors: list[BaseException] = []

    issued = http_provider.send(adapter, "k1")
    http_provider.send(adapter, "k1")
    assert http_provider.send(adapter, "k2", "+821012340000") == http_provider.not_found
    with pytest.raises(ProviderUnavailable) as failed:
        http_provider.send(adapter, "k3", "+821012349999")
    errors.append(failed.value)
    http_provider.fake.hang_next(30)
    with pytest.raises(ProviderUnavailable) as timed_out:
        http_provider.send(adapter, "k4", "+821055556666")
    errors.append(timed_out.value)
    garbled_body, garbled_id = http_provider.garbled_success
    http_provider.fake.respond_next(200, garbled_body)
    with pytest.raises(ProviderUnavailable) as garbled:
        http_provider.send(adapter, "k5")
    errors.append(garbled.value)
    with pytest.raises(ProviderRejected) as rejected:
        http_provider.send(http_provider.adapter(api_key="wrong-" + http_provider.api_key), "k6")
    errors.append(rejected.value)

    issued_id = http_provider.result_id(issued)
    assert issued_id
    texts = [caplog.text, repr(adapter), *(str(e) for e in errors), *(repr(r.__dict__) for r in caplog.records)]
    secrets = [
        http_provider.api_key,
        PHONE,
        "+821012349999",
        "+821012340000",
        "+821055556666",
        issued_id,
        garbled_id,
        *http_provider.message_texts,
        "12345678",
    ]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert http_provider.logged_as in caplog.text  # the failures were logged, just without the secrets


# -- construction ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["", "provider.example.com", "ftp://provider.example.com", "https://"])
def test_endpoint_must_be_an_http_url(http_provider: Provider, endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        http_provider.adapter(endpoint)


def test_api_key_is_required(http_provider: Provider) -> None:
    with pytest.raises(ValueError, match="api key"):
        http_provider.adapter("https://provider.example.com", "")


def test_trailing_slash_in_endpoint(http_provider: Provider) -> None:
    assert http_provider.succeeded(http_provider.send(http_provider.adapter(f"{http_provider.fake.url}/")))
    assert http_provider.fake.requests[0].path == http_provider.path
