"""Moves a send queue's dead-letter messages back to the queue they came from, so the consumer finishes each
stuck batch.

    python -m scripts.redrive [--queue gift|notification|all] [--dry-run] [--method auto|move-task|copy]
                              (--stack-env .local/stack.env | --stack-name NAME)

`make redrive` runs it against the local stack (`--stack-env`: the queue URLs and the MiniStack endpoint from
.local/stack.env). Against AWS, `--stack-name` finds the queues among the CloudFormation stack's resources
(GiftSendQueue / GiftSendDeadLetterQueue, NotificationSendQueue / NotificationSendDeadLetterQueue) with the
default boto3 credentials and region. Before moving anything it checks that the source queue's RedrivePolicy
names that dead-letter queue. It prints what it found and moved per queue and exits 1 if any queue failed.

Two ways to move, `--method auto` (the default) picks the first the endpoint offers:
  move-task  SQS StartMessageMoveTask from the dead-letter queue to its source, followed with
             ListMessageMoveTasks until it is COMPLETED (FAILED or CANCELLED is a failure). If a task is already
             RUNNING for the queue it is followed instead of starting another (SQS allows one per queue). AWS.
  copy       ReceiveMessage from the dead-letter queue, SendMessageBatch to the source, and DeleteMessage only
             for the entries that were sent: a crash in between leaves a message on both queues (a duplicate),
             never on neither. Used where the move task is missing (MiniStack 1.5 answers InvalidAction; moto
             does not implement it).

Duplicates and stale jobs are harmless because a job only names a batch (shared/domain/jobs.py BatchJob) and
the consumer finishes a batch at most once (shared/domain/sends/batch_processing.py): a batch with a reservation is
finished with the same provider idempotency keys and only one settlement per reservation wins its version
condition; a settled batch has no reservation and no PENDING recipient, so its job does nothing; a job of a
DRAFT, SCHEDULED or CANCELLED send, or of a missing batch, is dropped.

Sources:
- StartMessageMoveTask (SourceArn = the DLQ, DestinationArn optional, one active task per queue, only DLQs of SQS
  queues): https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html
- ListMessageMoveTasks (most recent first, MaxResults default 1, up to 10) and its entry (Status RUNNING,
  COMPLETED, CANCELLING, CANCELLED or FAILED; ApproximateNumberOfMessagesMoved; FailureReason when FAILED):
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListMessageMoveTasks.html and
  .../API_ListMessageMoveTasksResultEntry.html
- A redriven message is a new message (new MessageId and enqueue time, retention restarted), which is why nothing
  here or in the consumer keys on the message id; a move task runs for at most 36 hours:
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html
- MiniStack's SQS action table (ministack/services/sqs.py, 1.5.33) has no move-task actions; moto 5.2 raises
  NotImplementedError for them.
- A queue's PhysicalResourceId in the stack (what `!Ref` gives) is its URL, as template.yaml's *_QUEUE_URL
  variables rely on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from scripts import stack_env

QueueName = Literal["gift", "notification"]
Method = Literal["auto", "move-task", "copy"]

# The template's logical ids and the .local/stack.env names of each send queue and its dead-letter queue.
LOGICAL_IDS: dict[QueueName, tuple[str, str]] = {
    "gift": ("GiftSendQueue", "GiftSendDeadLetterQueue"),
    "notification": ("NotificationSendQueue", "NotificationSendDeadLetterQueue"),
}
ENV_NAMES: dict[QueueName, tuple[str, str]] = {
    "gift": ("GIFT_SEND_QUEUE_URL", "GIFT_SEND_DEAD_LETTER_QUEUE_URL"),
    "notification": ("NOTIFICATION_SEND_QUEUE_URL", "NOTIFICATION_SEND_DEAD_LETTER_QUEUE_URL"),
}
# What an endpoint without the move-task actions answers: MiniStack's and SQS's code for an unknown action.
_NOT_OFFERED = frozenset({"InvalidAction", "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation"})
_FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
_RECEIVE_LIMIT = 10  # SQS's maximum per ReceiveMessage / SendMessageBatch / DeleteMessageBatch
# Long polling: a short ReceiveMessage samples only some SQS servers and can come back empty while messages wait.
RECEIVE_WAIT_SECONDS = 2
# While a copied message is in flight it stays hidden on the dead-letter queue; if its send or delete failed it
# shows up again after this, for the next run.
_COPY_VISIBILITY_SECONDS = 300


class RedriveError(RuntimeError):
    """This queue could not be redriven; the message says why."""


@dataclass(frozen=True)
class SendQueue:
    name: QueueName
    url: str
    dead_letter_url: str


@dataclass(frozen=True)
class Redriven:
    """What one queue's redrive found and did."""

    queue: QueueName
    found: int  # ApproximateNumberOfMessages on the dead-letter queue before moving
    moved: int
    method: Literal["dry-run", "move-task", "copy"]
    not_moved: int = 0  # copy: sends that failed (the message stays on the dead-letter queue)
    not_deleted: int = 0  # copy: sent but still on the dead-letter queue (redriven again next time)


