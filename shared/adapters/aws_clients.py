"""Every boto3 client of the service, built here: timeouts that fit inside the functions' own, and one retry
policy per purpose.

- ``aws_client(service)``: botocore's standard retry mode (3 attempts, exponential backoff with jitter, on
  throttling, 5xx and connection errors) for calls that are safe to repeat: DynamoDB (every write is conditional),
  SQS, EventBridge, SSM, Secrets Manager.
- ``aws_client(service, retries=False)``: one attempt per call, for the sends the domain retries itself with its own
  idempotency key and backoff (SES, SNS). A hidden SDK retry of a send whose answer was lost would deliver it twice
  and keep the failure from the domain's retry rounds. (The providers' HTTP APIs get the same from urllib3.)

Three attempts of connect + read timeout, plus the backoff between them, stay under the API's 29 s.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 6
# Consumers call AWS from up to PROVIDER_CONCURRENCY (<= 64) threads; botocore keeps 10 connections by default.
MAX_POOL_CONNECTIONS = 64

_TIMEOUTS: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    "read_timeout": READ_TIMEOUT_SECONDS,
    "max_pool_connections": MAX_POOL_CONNECTIONS,
}
RETRYING = Config(**_TIMEOUTS, retries={"mode": "standard", "total_max_attempts": 3})
SINGLE_ATTEMPT = Config(**_TIMEOUTS, retries={"mode": "standard", "total_max_attempts": 1})


def aws_client(service: str, *, retries: bool = True) -> Any:
    """A boto3 client for ``service`` (region, credentials and endpoint from the environment, as Lambda sets them)."""
    return boto3.client(service, config=RETRYING if retries else SINGLE_ATTEMPT)  # type: ignore[call-overload]
