"""Print requirement lines read from pyproject.toml, one per line, for `pip install -r`.

    python3 scripts/pyproject_reqs.py runtime                 # [project].dependencies
    python3 scripts/pyproject_reqs.py runtime --exclude boto3 --exclude botocore
    python3 scripts/pyproject_reqs.py group dev               # [dependency-groups].dev (PEP 735)

pip 23 cannot read dependency groups (`pip install --group` needs pip >= 25.1), so the
Makefile feeds pip the output of this script instead. Standard library only (tomllib).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    if not match:
        raise SystemExit(f"cannot parse requirement {requirement!r}")
    return canonical(match.group(1))


def group_requirements(groups: dict[str, Any], name: str, seen: tuple[str, ...] = ()) -> list[str]:
    """The requirements of one dependency group, with `{include-group = ...}` expanded."""
    key = next((k for k in groups if canonical(k) == canonical(name)), None)
    if key is None:
        raise SystemExit(f"no dependency group {name!r} in pyproject.toml")
    if key in seen:
        raise SystemExit(f"dependency group cycle: {' -> '.join((*seen, key))}")
    out: list[str] = []
    for entry in groups[key]:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict) and "include-group" in entry:
            out.extend(group_requirements(groups, str(entry["include-group"]), (*seen, key)))
        else:
            raise SystemExit(f"unsupported entry in dependency group {key!r}: {entry!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["runtime", "group"])
    parser.add_argument("group", nargs="?", help="dependency group name (with kind=group)")
    parser.add_argument("--pyproject", default="pyproject.toml", type=Path)
    parser.add_argument("--exclude", action="append", default=[], metavar="NAME", help="drop this project (repeatable)")
    args = parser.parse_args(argv)

    data = tomllib.loads(args.pyproject.read_text(encoding="utf-8"))
    if args.kind == "runtime":
        requirements = list(data.get("project", {}).get("dependencies", []))
    else:
        if not args.group:
            parser.error("kind=group needs a group name")
        requirements = group_requirements(data.get("dependency-groups", {}), args.group)

    excluded = {canonical(name) for name in args.exclude}
    for requirement in requirements:
        if requirement_name(requirement) not in excluded:
            sys.stdout.write(requirement.strip() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
