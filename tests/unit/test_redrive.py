"""scripts/redrive.py's move-task path, which neither moto nor MiniStack implements: the SQS calls it makes and
how it reads their answers, against botocore's Stubber (answers shaped as the SQS API reference gives them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from scripts import redrive
from scripts.redrive import RedriveError, SendQueue

SOURCE_URL = "https://sqs.ap-northeast-2.amazonaws.com/123456789012/gift-sends"
DLQ_URL = "https://sqs.ap-northeast-2.amazonaws.com/123456789012/gift-sends-dlq"
SOURCE_ARN = "arn:aws:sqs:ap-northeast-2:123456789012:gift-sends"
DLQ_ARN = "arn:aws:sqs:ap-northeast-2:123456789012:gift-sends-dlq"
QUEUE = SendQueue("gift", SOURCE_URL, DLQ_URL)


@pytest.fixture
def sqs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "sqs", region_name="ap-northeast-2", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _pair(stubber: Stubber, waiting: int, target: str = DLQ_ARN) -> None:
    policy = json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": 5})
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": SOURCE_ARN, "RedrivePolicy": policy}},
        {"QueueUrl": SOURCE_URL, "AttributeNames": ["QueueArn", "RedrivePolicy"]},
    )
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": DLQ_ARN, "ApproximateNumberOfMessages": str(waiting)}},
        {"QueueUrl": DLQ_URL, "AttributeNames": ["QueueArn", "ApproximateNumberOfMessages"]},
    )


def _tasks(stubber: Stubber, *tasks: dict[str, Any]) -> None:
    stubber.add_response("list_message_move_tasks", {"Results": list(tasks)}, {"SourceArn": DLQ_ARN, "MaxResults": 1})


def _task(status: str, handle: str = "task-1", **fields: Any) -> dict[str, Any]:
    return {"TaskHandle": handle, "Status": status, "SourceArn": DLQ_ARN, **fields}


def test_a_move_task_is_started_to_the_source_queue_and_followed_until_completed(
    sqs: tuple[Any, Stubber],
) -> None:
    client, stubber = sqs
    _pair(stubber, waiting=3)
    _tasks(stubber)  # offered: answers, no task yet
    _tasks(stubber)
    stubber.add_response(
        "start_message_move_task", {"TaskHandle": "task-1"}, {"SourceArn": DLQ_ARN, "DestinationArn": SOURCE_ARN}
    )
    _tasks(stubber, _task("RUNNING", ApproximateNumberOfMessagesMoved=1, ApproximateNumberOfMessagesToMove=3))
    _tasks(stubber, _task("COMPLETED", ApproximateNumberOfMessagesMoved=3, ApproximateNumberOfMessagesToMove=3))
    slept: list[float] = []

    result = redrive.redrive(client, QUEUE, poll_seconds=5, sleep=slept.append)

    assert (result.method, result.found, result.moved) == ("move-task", 3, 3)
    assert slept == [5]


def test_a_running_move_task_is_followed_not_started_again(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    _pair(stubber, waiting=2)
    _tasks(stubber, _task("RUNNING", handle="earlier"))
    _tasks(stubber, _task("RUNNING", handle="earlier"))
    _tasks(stubber, _task("COMPLETED", handle="earlier", ApproximateNumberOfMessagesMoved=2))

    result = redrive.redrive(client, QUEUE, sleep=lambda _: None)

    assert (result.method, result.moved) == ("move-task", 2)  # no start_message_move_task was stubbed


def test_a_failed_move_task_is_a_failure(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    _pair(stubber, waiting=2)
    _tasks(stubber, _task("COMPLETED", handle="last-week"))
    _tasks(stubber, _task("COMPLETED", handle="last-week"))
    stubber.add_response("start_message_move_task", {"TaskHandle": "task-2"})
    _tasks(stubber, _task("FAILED", handle="task-2", ApproximateNumberOfMessagesMoved=1, FailureReason="AccessDenied"))

    with pytest.raises(RedriveError, match="FAILED after 1 messages: AccessDenied"):
        redrive.redrive(client, QUEUE, sleep=lambda _: None)


def test_a_move_task_still_running_after_the_wait_is_a_failure(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    _pair(stubber, waiting=500)
    _tasks(stubber)
    _tasks(stubber)
    stubber.add_response("start_message_move_task", {"TaskHandle": "task-1"})
    _tasks(stubber, _task("RUNNING", ApproximateNumberOfMessagesMoved=10))
    _tasks(stubber, _task("RUNNING", ApproximateNumberOfMessagesMoved=20))

    with pytest.raises(RedriveError, match=r"still running after 5 s \(20 moved so far\)"):
        redrive.redrive(client, QUEUE, wait_seconds=5, poll_seconds=5, sleep=lambda _: None)


def test_an_endpoint_without_move_tasks_gets_the_copy(sqs: tuple[Any, Stubber]) -> None:
    """MiniStack's answer to an action it does not know."""
    client, stubber = sqs
    _pair(stubber, waiting=0)
    stubber.add_client_error("list_message_move_tasks", "InvalidAction", "The action is not valid for this endpoint.")
    stubber.add_response("receive_message", {"Messages": []})

    result = redrive.redrive(client, QUEUE, receive_wait_seconds=0)

    assert (result.method, result.moved) == ("copy", 0)


def test_access_denied_to_the_move_task_is_not_taken_for_a_missing_one(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    _pair(stubber, waiting=1)
    stubber.add_client_error("list_message_move_tasks", "AccessDenied", "not authorized")

    with pytest.raises(ClientError, match="AccessDenied"):
        redrive.redrive(client, QUEUE)


def test_a_source_queue_that_dead_letters_elsewhere_is_refused_before_anything_moves(
    sqs: tuple[Any, Stubber],
) -> None:
    client, stubber = sqs
    _pair(stubber, waiting=4, target="arn:aws:sqs:ap-northeast-2:123456789012:other-dlq")

    with pytest.raises(RedriveError, match="other-dlq"):
        redrive.redrive(client, QUEUE)
