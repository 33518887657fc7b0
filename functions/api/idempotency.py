"""Idempotency-Key for the API's money-moving POSTs: Powertools records keyed by (account, key), the body
validated against the first request's. Domain functions additionally bind the key to the id they create,
so a retry after a crash finishes the same send or charge instead of making another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel

from functions.api.dependencies import IDEMPOTENCY_CONFIG, idempotency_store

ResultT = TypeVar("ResultT", bound=BaseModel)


class IdempotentCall(BaseModel):
    operation: str
    account_id: str
    idempotency_key: str
    body: dict[str, Any]


def once(
    operation: str,
    account_id: str,
    idempotency_key: str | None,
    body: dict[str, Any],
    run: Callable[[IdempotentCall], ResultT],
    result_type: type[ResultT],
) -> ResultT:
    """Run `run` once per (account, operation, key); a repeat returns the stored first result."""
    call = IdempotentCall(operation=operation, account_id=account_id, idempotency_key=idempotency_key or "", body=body)
    if not idempotency_key:
        return run(call)
    wrapped = idempotent_function(
        run,
        data_keyword_argument="call",
        persistence_store=idempotency_store(),
        config=IDEMPOTENCY_CONFIG,
        output_serializer=PydanticSerializer(result_type),
    )
    result: ResultT = wrapped(call=call)
    return result
