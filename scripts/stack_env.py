"""`.local/stack.env`: what `make stack-up` / `make run` tell their callers (API_URL, keys, AWS settings).

Written by scripts/local_stack.py once the stack is deployed and its demo account and user exist, in one rename, so a
tool that waits for the file (or for /health) and reads it always gets every value. Read by local_stack itself (to
reuse a running stack), by the e2e suite and by `make verify`. A shell loads it with
`set -a; . .local/stack.env; set +a`.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK_ENV = ROOT / ".local" / "stack.env"


def read(path: Path = STACK_ENV) -> dict[str, str]:
    """The file's NAME=value lines (an optional `export ` and quotes around the value are dropped)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def write(values: dict[str, str], path: Path = STACK_ENV) -> None:
    """The whole file at once: written beside it (owner-only, it holds keys), then renamed over it."""
    lines = [f"# Written by scripts/local_stack.py. Load with: set -a; . {path.name}; set +a"]
    lines += [f"{name}={value}" for name, value in values.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(lines) + "\n")
    os.replace(partial, path)
