"""How the API reads a JSON request body: as RFC 8259 JSON, failing only with JSONDecodeError, so that every body
the service cannot read is the contract's 400 BAD_REQUEST (shared.http.errors) and never a 500."""

from __future__ import annotations

import json
from typing import Any


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def parse_json_body(text: str) -> Any:
    """``json.loads`` without Python's extensions to JSON (``NaN``, ``Infinity``, ``-Infinity``).

    The parser's own limits - nesting deeper than it can follow, integers longer than Python converts (4,300
    digits) - are reported as JSONDecodeError too: a body the service cannot read is a malformed body.

    Every request body is an object. A top-level array comes back as a tuple: Powertools' validation takes the
    first element of a *list* as the value of a non-list parameter (meant for repeated form fields), which would
    accept ``[{...}, ...]`` as its first object; a tuple it leaves alone, and no request model accepts one (422)."""
    try:
        body = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        raise json.JSONDecodeError(f"unreadable JSON ({error.__class__.__name__})", text, 0) from error
    return tuple(body) if isinstance(body, list) else body
