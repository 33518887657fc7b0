"""A large gift send through a Giftishow fake that allows only the configured requests per second (GIFT_PROVIDER_RPS,
the stack's GiftProviderRequestsPerSecond) and answers 429 past it: the consumers' token buckets keep the provider
under its limit, every recipient ends SENT, and no coupon is issued twice.

E2E_RATE_RECIPIENTS sets the size (10,000 by default). The measured peak is printed (run with -s to see it).
"""

from __future__ import annotations

import os
import time

from tests.e2e.conftest import AccountFactory, Stack, all_pages, create_promotion, gift_send_body, wait_completed
from tests.e2e.providers.conftest import Fakes

AMERICANO, AMERICANO_PRICE = "G00000000101", 4_500
RECIPIENTS = int(os.environ.get("E2E_RATE_RECIPIENTS", "10000"))
TIMEOUT_SECONDS = float(os.environ.get("E2E_RATE_TIMEOUT", "900"))


def _phones(count: int) -> list[str]:
    # Unique numbers, none ending 0000 (the fake refuses those as unknown recipients).
    return [f"010-{6000 + n // 9000:04d}-{1 + n % 9000:04d}" for n in range(count)]


def test_a_large_gift_send_stays_under_the_providers_rate_limit(
    new_account: AccountFactory, fakes: Fakes, stack: Stack
) -> None:
    limit = int(stack.env["GIFT_PROVIDER_RPS"])
    client = new_account("Rate Limited Shop", credits=RECIPIENTS * AMERICANO_PRICE)
    before = fakes.giftishow.get("calls")
    fakes.giftishow.post("rate", {"requests_per_second": limit})
    started = time.monotonic()
    body = gift_send_body(create_promotion(client, "Rate"), _phones(RECIPIENTS), AMERICANO)
    # A cold API container can take longer than the gateway's 29 s over 10,000 recipients: warm it with the estimate.
    assert client.post("/gift-sends", body | {"dry_run": True}).status == 200
    try:
        reply = client.post("/gift-sends", body)
        assert reply.status == 202, reply
        send = wait_completed(client, reply.body["send_id"], timeout=TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
        rate = fakes.giftishow.get("rate")
    finally:
        fakes.giftishow.post("rate", {"requests_per_second": None})
    after = fakes.giftishow.get("calls")
    print(
        f"\n{RECIPIENTS} gifts in {elapsed:.0f} s; provider peak {rate['peak']} requests/s against a limit of "
        f"{limit}; {rate['requests']} requests, {rate['throttled']} answered 429"
    )

    assert rate["peak"] <= limit, rate
    assert send["counts"] == {"total": RECIPIENTS, "pending": 0, "sent": RECIPIENTS, "failed": 0, "resendable": 0}
    recipients = all_pages(client, f"/gift-sends/{reply.body['send_id']}/recipients")
    assert {r["status"] for r in recipients} == {"SENT"}
    coupons = [r["coupon"]["coupon_id"] for r in recipients]
    assert len(set(coupons)) == RECIPIENTS  # one coupon each
    assert after["issued"] - before["issued"] == RECIPIENTS  # and the provider issued no other
