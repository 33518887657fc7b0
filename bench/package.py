"""Package and start-up: each function's artifact size in a SAM build (the shared dependency layer reported
apart) and each handler's cold import time, measured in a fresh interpreter per handler (the best of a few
runs, so another process's burst on a busy machine is not counted). Merges ``artifact_bytes``,
``layer_bytes`` and ``cold_import_seconds`` into bench/results.json and prints them.

Run: make bench-package   (after make build-local; or .venv/bin/python -m bench.package [build dir])
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
BUILD = ROOT / ".aws-sam" / "build-local"
LAYER = "DependenciesLayer"
ARTIFACT_TARGET_BYTES = 1_000_000
IMPORT_TARGET_SECONDS = 0.3
RUNS = 3
# What Lambda sets before the import; powertools reads some of it at import time.
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "ap-northeast-2",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
}
_TIMER = "import sys,time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def artifact_sizes(build: Path) -> tuple[dict[str, int], int]:
    functions = {d.name: directory_bytes(d) for d in sorted(build.iterdir()) if d.is_dir() and d.name != LAYER}
    return functions, directory_bytes(build / LAYER) if (build / LAYER).is_dir() else 0


def handlers() -> list[str]:
    return sorted(f"functions.{p.parent.name}.handler" for p in (ROOT / "functions").glob("*/handler.py"))


def cold_import_seconds(module: str) -> float:
    """The import of ``module`` in a fresh interpreter with nothing imported before it (best of RUNS)."""
    env = {"PATH": "/usr/bin:/bin", **ENVIRONMENT}
    runs = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", _TIMER.format(module=module)], cwd=ROOT, env=env, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return min(runs)


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("build", nargs="?", type=Path, default=BUILD)
    options = arguments.parse_args()
    if not options.build.is_dir():
        raise SystemExit(f"{options.build} is missing: make build-local first")
    artifacts, layer = artifact_sizes(options.build)
    imports = {module: round(cold_import_seconds(module), 3) for module in handlers()}
    figures = {
        "artifact_bytes": artifacts,
        "layer_bytes": layer,
        "cold_import_seconds": imports,
        "package_targets": {"artifact_bytes": ARTIFACT_TARGET_BYTES, "cold_import_seconds": IMPORT_TARGET_SECONDS},
    }
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps(results | figures, indent=2) + "\n")
    for name, size in artifacts.items():
        verdict = "PASS" if size <= ARTIFACT_TARGET_BYTES else "FAIL"
        print(f"artifact {name:28}{size:>12,} bytes  target <= {ARTIFACT_TARGET_BYTES:,}: {verdict}")
    print(f"layer    {LAYER:28}{layer:>12,} bytes  (shared by every function; {options.build.name})")
    for module, seconds in imports.items():
        verdict = "PASS" if seconds <= IMPORT_TARGET_SECONDS else "FAIL"
        print(f"cold import {module:40}{seconds:>8.3f} s  target <= {IMPORT_TARGET_SECONDS}: {verdict}")


if __name__ == "__main__":
    main()