class MoveTask(BaseModel):
    """An entry of ListMessageMoveTasks."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    status: str = Field(alias="Status")
    task_handle: str | None = Field(default=None, alias="TaskHandle")
    moved: int = Field(default=0, alias="ApproximateNumberOfMessagesMoved")
    to_move: int | None = Field(default=None, alias="ApproximateNumberOfMessagesToMove")
    failure_reason: str | None = Field(default=None, alias="FailureReason")


# ---------------------------------------------------------------------------------------------
# Finding the queues
# ---------------------------------------------------------------------------------------------


def queues_from_env(values: dict[str, str], names: Iterable[QueueName]) -> list[SendQueue]:
    """The queues named in a stack.env file."""
    queues = []
    for name in names:
        url_name, dead_letter_name = ENV_NAMES[name]
        missing = [n for n in (url_name, dead_letter_name) if not values.get(n)]
        if missing:
            raise RedriveError(f"{', '.join(missing)} not in the stack env file (redeploy: make stack-up)")
        queues.append(SendQueue(name, values[url_name], values[dead_letter_name]))
    return queues


def stack_queue_urls(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """Every SQS queue of the stack: logical id -> queue URL."""
    urls = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] == "AWS::SQS::Queue" and resource.get("PhysicalResourceId"):
                urls[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    return urls


def stack_env_values(urls: dict[str, str]) -> dict[str, str]:
    """The .local/stack.env lines for the send queues, from `stack_queue_urls`."""
    return {
        env_name: urls.get(logical_id, "")
        for name in LOGICAL_IDS
        for env_name, logical_id in zip(ENV_NAMES[name], LOGICAL_IDS[name], strict=True)
    }


def queues_from_stack(cloudformation: Any, stack_name: str, names: Iterable[QueueName]) -> list[SendQueue]:
    urls = stack_queue_urls(cloudformation, stack_name)
    queues = []
    for name in names:
        source_id, dead_letter_id = LOGICAL_IDS[name]
        missing = [i for i in (source_id, dead_letter_id) if i not in urls]
        if missing:
            raise RedriveError(f"stack {stack_name} has no {', '.join(missing)}")
        queues.append(SendQueue(name, urls[source_id], urls[dead_letter_id]))
    return queues


# ---------------------------------------------------------------------------------------------
# Redrive
# ---------------------------------------------------------------------------------------------


def redrive(
    sqs: Any,
    queue: SendQueue,
    *,
    dry_run: bool = False,
    method: Method = "auto",
    wait_seconds: float = 900,
    poll_seconds: float = 5,
    receive_wait_seconds: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Redriven:
    """Moves every message of `queue`'s dead-letter queue back to it (or, dry run, only counts them)."""
    source_arn, dead_letter_arn, found = _checked_pair(sqs, queue)
    if dry_run:
        return Redriven(queue.name, found, 0, "dry-run")
    if method == "move-task" or (method == "auto" and _move_task_offered(sqs, dead_letter_arn)):
        moved = _move_task(sqs, source_arn, dead_letter_arn, wait_seconds, poll_seconds, sleep)
        return Redriven(queue.name, found, moved, "move-task")
    wait = RECEIVE_WAIT_SECONDS if receive_wait_seconds is None else receive_wait_seconds
    return _copy_back(sqs, queue, found, wait)


def _attributes(sqs: Any, url: str, *names: str) -> dict[str, str]:
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names))["Attributes"])


def _checked_pair(sqs: Any, queue: SendQueue) -> tuple[str, str, int]:
    """(source ARN, dead-letter ARN, messages waiting), once the source's RedrivePolicy is seen to name this
    dead-letter queue: a wrong pair of URLs must not move one queue's jobs onto another consumer."""
    source = _attributes(sqs, queue.url, "QueueArn", "RedrivePolicy")
    dead_letter = _attributes(sqs, queue.dead_letter_url, "QueueArn", "ApproximateNumberOfMessages")
    target = json.loads(source.get("RedrivePolicy") or "{}").get("deadLetterTargetArn")
    if target != dead_letter["QueueArn"]:
        raise RedriveError(
            f"{queue.url} sends its dead letters to {target or 'no queue'}, not to {dead_letter['QueueArn']}"
        )
    return source["QueueArn"], dead_letter["QueueArn"], int(dead_letter.get("ApproximateNumberOfMessages", 0))


def _move_task_offered(sqs: Any, dead_letter_arn: str) -> bool:
    try:
        sqs.list_message_move_tasks(SourceArn=dead_letter_arn, MaxResults=1)
    except NotImplementedError:  # moto, in process
        return False
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in _NOT_OFFERED:
            return False
        raise
    return True


def _latest_task(sqs: Any, dead_letter_arn: str) -> MoveTask | None:
    results = sqs.list_message_move_tasks(SourceArn=dead_letter_arn, MaxResults=1).get("Results", [])
    return MoveTask.model_validate(results[0]) if results else None


