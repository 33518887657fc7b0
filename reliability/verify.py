"""`make verify`: the reliability and security evidence in one run, written to reliability/results.json.

- the model-based test (reliability/model.py) against moto, in a background process;
- meanwhile, on the local stack (`make stack-up`, MiniStack on 127.0.0.1): schemathesis over every operation of
  the service's own OpenAPI document, the tenant matrix (tests/e2e/test_tenants.py), then every log line the
  Lambdas wrote (CloudWatch Logs) scanned for personal data, API keys and coupon codes;
- the stack is stopped and the fault injection (reliability/faults.py), then its webhook scenarios
  (reliability/webhook_faults.py), run against moto on every core;
- the figures are printed and checked: the run fails on any invariant violation, 5xx, schema
  mismatch, tenant leak or unmasked line, or when a suite ran fewer cases than asked.

Run: .venv/bin/python -m reliability.verify [--scenarios 10000] [--webhook-scenarios 600] [--model-examples 200]
     [--fuzz-examples 25]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import phonenumbers

from reliability.webhook_faults import FIGURES as WEBHOOK_FIGURES  # results.json's "webhooks" section
from scripts import stack_env
from shared.domain.accounts.auth import ACCOUNT_KEY_PREFIX
from shared.observability import mask_personal_data

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "reliability" / "results.json"
WORK = ROOT / ".local" / "verify"
PYTHON = sys.executable

# What must never reach a log line in clear: Korean mobile numbers (the masking keeps the last two digits only),
# email addresses (kept: the domain), API keys, bearer tokens and coupon codes. Phone numbers are found by the
# phonenumbers library's own matcher, not by a pattern like the masker's (shared/observability.py), which this scan
# checks. The ids Lambda and Powertools put in log lines (request ids, X-Ray trace ids) are blanked out first: a run
# of digits in a random id is never read as a number.
_IDS = re.compile(
    r"(?i)(?<![0-9a-z])(?:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|1-[0-9a-f]{8}-[0-9a-f]{24})(?![0-9a-z])"
)
_SECRETS = {
    "email": re.compile(r"(?<![\w.+*-])[\w.+-]*[\w+-]@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    "api_key": re.compile(re.escape(ACCOUNT_KEY_PREFIX) + r"(?!\*\*\*)[A-Za-z0-9_-]+"),
    "bearer": re.compile(r"(?i)\bbearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}"),
    "coupon": re.compile(r"\bCPN-[0-9A-F]{16}\b"),
}


def shows_korean_mobile(line: str) -> bool:
    """A valid Korean mobile number, in any spelling phonenumbers recognises in running text, outside any id."""
    text = _IDS.sub(" ", line)
    return any(
        phonenumbers.number_type(match.number) == phonenumbers.PhoneNumberType.MOBILE
        for match in phonenumbers.PhoneNumberMatcher(text, "KR", leniency=phonenumbers.Leniency.VALID)
    )


def leak_kinds(line: str) -> list[str]:
    """What a log line shows in clear that it must not (empty when the line is clean)."""
    kinds = ["phone"] if shows_korean_mobile(line) else []
    return kinds + [kind for kind, pattern in _SECRETS.items() if pattern.search(line)]


FUZZ_CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SCHEMA_CHECKS = frozenset({"status_code_conformance", "content_type_conformance", "response_schema_conformance"})


def log(message: str) -> None:
    print(f"[verify] {message}", flush=True)


def start(name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log(f"{name}: {mask_personal_data(' '.join(command))}")  # the keys stay out of CI's output
    output = (WORK / f"{name}.log").open("wb")
    return subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, env=env)


# ---------------------------------------------------------------------------------------------------------------
# The stack-side suites
# ---------------------------------------------------------------------------------------------------------------
def fuzz(stack: dict[str, str], examples: int, seed: int) -> dict[str, Any]:
    """schemathesis over every operation except /admin (an account key cannot use them: 403 by design, covered
    by the tenant matrix); the admin routes are fuzzed too, with the admin key, in a second run."""
    document = WORK / "openapi.json"
    import urllib.request

    with urllib.request.urlopen(f"{stack['API_URL']}/swagger?format=json", timeout=30) as reply:  # noqa: S310
        document.write_bytes(reply.read())
    runs = [
        ("account", stack["DEMO_API_KEY"], ["--exclude-path-regex", "^/admin"]),
        ("admin", stack["ADMIN_API_KEY"], ["--include-path-regex", "^/admin"]),
    ]
    totals: dict[str, Any] = {
        "fuzz_cases": 0,
        "server_errors": 0,
        "schema_mismatches": 0,
        "fuzz_errors": 0,
        "fuzz_cases_per_operation": Counter(),
        "fuzz_failures": [],
    }
    for name, key, selection in runs:
        report = WORK / f"schemathesis-{name}.ndjson"
        command = [
            str(ROOT / ".venv" / "bin" / "schemathesis"),
            "run",
            str(document),
            "--url",
            stack["API_URL"],
            "-H",
            f"Authorization: Bearer {key}",
            "--checks",
            FUZZ_CHECKS,
            "--max-examples",
            str(examples),
            "--seed",
            str(seed),
            "--workers",
            "1",
            "--request-timeout",
            "60",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--phases",
            "examples,coverage,fuzzing",
            *selection,
        ]
        start(f"schemathesis-{name}", command).wait()
        _count_fuzz(report, totals)
    totals["fuzz_operations"] = len(totals["fuzz_cases_per_operation"])
    totals["fuzz_cases_per_operation"] = dict(sorted(totals["fuzz_cases_per_operation"].items()))
    totals["fuzz_failures"] = totals["fuzz_failures"][:20]
    return totals


def _count_fuzz(report: Path, totals: dict[str, Any]) -> None:
    if not report.exists():
        totals["fuzz_errors"] += 1
        totals["fuzz_failures"].append({"error": f"no report at {report.name}"})
        return
    for line in report.read_text().splitlines():
        event = json.loads(line)
        if "NonFatalError" in event:
            totals["fuzz_errors"] += 1
            totals["fuzz_failures"].append({"error": str(event["NonFatalError"].get("info", ""))[:300]})
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        label = recorder["label"]
        totals["fuzz_cases_per_operation"][label] += len(recorder.get("interactions", {}))
        totals["fuzz_cases"] += len(recorder.get("interactions", {}))
        for interaction in recorder.get("interactions", {}).values():
            response = interaction.get("response") or {}
            if response.get("status_code", 0) >= 500:
                totals["server_errors"] += 1
        for case_id, checks in recorder.get("checks", {}).items():
            for check in checks:
                if check["status"] != "failure":
                    continue
                failure = (check.get("failure_info") or {}).get("failure", {})
                if check["name"] in SCHEMA_CHECKS:
                    totals["schema_mismatches"] += 1
                totals["fuzz_failures"].append(
                    {
                        "operation": label,
                        "case": case_id,
                        "check": check["name"],
                        "code": failure.get("code"),
                        "message": failure.get("message"),
                    }
                )


def tenant_matrix(stack: dict[str, str]) -> dict[str, Any]:
    report = WORK / "tenants.xml"
    start(
        "tenants",
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/e2e/test_tenants.py", f"--junitxml={report}"],
        env={**os.environ, **stack},
    ).wait()
    suite = ElementTree.parse(report).getroot()  # noqa: S314 (our own pytest's report)
    cases = suite.findall(".//testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    return {"tenant_routes": len(cases), "tenant_leaks": len(failed), "tenant_failures": failed}


def scan_logs(stack: dict[str, str]) -> dict[str, Any]:
    """Every line every Lambda of the stack wrote, from CloudWatch Logs."""
    logs = boto3.client(
        "logs",
        endpoint_url=stack["AWS_ENDPOINT_URL"],
        region_name=stack["AWS_REGION"],
        aws_access_key_id=stack["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack["AWS_SECRET_ACCESS_KEY"],
    )
    lines, leaks, samples = 0, Counter[str](), list[dict[str, Any]]()
    groups = [
        g["logGroupName"]
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix="/aws/lambda/")
        for g in page["logGroups"]
    ]
    for group in groups:
        token: str | None = None
        while True:
            page = logs.filter_log_events(logGroupName=group, **({"nextToken": token} if token else {}))
            for event in page.get("events", []):
                lines += 1
                found = leak_kinds(event["message"])
                leaks.update(found)
                if found and len(samples) < 10:
                    samples.append({"group": group, "kinds": found, "line": event["message"][:300]})
            token = page.get("nextToken")
            if not token or not page.get("events"):
                break
    return {
        "log_groups": len(groups),
        "log_lines_scanned": lines,
        "unmasked_pii_lines": leaks["phone"] + leaks["email"],
        "secret_lines": leaks["api_key"] + leaks["bearer"] + leaks["coupon"],
        "leaks_by_kind": dict(leaks),
        "leak_samples": samples,
    }


# ---------------------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--webhook-scenarios", type=int, default=600)
    parser.add_argument("--model-examples", type=int, default=200)
    parser.add_argument("--model-steps", type=int, default=20)
    parser.add_argument("--fuzz-examples", type=int, default=25, help="schemathesis examples per operation")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    options = parser.parse_args()
    options.output = options.output.resolve()
    WORK.mkdir(parents=True, exist_ok=True)
    for stale in WORK.iterdir():  # reports of an earlier run must not count for this one
        stale.unlink()
    started = time.monotonic()
    log(f"seed {options.seed}; logs in {WORK.relative_to(ROOT)}")

    faults_out, model_out = WORK / "faults.json", WORK / "model.json"
    # The model-based test (one process) runs beside the stack-side suites; the fault scenarios take every core
    # once the stack is down: run beside MiniStack's Lambda workers they were slower by several times.
    model = start(
        "model",
        [
            PYTHON,
            "-m",
            "reliability.model",
            "--examples",
            str(options.model_examples),
            "--steps",
            str(options.model_steps),
            "--seed",
            str(options.seed),
            "--output",
            str(model_out),
        ],
    )
    results: dict[str, Any] = {"seed": options.seed}
    try:
        if start("stack-up", ["make", "stack-up"]).wait() != 0:
            raise RuntimeError(f"the local stack did not start: see {WORK / 'stack-up.log'}")
        stack = stack_env.read()
        results |= fuzz(stack, options.fuzz_examples, options.seed)
        results |= tenant_matrix(stack)
        results |= scan_logs(stack)
    finally:
        start("stack-down", ["make", "stack-down"]).wait()
    stack_seconds = round(time.monotonic() - started, 1)
    start(
        "faults",
        [
            PYTHON,
            "-m",
            "reliability.faults",
            "--scenarios",
            str(options.scenarios),
            "--seed",
            str(options.seed),
            "--workers",
            str(options.workers),
            "--output",
            str(faults_out),
        ],
    ).wait()
    webhooks_out = WORK / "webhook_faults.json"
    start(
        "webhook-faults",
        [
            PYTHON,
            "-m",
            "reliability.webhook_faults",
            "--scenarios",
            str(options.webhook_scenarios),
            "--seed",
            str(options.seed),
            "--workers",
            str(options.workers),
            "--output",
            str(webhooks_out),
        ],
    ).wait()
    model.wait()
    if not webhooks_out.exists():
        raise RuntimeError(f"the webhook fault suite wrote no result: see {WORK / 'webhook-faults.log'}")
    webhook_result = json.loads(webhooks_out.read_text())
    if not faults_out.exists():
        raise RuntimeError(f"the fault suite wrote no result: see {WORK / 'faults.log'}")
    fault_result = json.loads(faults_out.read_text())
    if model_out.exists():
        model_result = json.loads(model_out.read_text())
    else:  # the machine raised: hypothesis's falsifying example is in the log
        log(f"the model-based test failed: see {WORK / 'model.log'}")
        model_result = {"model_examples": 0, "model_steps": 0, "invariant_violations": 1}
    results |= {
        "scenarios_run": fault_result["scenarios_run"],
        "crash_points": fault_result["crash_points"],
        "crash_points_total": fault_result["crash_points_total"],
        "faults_by_kind": fault_result["faults_by_kind"],
        "invariant_violations": fault_result["invariant_violations"] + model_result["invariant_violations"],
        "model_examples": model_result["model_examples"],
        "model_steps": model_result["model_steps"],
        "model_rules": model_result.get("rules", {}),
        "webhooks": {name: webhook_result[name] for name in WEBHOOK_FIGURES} | {"failures": webhook_result["failures"]},
        "seconds": {
            "stack_suites": stack_seconds,
            "faults": fault_result["seconds"],
            "webhook_faults": webhook_result["seconds"],
            "model": model_result.get("seconds"),
            "total": round(time.monotonic() - started, 1),
        },
    }
    problems = judge(results, options)
    results["problems"] = problems
    options.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print_figures(results, options.output)
    for problem in problems:
        log(f"FAILED: {problem}")
    return 1 if problems else 0


def judge(results: dict[str, Any], options: argparse.Namespace) -> list[str]:
    problems = [
        f"{name} = {results[name]}"
        for name in (
            "invariant_violations",
            "server_errors",
            "schema_mismatches",
            "fuzz_errors",
            "tenant_leaks",
            "unmasked_pii_lines",
            "secret_lines",
        )
        if results[name]
    ]
    if results["scenarios_run"] < options.scenarios:
        problems.append(f"only {results['scenarios_run']} fault scenarios ran")
    if results["crash_points"] < results["crash_points_total"]:
        problems.append(f"crash points covered {results['crash_points']} of {results['crash_points_total']}")
    webhooks = results["webhooks"]
    if webhooks["violations"] or webhooks["foreign_receipts"]:
        problems.append(
            f"webhook violations = {webhooks['violations']}, foreign receipts = {webhooks['foreign_receipts']}"
        )
    if webhooks["webhook_scenarios"] < options.webhook_scenarios:
        problems.append(f"only {webhooks['webhook_scenarios']} webhook scenarios ran")
    if webhooks["crash_points"] < webhooks["crash_points_total"]:
        problems.append(f"webhook crash points covered {webhooks['crash_points']} of {webhooks['crash_points_total']}")
    if results["model_examples"] < options.model_examples:
        problems.append(f"only {results['model_examples']} model examples ran")
    if not results["fuzz_cases_per_operation"] or min(results["fuzz_cases_per_operation"].values()) == 0:
        problems.append("an operation got no fuzz cases")
    if not results["tenant_routes"] or not results["log_lines_scanned"]:
        problems.append("the tenant matrix or the log scan found nothing to check")
    return problems


def print_figures(results: dict[str, Any], output: Path) -> None:
    rows = [
        "scenarios_run",
        "crash_points",
        "crash_points_total",
        "invariant_violations",
        "model_examples",
        "model_steps",
        "fuzz_operations",
        "fuzz_cases",
        "server_errors",
        "schema_mismatches",
        "fuzz_errors",
        "tenant_routes",
        "tenant_leaks",
        "log_lines_scanned",
        "unmasked_pii_lines",
        "secret_lines",
    ]
    print(f"\n  reliability and security figures ({os.path.relpath(output, ROOT)})")
    for name in rows:
        print(f"  {name:<22} {results.get(name)}")
    for name in WEBHOOK_FIGURES:
        print(f"  {'webhooks.' + name:<32} {results['webhooks'][name]}")
    print(f"  {'seconds':<22} {results['seconds']}")
    per_operation = results["fuzz_cases_per_operation"]
    print(
        f"  fuzz cases per operation: min {min(per_operation.values())}, max {max(per_operation.values())} "
        f"over {len(per_operation)} operations\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
