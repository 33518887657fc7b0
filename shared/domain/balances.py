"""Every change to credits and counts goes through one compare-and-set loop with its ledger entry."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from shared.errors import ConcurrentUpdate, InsufficientCredits
from shared.models.common import Channel
from shared.models.items import AlertSettings, Balance, ChargeItem, CountsTaken, OpenCharge

ResultT = TypeVar("ResultT")

MAX_ATTEMPTS = 12
CHANNELS: tuple[Channel, ...] = ("sms", "lms", "email")


def retry_on_conflict(attempt: Callable[[], ResultT], *, max_attempts: int = MAX_ATTEMPTS) -> ResultT:
    """Run a read-decide-write attempt until its conditional write wins (jittered backoff between)."""
    for tries in range(1, max_attempts + 1):
        try:
            return attempt()
        except ConcurrentUpdate:
            if tries == max_attempts:
                raise
            time.sleep(random.uniform(0, 0.01 * 2 ** min(tries, 6)))
    raise AssertionError("unreachable")


# --- counts: bought by charges, used oldest charge first -----------------------------------------


def add_charge(balance: Balance, channel: Channel, charge_id: str, quantity: int, cost: int) -> Balance:
    """Credits become `quantity` counts of `channel`; the charge joins the end of the oldest-first list."""
    if balance.credits < cost:
        raise InsufficientCredits(f"{cost} credits needed, {balance.credits} available")
    open_charges = {
        **balance.open_charges,
        channel: [*balance.open_for(channel), OpenCharge(charge_id=charge_id, remaining=quantity)],
    }
    return balance.model_copy(
        update={
            "credits": balance.credits - cost,
            channel: balance.count(channel) + quantity,
            "open_charges": open_charges,
        }
    )


def take_counts(balance: Balance, channel: Channel, wanted: int) -> tuple[Balance, list[CountsTaken]]:
    """Take up to `wanted` counts, oldest charge first. Returns the new balance and what came from where."""
    taken: list[CountsTaken] = []
    remaining: list[OpenCharge] = []
    still_wanted = wanted
    for charge in balance.open_for(channel):
        use = min(still_wanted, charge.remaining)
        if use:
            taken.append(CountsTaken(charge_id=charge.charge_id, count=use))
            still_wanted -= use
        if charge.remaining - use:
            remaining.append(charge.model_copy(update={"remaining": charge.remaining - use}))
    total = wanted - still_wanted
    after = balance.model_copy(
        update={
            channel: balance.count(channel) - total,
            "open_charges": {**balance.open_charges, channel: remaining},
        }
    )
    return after, taken


def give_back_counts(balance: Balance, channel: Channel, given: list[CountsTaken]) -> Balance:
    """Return counts to the charges they were taken from (a provider error), keeping oldest-first order."""
    by_id = {c.charge_id: c.remaining for c in balance.open_for(channel)}
    for part in given:
        by_id[part.charge_id] = by_id.get(part.charge_id, 0) + part.count
    open_list = [OpenCharge(charge_id=cid, remaining=n) for cid, n in sorted(by_id.items()) if n > 0]
    return balance.model_copy(
        update={
            channel: balance.count(channel) + sum(p.count for p in given),
            "open_charges": {**balance.open_charges, channel: open_list},
        }
    )


def unused_quantity(balance: Balance, channel: Channel, charge_id: str) -> int:
    return next((c.remaining for c in balance.open_for(channel) if c.charge_id == charge_id), 0)


def remove_unused_charge(balance: Balance, charge: ChargeItem) -> Balance:
    """A refund: the charge's counts leave the balance and its credits come back."""
    still_open = [c for c in balance.open_for(charge.channel) if c.charge_id != charge.charge_id]
    return balance.model_copy(
        update={
            "credits": balance.credits + charge.credits_spent,
            charge.channel: balance.count(charge.channel) - charge.quantity,
            "open_charges": {**balance.open_charges, charge.channel: still_open},
        }
    )


# --- low-balance alerts --------------------------------------------------------------------------


def low_balance_crossings(before: Balance, after: Balance, alerts: AlertSettings | None) -> list[dict[str, Any]]:
    """One BalanceLow detail per threshold this change crossed downwards (from >= threshold to below)."""
    if alerts is None:
        return []
    watched: list[tuple[str, int, int, int | None]] = [("credits", before.credits, after.credits, alerts.credits_below)]
    watched += [(ch, before.count(ch), after.count(ch), alerts.counts_below.get(ch)) for ch in CHANNELS]
    return [
        {"account_id": after.account_id, "balance": name, "value": new, "threshold": threshold}
        for name, old, new, threshold in watched
        if threshold is not None and old >= threshold > new
    ]
