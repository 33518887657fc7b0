"""A bounded run of the fault-injection harness (reliability/faults.py): seeded scenarios with crashes,
duplicates, provider timeouts, partly successful bulk calls, transaction conflicts, and early, replayed,
contradictory, crashed and racing delivery reports; every invariant must hold."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

import pytest

from reliability import faults

T = TypeVar("T")


def _in_own_process(work: Callable[..., T], *args: Any) -> T:
    """The harness keeps moto started and patched for its whole process; a child keeps that from the other
    tests of this pytest worker."""
    with ProcessPoolExecutor(1, mp_context=get_context("fork")) as pool:
        return pool.submit(work, *args).result()


@pytest.fixture(scope="module")
def bounded_run() -> dict[str, Any]:
    return _in_own_process(faults.run, 240, 20261125, 1)


def test_seeded_fault_scenarios_keep_every_invariant(bounded_run: dict[str, Any]) -> None:
    assert bounded_run["failures"] == []
    assert bounded_run["invariant_violations"] == 0
    # Every scenario injects its fault but the odd report fault that finds no report in its world's run.
    assert bounded_run["faults_fired"] >= 236
    assert set(bounded_run["faults_by_kind"]) == set(faults.FAULTS)
    assert bounded_run["crash_points"] == bounded_run["crash_points_total"] >= 60  # every boundary, both sides
    assert bounded_run["reports_applied"] > 0


def _violations_of_a_planted_double_debit() -> list[str]:
    harness = faults._worker_harness()
    world = harness.world(0)
    harness.restore(world)
    state_items = [item.to_regular_json() for item in harness._tables[faults.TABLE].all_items()]
    ledger = next(i for i in state_items if str(i["sk"]).startswith("LEDGER#") and i["type"] == "TOP_UP")
    state_items.append(
        {**ledger, "sk": "LEDGER#zzz-planted", "type": "GIFT_DEBIT", "credits_delta": -faults.PRICE, "quantity": 1}
    )
    return faults.violations(faults.state_from_items(state_items, world.account_id))


def test_a_planted_double_debit_is_caught() -> None:
    """The harness can fail: a state where a redelivered batch was debited twice breaks invariant 3."""
    violations = _in_own_process(_violations_of_a_planted_double_debit)
    assert any(v.startswith("2:") or v.startswith("3:") for v in violations)


def test_seeded_webhook_scenarios_deliver_every_event_to_its_own_account_only() -> None:
    """reliability/webhook_faults.py, bounded: crashes at webhook-path boundaries and duplicated events and jobs."""
    from reliability import webhook_faults

    result = _in_own_process(webhook_faults.run, 24, 20261125, 1)
    assert result["failures"] == []
    assert result["violations"] == result["foreign_receipts"] == 0
    assert set(result["faults_by_kind"]) == set(webhook_faults.SCHEDULE)
    assert result["events_produced"] > 0
    assert result["delivered_at_least_once"] == result["deliveries"] > 0
