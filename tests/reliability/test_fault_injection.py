"""A bounded run of the fault-injection harness (reliability/faults.py): seeded scenarios with crashes,
duplicates, provider timeouts and transaction conflicts at step boundaries; every invariant must hold."""

from __future__ import annotations

from reliability import faults


def test_seeded_fault_scenarios_keep_every_invariant() -> None:
    result = faults.run(scenarios=60, seed=20261125)
    assert result["failures"] == []
    assert result["invariant_violations"] == 0
    assert set(result["faults_by_kind"]) == set(faults.FAULTS)  # every kind of fault was injected
    assert result["crash_points"] >= 10
