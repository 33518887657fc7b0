"""Notification sends (SMS, LMS, email), mounted in the API function's resolver."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store, event_publisher, notification_send_queue
from functions.api.idempotency import IdempotentCall, once
from functions.api.responses import Cursor, IdempotencyKey, Limit, PathId, accepted, ok
from shared.domain.notifications import notification_sends
from shared.domain.notifications.notification_sends import NOTIFICATION
from shared.domain.sends import send_actions
from shared.http.principal import current_account_id
from shared.models.api import (
    NotificationRecipientView,
    NotificationResendRequest,
    NotificationSendEstimate,
    NotificationSendRequest,
    NotificationSendView,
    Resent,
    SendAccepted,
)
from shared.models.common import Page, RecipientStatus
from shared.settings import api_settings

router = Router()


def _create(call: IdempotentCall) -> SendAccepted:
    return notification_sends.create_notification_send(
        data_store(),
        notification_send_queue(),
        call.account_id,
        NotificationSendRequest.model_validate(call.body),
        api_settings().notification_recipients_per_batch,
        call.idempotency_key or None,
    )


@router.post(
    "/notification-sends",
    tags=["notification sends"],
    responses={202: {"description": "Send accepted"}, 200: {"description": "dry_run estimate"}},
    summary="Send notifications",
    description=(
        "Sends an SMS, LMS or email (auto: SMS when it fits, else LMS) to each recipient, {name} replaced by the "
        "recipient's name: now, at send_at, or after submit (draft). Each sent message uses one count of its channel; "
        "invalid recipients are FAILED / INVALID_RECIPIENT and use none. dry_run returns the counts needed and creates "
        "nothing. An Idempotency-Key makes a retry return the first answer."
    ),
)
def create_notification_send(
    body: Annotated[NotificationSendRequest, Body()], idempotency_key: IdempotencyKey = None
) -> Response[SendAccepted | NotificationSendEstimate]:
    account_id = current_account_id(router)
    if body.dry_run:
        return ok(notification_sends.estimate_notification_send(data_store(), account_id, body))
    body_json = router.current_event.json_body
    return accepted(once("notification-send", account_id, idempotency_key, body_json, _create, SendAccepted))


@router.get(
    "/notification-sends",
    tags=["notification sends"],
    summary="List notification sends",
    description=(
        "The account's notification sends, newest first, optionally of one promotion; AUTO ones come from winners."
    ),
)
def list_notification_sends(
    promotion_id: Annotated[str | None, Query(max_length=64)] = None, limit: Limit = 50, cursor: Cursor = None
) -> Page[NotificationSendView]:
    return notification_sends.list_notification_sends(
        data_store(), current_account_id(router), promotion_id, limit, cursor
    )


@router.get(
    "/notification-sends/<send_id>",
    tags=["notification sends"],
    summary="Get a notification send",
    description="One notification send: its status and how many recipients are pending, sent, failed and resendable.",
)
def get_notification_send(send_id: PathId) -> NotificationSendView:
    return notification_sends.get_notification_send(data_store(), current_account_id(router), send_id)


@router.get(
    "/notification-sends/<send_id>/recipients",
    tags=["notification sends"],
    summary="List a notification send's recipients",
    description="Each recipient's channel, address, status and failure reason, optionally only those of one status.",
)
def list_notification_recipients(
    send_id: PathId,
    status: Annotated[RecipientStatus | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[NotificationRecipientView]:
    return notification_sends.list_notification_recipients(
        data_store(), current_account_id(router), send_id, status, limit, cursor
    )


@router.post(
    "/notification-sends/<send_id>/submit",
    tags=["notification sends"],
    summary="Submit a draft notification send",
    description="A DRAFT starts now, or at its send_at (SCHEDULED). Any other status is 409 INVALID_STATE.",
)
def submit_notification_send(send_id: PathId) -> NotificationSendView:
    account_id = current_account_id(router)
    started = send_actions.submit(data_store(), notification_send_queue(), account_id, NOTIFICATION, send_id)
    return notification_sends.notification_send_view(started)


@router.post(
    "/notification-sends/<send_id>/cancel",
    tags=["notification sends"],
    summary="Cancel a notification send",
    description=(
        "A DRAFT or SCHEDULED send becomes CANCELLED and nothing is sent or counted. Any other status is 409 "
        "INVALID_STATE."
    ),
)
def cancel_notification_send(send_id: PathId) -> NotificationSendView:
    cancelled = send_actions.cancel(data_store(), current_account_id(router), NOTIFICATION, send_id, event_publisher())
    return notification_sends.notification_send_view(cancelled)


@router.post(
    "/notification-sends/<send_id>/resend",
    tags=["notification sends"],
    responses={202: {"description": "Resent"}},
    summary="Resend failed notifications",
    description=(
        "Every resendable failure goes back to PENDING and is sent again; the body may narrow it to one channel."
    ),
)
def resend_notification_send(
    send_id: PathId, body: Annotated[NotificationResendRequest | None, Body()] = None
) -> Response[Resent]:
    channel = body.channel if body else None
    resent = send_actions.resend_send(
        data_store(), notification_send_queue(), current_account_id(router), NOTIFICATION, send_id, channel
    )
    return accepted(Resent(resent=resent))


@router.post(
    "/notification-sends/<send_id>/recipients/<recipient_id>/resend",
    tags=["notification sends"],
    responses={202: {"description": "Resent"}},
    summary="Resend one failed notification",
    description=(
        "The recipient goes back to PENDING and is sent again; one that is not resendable is 409 NOT_RESENDABLE."
    ),
)
def resend_notification_recipient(send_id: PathId, recipient_id: PathId) -> Response[Resent]:
    account_id = current_account_id(router)
    resent = send_actions.resend_recipient(
        data_store(), notification_send_queue(), account_id, NOTIFICATION, send_id, recipient_id
    )
    return accepted(Resent(resent=resent))
