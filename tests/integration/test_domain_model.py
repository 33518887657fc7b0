"""A bounded run of the model-based test (reliability/model.py): random sequences of every domain operation,
including crashes and duplicate deliveries of batch jobs, on the real domain code against moto; the contract's
invariants and the model's own expectations must hold after every step."""

from __future__ import annotations

from reliability import model


def test_random_operation_sequences_keep_every_invariant() -> None:
    # Seeded; but the machine's state holds sets whose order follows the hash seed, so the examples differ from
    # one process to the next: enough of them that every rule runs in any of them.
    result = model.run(examples=70, steps=15, seed=20261125)

    assert result["invariant_violations"] == 0
    assert result["model_examples"] >= 70
    assert result["model_steps"] >= 70 * 5
    never_ran = sorted(set(model.rule_names()) - set(result["rules"]))
    assert never_ran == [], f"rules that never ran: {never_ran}"
    assert result["crashes_injected"] > 0
    assert result["jobs_processed"] > 0
    assert result["invariant_checks"] > 0
