"""Property test: random sequences of top-ups, charges, refunds and count uses on the real domain code
(against moto). After every step: nothing below zero, the ledger sums to every balance, and a charge is
refundable exactly when the rules say (unused, within seven days, not yet refunded)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.store import DataStore
from shared.domain.accounts import accounts
from shared.domain.charges import charges
from shared.domain.clock import utc_now
from shared.errors import InsufficientCredits, RefundNotAllowed
from shared.models.common import Channel
from tests.integration.conftest import TABLE
from tests.integration.money import assert_ledger_matches_balance, use_counts

CHANNELS: tuple[Channel, ...] = ("sms", "lms", "email")
UNIT = {"sms": 20, "lms": 50, "email": 5}

steps = st.lists(
    st.one_of(
        st.tuples(st.just("top_up"), st.integers(1, 3_000)),
        st.tuples(st.just("buy"), st.sampled_from(CHANNELS), st.integers(1, 40)),
        st.tuples(st.just("refund"), st.integers(0, 9)),
        st.tuples(st.just("use"), st.sampled_from(CHANNELS), st.integers(1, 30)),
        st.tuples(st.just("days_pass"), st.integers(1, 4)),
    ),
    min_size=1,
    max_size=25,
)


@dataclass
class ModelCharge:
    charge_id: str
    channel: Channel
    quantity: int
    created_at: datetime
    used: int = 0
    refunded: bool = False

    def refundable(self, now: datetime) -> bool:
        return not self.refunded and self.used == 0 and now <= self.created_at + timedelta(days=7)


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_random_money_sequences_keep_every_invariant(aws: dict[str, Any], steps: list[tuple[Any, ...]]) -> None:
    store = DataStore(boto3.client("dynamodb"), TABLE)
    clock = Clock()
    account_id = accounts.create_account(store, "Property").account_id
    model: list[ModelCharge] = []
    credits = 0
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(charges, "utc_now", clock)
        for number, step in enumerate(steps):
            match step:
                case ("top_up", amount):
                    accounts.top_up_credits(store, account_id, amount, f"ref-{number}")
                    credits += amount
                case ("buy", channel, quantity):
                    cost = quantity * UNIT[channel]
                    try:
                        view = charges.buy_counts(store, None, account_id, channel, quantity, UNIT[channel])
                    except InsufficientCredits:
                        assert cost > credits
                    else:
                        assert cost <= credits
                        credits -= cost
                        model.append(ModelCharge(view.charge_id, channel, quantity, view.created_at))
                case ("refund", index) if model:
                    charge = model[index % len(model)]
                    expected = charge.refundable(clock.now)
                    try:
                        charges.refund_charge(store, account_id, charge.charge_id)
                    except RefundNotAllowed:
                        assert not expected
                    else:
                        assert expected
                        charge.refunded = True
                        credits += charge.quantity * UNIT[charge.channel]
                case ("use", channel, wanted):
                    available = sum(c.quantity - c.used for c in model if c.channel == channel and not c.refunded)
                    taken = use_counts(store, aws["sqs"], aws["notification_queue_url"], account_id, channel, wanted)
                    assert taken == min(wanted, available)
                    for charge in (c for c in model if c.channel == channel and not c.refunded):  # oldest first
                        use = min(taken, charge.quantity - charge.used)
                        charge.used += use
                        taken -= use
                case ("days_pass", days):
                    clock.now += timedelta(days=days)
            balance = store.get_balance(account_id)
            assert balance.credits == credits >= 0
            for channel in CHANNELS:
                expected_count = sum(c.quantity - c.used for c in model if c.channel == channel and not c.refunded)
                assert balance.count(channel) == expected_count
                assert sum(c.remaining for c in balance.open_for(channel)) == expected_count
            assert_ledger_matches_balance(store, account_id)
            for charge in model:
                stored = store.get_charge(account_id, charge.charge_id)
                assert stored is not None
                verdict = charges.refund_decision(stored, balance, clock.now)
                assert (verdict is None) == charge.refundable(clock.now)