def _move_task(
    sqs: Any,
    source_arn: str,
    dead_letter_arn: str,
    wait_seconds: float,
    poll_seconds: float,
    sleep: Callable[[float], None],
) -> int:
    """Start (or follow the running) move task and wait until it finishes; returns the messages it moved."""
    running = _latest_task(sqs, dead_letter_arn)
    if running is None or running.status in _FINISHED:
        handle = sqs.start_message_move_task(SourceArn=dead_letter_arn, DestinationArn=source_arn)["TaskHandle"]
    else:
        handle = running.task_handle
        print(f"  a move task is already {running.status} for {dead_letter_arn}: following it", flush=True)
    waited = 0.0
    while True:
        task = _latest_task(sqs, dead_letter_arn)
        if task is not None and task.task_handle == handle and task.status in _FINISHED:
            if task.status != "COMPLETED":
                reason = f": {task.failure_reason}" if task.failure_reason else ""
                raise RedriveError(f"move task {task.status} after {task.moved} messages{reason}")
            return task.moved
        if waited >= wait_seconds:
            moved = task.moved if task is not None else 0
            raise RedriveError(f"move task still running after {wait_seconds:.0f} s ({moved} moved so far)")
        sleep(poll_seconds)
        waited += poll_seconds


def _copy_back(sqs: Any, queue: SendQueue, found: int, receive_wait_seconds: int) -> Redriven:
    """Receive -> send to the source -> delete what was sent, ten at a time, until the dead-letter queue is
    empty. Batch jobs carry no message attributes (shared/adapters/queue.py), so the body is the whole job."""
    moved = not_moved = not_deleted = 0
    while True:
        received = sqs.receive_message(
            QueueUrl=queue.dead_letter_url,
            MaxNumberOfMessages=_RECEIVE_LIMIT,
            VisibilityTimeout=_COPY_VISIBILITY_SECONDS,
            WaitTimeSeconds=receive_wait_seconds,
        ).get("Messages", [])
        if not received:
            break
        entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(received)]
        sent = sqs.send_message_batch(QueueUrl=queue.url, Entries=entries)
        sent_ids = {entry["Id"] for entry in sent.get("Successful", [])}
        not_moved += len(received) - len(sent_ids)
        moved += len(sent_ids)
        if sent_ids:  # only now: deleting before the send succeeded could lose the batch
            deleted = sqs.delete_message_batch(
                QueueUrl=queue.dead_letter_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(received)
                    if str(i) in sent_ids
                ],
            )
            not_deleted += len(deleted.get("Failed", []))
    return Redriven(queue.name, found, moved, "copy", not_moved, not_deleted)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _clients(args: argparse.Namespace) -> tuple[Any, list[SendQueue]]:
    names: list[QueueName] = ["gift", "notification"] if args.queue == "all" else [args.queue]
    if args.stack_env is not None:
        values = stack_env.read(args.stack_env)
        if not values:
            raise RedriveError(f"{args.stack_env} is missing or empty (start the local stack: make stack-up)")
        session = boto3.session.Session(
            aws_access_key_id=values.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=values.get("AWS_SECRET_ACCESS_KEY"),
            region_name=values.get("AWS_REGION") or values.get("AWS_DEFAULT_REGION"),
        )
        endpoint = values.get("AWS_ENDPOINT_URL") or None
        return session.client("sqs", endpoint_url=endpoint), queues_from_env(values, names)
    session = boto3.session.Session()
    return session.client("sqs"), queues_from_stack(session.client("cloudformation"), args.stack_name, names)


def _report(result: Redriven) -> str:
    if result.method == "dry-run":
        return f"{result.queue}: {result.found} message(s) in the dead-letter queue (dry run: nothing moved)"
    line = f"{result.queue}: {result.found} found, {result.moved} moved back ({result.method})"
    if result.not_moved:
        line += f", {result.not_moved} could not be sent (still on the dead-letter queue)"
    if result.not_deleted:
        line += f", {result.not_deleted} sent but not deleted (redriven again next time; harmless)"
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queue", choices=["gift", "notification", "all"], default="all")
    parser.add_argument("--dry-run", action="store_true", help="count the dead-letter messages, move nothing")
    parser.add_argument("--method", choices=["auto", "move-task", "copy"], default="auto")
    parser.add_argument("--wait-seconds", type=float, default=900, help="how long to follow a move task")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack-env", type=Path, help="a stack.env file (the local stack: .local/stack.env)")
    where.add_argument("--stack-name", help="a deployed CloudFormation stack (default boto3 credentials/region)")
    args = parser.parse_args(argv)

    try:
        sqs, queues = _clients(args)
    except (RedriveError, ClientError, BotoCoreError) as err:
        print(f"redrive: {err}", file=sys.stderr)
        return 1
    failed = False
    for queue in queues:
        try:
            result = redrive(sqs, queue, dry_run=args.dry_run, method=args.method, wait_seconds=args.wait_seconds)
        except (RedriveError, ClientError, BotoCoreError) as err:
            print(f"{queue.name}: FAILED: {err}", file=sys.stderr)
            failed = True
            continue
        print(_report(result), flush=True)
        failed = failed or result.not_moved > 0 or result.not_deleted > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
