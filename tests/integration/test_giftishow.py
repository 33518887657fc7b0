"""GiftishowProvider against the wire-level fake Giftishow Biz (tests.fakes.giftishow_server) on 127.0.0.1: issuing,
the tr_id, unknown outcomes resolved by coupon info before any retry, the provider's codes, the catalog, and one
gift batch through the real engine over moto."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import boto3
import pytest

from shared.adapters.giftishow import (
    GiftishowCredentials,
    GiftishowProvider,
    domestic_number,
    tr_id_for,
)
from shared.adapters.providers import gift_provider_from_settings
from shared.adapters.store import DataStore
from shared.domain.clock import gifticon_expiry, utc_now
from shared.domain.gifts.catalog import sync_catalog
from shared.domain.gifts.gift_processing import GiftPayment
from shared.domain.gifts.provider import IssueOutcome, IssueRequest
from shared.domain.jobs import BatchJob
from shared.domain.sends.batch_processing import BatchWorker, process_batch
from shared.domain.sends.sends import recipients_page
from shared.errors import ProviderRejected, ProviderUnavailable
from shared.models.common import SendKind
from shared.settings import GiftProviderSettings
from tests.fakes.giftishow_server import AUTH_CODE, AUTH_TOKEN, USER_ID, FakeGiftishowServer, goods
from tests.integration.api_client import new_account
from tests.integration.conftest import TABLE
from tests.lambda_events import drain_queue

PHONE = "+821012345678"
COFFEE = "G00000000101"
RETIRED = "G00000000105"
KEY = "nsnd_0193abcdef12aabbccddeeff-3-r00150-1"
CALLBACK = "02-1234-5678"


@pytest.fixture
def fake() -> Iterator[FakeGiftishowServer]:
    with FakeGiftishowServer() as server:
        yield server


def provider(
    fake: FakeGiftishowServer, *, auth_code: str = AUTH_CODE, auth_token: str = AUTH_TOKEN, **options: Any
) -> GiftishowProvider:
    credentials = GiftishowCredentials(custom_auth_code=auth_code, custom_auth_token=auth_token, user_id=USER_ID)
    options.setdefault("timeout_seconds", 0.5)
    options.setdefault("send_timeout_seconds", 0.5)
    return GiftishowProvider(credentials, CALLBACK, endpoint=fake.url, dev_yn="Y", **options)


def gift(key: str = KEY, *, phone: str = PHONE, gift_id: str = COFFEE) -> IssueRequest:
    return IssueRequest(
        idempotency_key=key, gift_id=gift_id, phone=phone, title="축하합니다! 1등 당첨", content="선물입니다"
    )


def sent_form(fake: FakeGiftishowServer, index: int = -1) -> dict[str, str]:
    return fake.form(fake.requests[index])


# -- tr_id -------------------------------------------------------------------------------------------------------


def test_tr_id_is_deterministic_short_and_plain() -> None:
    keys = [KEY, KEY.replace("-1", "-2"), "send-1:r1:0", "x" * 300]
    ids = [tr_id_for(k) for k in keys]
    assert ids == [tr_id_for(k) for k in keys]
    assert len(set(ids)) == len(ids)
    assert all(len(i) <= 25 and re.fullmatch(r"[a-z0-9_]+", i) for i in ids)


# -- issuing -----------------------------------------------------------------------------------------------------


def test_issue_sends_the_documented_form_and_is_issued(fake: FakeGiftishowServer) -> None:
    result = provider(fake).issue(gift())

    tr_id = tr_id_for(KEY)
    assert (result.outcome, result.coupon_id) == (IssueOutcome.ISSUED, tr_id)
    assert result.expires_on == gifticon_expiry(utc_now())
    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/bizApi/send")
    assert (request.header("Content-Type") or "").startswith("application/x-www-form-urlencoded")
    assert sent_form(fake) == {
        "api_code": "0204",
        "custom_auth_code": AUTH_CODE,
        "custom_auth_token": AUTH_TOKEN,
        "dev_yn": "Y",
        "goods_code": COFFEE,
        "tr_id": tr_id,
        "phone_no": "01012345678",
        "callback_no": "0212345678",
        "mms_title": "축하합니다! 1등",  # cut to the title limit
        "mms_msg": "선물입니다",
        "gubun": "N",
        "user_id": USER_ID,
    }
    assert fake.coupon(tr_id) is not None


def test_same_key_twice_issues_once(fake: FakeGiftishowServer) -> None:
    adapter = provider(fake)
    first, second = adapter.issue(gift()), adapter.issue(gift())

    assert first.coupon_id == second.coupon_id == tr_id_for(KEY)
    assert second.outcome is IssueOutcome.ISSUED
    assert fake.issue_count == 1
    assert (fake.calls("0204"), fake.calls("0201")) == (2, 1)  # the duplicate tr_id was read back


@pytest.mark.parametrize("fault", ["dropped", "timeout"])
def test_an_issued_coupon_whose_answer_was_lost_is_found_by_coupon_info(fake: FakeGiftishowServer, fault: str) -> None:
    fake.set_goods([goods(COFFEE, "아메리카노", "스타벅스", 4_500)])
    if fault == "dropped":
        fake.drop_next_response(500)
    else:
        fake.hang_next(5)
    result = provider(fake).issue(gift())

    coupon = fake.coupon(tr_id_for(KEY))
    assert coupon is not None
    assert result.outcome is IssueOutcome.ISSUED
    assert result.coupon_id == coupon.tr_id
    assert result.expires_on == date(
        int(coupon.valid_until[:4]), int(coupon.valid_until[4:6]), int(coupon.valid_until[6:])
    )
    assert (fake.calls("0204"), fake.calls("0201"), fake.issue_count) == (1, 1, 1)


@pytest.mark.parametrize(
    ("status", "body", "raw"),
    [
        (500, None, b"<html>oops</html>"),
        (503, None, None),
        (200, None, b"not json"),
        (200, {"code": "E9999"}, None),
        (200, {"code": "0000", "result": None}, None),
    ],
)
def test_an_answer_that_did_not_issue_is_unavailable_after_coupon_info(
    fake: FakeGiftishowServer, status: int, body: Any, raw: bytes | None
) -> None:
    fake.respond_next(status, body, raw=raw)  # the send never reached the provider's state
    adapter = provider(fake)
    with pytest.raises(ProviderUnavailable):
        adapter.issue(gift())
    assert (fake.calls("0201"), fake.issue_count) == (1, 0)

    assert adapter.issue(gift()).outcome is IssueOutcome.ISSUED  # the engine's retry, same tr_id
    assert fake.issue_count == 1


def test_coupon_info_failing_is_unavailable(fake: FakeGiftishowServer) -> None:
    fake.respond_next(503, None)
    fake.respond_next(200, {"code": "E9999", "message": "오류가 발생했습니다"})
    with pytest.raises(ProviderUnavailable):
        provider(fake).issue(gift())
    fake.hang_next(5)
    fake.respond_next(500, None)
    with pytest.raises(ProviderUnavailable):
        provider(fake).issue(gift("other-key"))


def test_a_coupon_cancelled_at_the_provider_is_rejected_not_issued(fake: FakeGiftishowServer) -> None:
    adapter = provider(fake)
    adapter.issue(gift())
    fake.coupon(tr_id_for(KEY)).pin_status = "07"  # type: ignore[union-attr]
    with pytest.raises(ProviderRejected):
        adapter.issue(gift())


def test_nested_send_error_is_read(fake: FakeGiftishowServer) -> None:
    fake.respond_next(200, {"code": "0000", "result": {"code": "ERR0817", "message": "수신전화번호 오류"}})
    assert provider(fake).issue(gift()).outcome is IssueOutcome.RECIPIENT_NOT_FOUND


def test_bad_phone_is_recipient_not_found(fake: FakeGiftishowServer) -> None:
    assert provider(fake).issue(gift(phone="+821012340000")).outcome is IssueOutcome.RECIPIENT_NOT_FOUND
    assert provider(fake).issue(gift(phone="+12025550123")).outcome is IssueOutcome.RECIPIENT_NOT_FOUND
    assert fake.calls("0204") == 1  # a number the provider cannot take is never sent
    assert fake.issue_count == 0


@pytest.mark.parametrize("gift_id", [RETIRED, "G99999999999"])
def test_discontinued_or_unknown_goods_is_gift_unavailable(fake: FakeGiftishowServer, gift_id: str) -> None:
    assert provider(fake).issue(gift(gift_id=gift_id)).outcome is IssueOutcome.GIFT_UNAVAILABLE
    assert fake.issue_count == 0


@pytest.mark.parametrize(
    ("options", "code"),
    [({"auth_code": "REAL-wrong"}, "E0008"), ({"auth_token": "wrong"}, "E0009")],
)
def test_auth_failure_is_rejected(fake: FakeGiftishowServer, options: dict[str, str], code: str) -> None:
    with pytest.raises(ProviderRejected) as rejected:
        provider(fake, **options).issue(gift())
    assert rejected.value.code == code
    assert fake.calls("0201") == 0
    with pytest.raises(ProviderRejected):
        provider(fake, **options).catalog()


def test_empty_biz_money_is_rejected(fake: FakeGiftishowServer) -> None:
    fake.biz_money = 100
    with pytest.raises(ProviderRejected) as rejected:
        provider(fake).issue(gift())
    assert rejected.value.code == "E0010"


def test_slow_or_failing_catalog_is_unavailable(fake: FakeGiftishowServer) -> None:
    fake.hang_next(5)
    with pytest.raises(ProviderUnavailable):
        provider(fake).catalog()
    fake.respond_next(502, None, raw=b"<html>bad gateway</html>")
    with pytest.raises(ProviderUnavailable):
        provider(fake).catalog()


def test_wrong_path_is_rejected(fake: FakeGiftishowServer) -> None:
    adapter = GiftishowProvider(
        GiftishowCredentials(custom_auth_code=AUTH_CODE, custom_auth_token=AUTH_TOKEN, user_id=USER_ID),
        CALLBACK,
        endpoint=fake.url.removesuffix("/bizApi") + "/elsewhere",
        dev_yn="Y",
    )
    with pytest.raises(ProviderRejected):
        adapter.issue(gift())


def test_no_secrets_in_logs_or_errors(fake: FakeGiftishowServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = provider(fake)
    errors: list[BaseException] = []
    adapter.issue(gift())
    fake.drop_next_response(500)
    adapter.issue(gift("k2"))
    for scripted in ({"code": "E9999"}, {"code": "E9999"}):
        fake.respond_next(500, scripted)
    with pytest.raises(ProviderUnavailable) as unavailable:
        adapter.issue(gift("k3"))
    errors.append(unavailable.value)
    with pytest.raises(ProviderRejected) as rejected:
        provider(fake, auth_token="wrong").issue(gift("k4"))
    errors.append(rejected.value)

    pins = [c.pin_no for c in (fake.coupon(tr_id_for(k)) for k in (KEY, "k2")) if c]
    texts = [caplog.text, repr(adapter), *(str(e) for e in errors), *(repr(r.__dict__) for r in caplog.records)]
    for secret in [AUTH_CODE, AUTH_TOKEN, PHONE, "01012345678", "선물입니다", tr_id_for(KEY), *pins]:
        assert all(secret not in text for text in texts)
    assert "Giftishow" in caplog.text


# -- catalog -----------------------------------------------------------------------------------------------------


def test_catalog_pages_through_the_goods_list_and_maps_them(fake: FakeGiftishowServer) -> None:
    rows = [goods(f"G{n:011d}", f"상품 {n}", f"브랜드 {n % 7}", 1_000 + n) for n in range(1, 251)]
    rows[10]["goodsStateCd"] = "STOP"
    rows.insert(20, {"goodsCode": "G-NO-PRICE", "goodsName": "가격 없음"})
    fake.set_goods(rows)

    catalog = provider(fake).catalog()

    assert fake.calls("0101") == 3  # 100 + 100 + 51 rows
    assert [sent_form(fake, i)["start"] for i in range(3)] == ["1", "2", "3"]
    assert {sent_form(fake, i)["size"] for i in range(3)} == {"100"}
    assert len(catalog) == 250
    assert [g.position for g in catalog] == list(range(1, 251))
    first = catalog[0]
    assert (first.gift_id, first.name, first.brand, first.price, first.status) == (
        "G00000000001",
        "상품 1",
        "브랜드 1",
        1_001,
        "ON_SALE",
    )
    assert catalog[10].status == "DISCONTINUED"


def test_catalog_sync_takes_price_changes_and_discontinuation(aws: dict[str, Any], fake: FakeGiftishowServer) -> None:
    store = DataStore(boto3.client("dynamodb"), TABLE)
    first = sync_catalog(store, provider(fake))
    assert (first.updated, first.discontinued) == (5, 1)

    fake.set_goods(
        [goods(COFFEE, "아메리카노 T", "스타벅스", 4_700), goods("G00000000102", "케이크", "파리바게뜨", 25_000)]
    )
    second = sync_catalog(store, provider(fake))

    by_id = {g.gift_id: g for g in store.list_gifts()}
    assert by_id[COFFEE].price == 4_700
    assert {g for g, item in by_id.items() if item.status == "DISCONTINUED"} == {
        "G00000000103",
        "G00000000104",
        RETIRED,
    }
    assert second.discontinued == 2


def test_settings_choose_giftishow_with_its_secret(aws: dict[str, Any], fake: FakeGiftishowServer) -> None:
    secret = boto3.client("secretsmanager").create_secret(
        Name="giftishow",
        SecretString=json.dumps({"custom_auth_code": AUTH_CODE, "custom_auth_token": AUTH_TOKEN, "user_id": USER_ID}),
    )
    settings = GiftProviderSettings.model_validate(
        {
            "GIFT_PROVIDER": "giftishow",
            "GIFT_PROVIDER_ENDPOINT": fake.url,
            "GIFT_PROVIDER_SECRET_ARN": secret["ARN"],
            "GIFTISHOW_DEV_YN": "Y",
            "GIFTISHOW_CALLBACK_NUMBER": CALLBACK,
        }
    )
    adapter = gift_provider_from_settings(settings, boto3.client("dynamodb"), TABLE)
    assert adapter.issue(gift()).outcome is IssueOutcome.ISSUED
    assert GiftProviderSettings.model_validate({"GIFT_PROVIDER_ENDPOINT": ""}).gift_provider_endpoint.startswith(
        "https://bizapi.giftishow.com"
    )
    with pytest.raises(ValueError, match="DEV_YN"):
        gift_provider_from_settings(settings.model_copy(update={"giftishow_dev_yn": ""}), None, TABLE)


def test_a_malformed_secret_names_fields_not_values() -> None:
    with pytest.raises(ValueError, match="Giftishow secret") as failed:
        GiftishowCredentials.from_secret('{"custom_auth_code": "REAL-secret-value", "user_id": ""}')
    assert "REAL-secret-value" not in str(failed.value)
    assert "custom_auth_token" in str(failed.value)


# -- through the batch engine ------------------------------------------------------------------------------------


def test_a_gift_batch_settles_one_debit_per_issued_gift_with_a_dropped_answer(
    aws: dict[str, Any], fake: FakeGiftishowServer
) -> None:
    adapter = provider(fake)
    sync_catalog(DataStore(boto3.client("dynamodb"), TABLE), adapter)
    client = new_account(credits=100_000)
    promotion = client.post("/promotions", {"name": "Launch"}).body["promotion_id"]
    phones = ["010-1111-0001", "010-1111-0002", "010-1111-0000", "010-1111-0004"]
    reply = client.post(
        "/gift-sends",
        {
            "promotion_id": promotion,
            "gift_id": COFFEE,
            "title": "Winner",
            "content": "You won a coffee",
            "recipients": [{"phone": p, "name": f"n{i}"} for i, p in enumerate(phones)],
        },
    )
    assert reply.status == 202, reply.body
    send_id = reply.body["send_id"]
    worker = BatchWorker(
        store=DataStore(boto3.client("dynamodb"), TABLE),
        payment=GiftPayment(adapter),
        retry_base_seconds=0,
        concurrency=1,
    )

    fake.drop_next_response(500)  # the first recipient's coupon is issued, its answer lost
    messages = drain_queue(aws["sqs"], aws["queue_url"])
    for message in messages:
        process_batch(worker, BatchJob.model_validate_json(message["Body"]))
    for message in messages:  # SQS delivers again: nothing more is issued or charged
        process_batch(worker, BatchJob.model_validate_json(message["Body"]))

    store = DataStore(boto3.client("dynamodb"), TABLE)
    send = store.get_send(client.account_id, SendKind.GIFT, send_id)
    assert send is not None
    recipients = {r.phone: r for r in recipients_page(store, send, None, 100, None)[0]}
    sent = [r for r in recipients.values() if r.status == "SENT"]
    assert len(sent) == 3 == fake.issue_count
    assert all(r.charged == 4_500 for r in sent)
    assert (recipients["+821011110000"].reason, recipients["+821011110000"].charged) == ("INVALID_RECIPIENT", 0)
    assert {r.coupon_id for r in sent} == fake.issued_tr_ids
    assert (fake.calls("0204"), fake.calls("0201")) == (4, 1)  # the lost answer was read back, never resent
    balance = store.get_balance(client.account_id)
    assert balance.credits == 100_000 - 3 * 4_500
    assert sum(e.credits_delta for e in store.all_ledger_entries(client.account_id)) == balance.credits


def test_domestic_number() -> None:
    assert domestic_number("+821012345678") == "01012345678"
    assert domestic_number("+82212345678") is None
