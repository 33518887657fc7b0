"""docs/openapi.json: the API's OpenAPI document, generated from the code and committed.

    python -m scripts.openapi           write docs/openapi.json (make openapi)
    python -m scripts.openapi --check   fail when docs/openapi.json differs from what the code generates
                                        (make openapi-check, part of make lint)

The document is the one the API itself serves at GET /swagger?format=json: the resolver answers that request
here, in-process, as API Gateway would hand it over on stage v1 (so the server URL is always "/v1", whoever
runs this). Keys are sorted and the indentation fixed, so the same code always gives the same bytes.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.json"
STAGE = "v1"  # the Api's StageName in template.yaml


def _swagger_request() -> dict[str, Any]:
    """A REST API proxy event for GET /swagger?format=json (a public route: no authorizer context)."""
    query = {"format": "json"}
    return {
        "resource": "/{proxy+}",
        "path": "/swagger",
        "httpMethod": "GET",
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {key: [value] for key, value in query.items()},
        "pathParameters": {"proxy": "swagger"},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": "GET",
            "path": f"/{STAGE}/swagger",
            "stage": STAGE,
            "requestId": "openapi-document",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def generate() -> str:
    """The document as the code serves it, in a canonical form (sorted keys, two-space indent, final newline)."""
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    from functions.api.handler import app

    response = app.resolve(_swagger_request(), None)  # the route reads no context
    if response["statusCode"] != 200:
        raise RuntimeError(f"GET /swagger?format=json answered {response['statusCode']}: {response['body']}")
    return json.dumps(json.loads(response["body"]), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing")
    parser.add_argument("--output", type=Path, default=DOCUMENT)
    args = parser.parse_args(argv)
    current = generate()
    path: Path = args.output
    if not args.check:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(current)
        print(f"wrote {os.path.relpath(path)}")
        return 0
    committed = path.read_text() if path.exists() else ""
    if committed == current:
        print(f"{os.path.relpath(path)} is up to date")
        return 0
    diff = difflib.unified_diff(
        committed.splitlines(keepends=True), current.splitlines(keepends=True), str(path), "generated from the code"
    )
    sys.stdout.writelines(list(diff)[:80])
    print(f"\n{os.path.relpath(path)} differs from what the code generates: run `make openapi` and commit it")
    return 1


if __name__ == "__main__":
    sys.exit(main())
