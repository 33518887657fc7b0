"""A bounded run of the fault-injection harness (reliability/faults.py): seeded scenarios with crashes,
duplicates, provider timeouts and transaction conflicts at step boundaries; every invariant must hold."""

from __future__ import annotations

from typing import Any

import pytest

from reliability import faults


@pytest.fixture(scope="module")
def bounded_run() -> dict[str, Any]:
    return faults.run(scenarios=120, seed=20261125, workers=1)


def test_seeded_fault_scenarios_keep_every_invariant(bounded_run: dict[str, Any]) -> None:
    assert bounded_run["failures"] == []
    assert bounded_run["invariant_violations"] == 0
    assert bounded_run["faults_fired"] == 120  # every scenario injected its fault
    assert set(bounded_run["faults_by_kind"]) == set(faults.FAULTS)
    assert bounded_run["crash_points"] == bounded_run["crash_points_total"] >= 40  # every boundary, both sides


def test_a_planted_double_debit_is_caught() -> None:
    """The harness can fail: a state where a redelivered batch was debited twice breaks invariant 3."""
    harness = faults._worker_harness()
    world = harness.world(0)
    harness.restore(world)
    state_items = [item.to_regular_json() for item in harness._tables[faults.TABLE].all_items()]
    ledger = next(i for i in state_items if str(i["sk"]).startswith("LEDGER#") and i["type"] == "TOP_UP")
    state_items.append({**ledger, "sk": "LEDGER#zzz-planted", "type": "GIFT_DEBIT", "credits_delta": -faults.PRICE,
                        "quantity": 1})
    state = faults.state_from_items(state_items, world.account_id)
    assert any(v.startswith("2:") or v.startswith("3:") for v in faults.violations(state))
