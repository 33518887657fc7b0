"""Dashboard users on the local stack: the admin creates one, the first sign-in (Cognito's public JSON API, as the
dashboard calls it) sets a new password, and the ID token then acts exactly as the account's key."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.e2e.conftest import AccountFactory, Client, Stack, create_promotion, unique

NEW_PASSWORD = "Signed-in-2026!"


def _cognito(stack: Stack, action: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        stack.env["COGNITO_ENDPOINT"],
        json=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{action}",
        },
        timeout=30,
    )


def _initiate(stack: Stack, email: str, password: str) -> requests.Response:
    return _cognito(
        stack,
        "InitiateAuth",
        {
            "ClientId": stack.env["USER_POOL_CLIENT_ID"],
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": email, "PASSWORD": password},
        },
    )


@pytest.fixture(scope="module")
def cognito_stack(stack: Stack) -> Stack:
    if not stack.env.get("USER_POOL_CLIENT_ID") or not stack.env.get("COGNITO_ENDPOINT"):
        pytest.fail("e2e: stack.env lacks USER_POOL_CLIENT_ID / COGNITO_ENDPOINT")
    return stack


def test_a_user_signs_in_and_acts_as_its_account(
    cognito_stack: Stack, admin: Client, new_account: AccountFactory
) -> None:
    stack = cognito_stack
    shop, other = new_account("Users Shop"), new_account("Another Shop")
    other_promotion = create_promotion(other)
    email = f"{unique('user')}@shop.example".lower()

    created = admin.post(f"/admin/accounts/{shop.account_id}/users", {"email": email, "name": "Kim"})
    assert created.status == 201, created.body
    assert (created.body["account_id"], created.body["email"]) == (shop.account_id, email)
    again = admin.post(f"/admin/accounts/{shop.account_id}/users", {"email": email})
    assert (again.status, again.body["code"]) == (409, "USER_EXISTS")
    assert admin.post("/admin/accounts/acc_missing/users", {"email": "x@shop.example"}).status == 404

    assert _initiate(stack, email, "Wrong-password-1").status_code == 400  # NotAuthorizedException
    first = _initiate(stack, email, created.body["temporary_password"])
    assert first.status_code == 200, first.text
    assert first.json()["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    answered = _cognito(
        stack,
        "RespondToAuthChallenge",
        {
            "ClientId": stack.env["USER_POOL_CLIENT_ID"],
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": first.json()["Session"],
            "ChallengeResponses": {"USERNAME": email, "NEW_PASSWORD": NEW_PASSWORD},
        },
    )
    assert answered.status_code == 200, answered.text
    id_token = answered.json()["AuthenticationResult"]["IdToken"]

    user = Client(stack.api_url, id_token)
    account = user.get("/account")
    assert (account.status, account.body["account_id"]) == (200, shop.account_id)
    promotion = create_promotion(user)
    assert shop.get(f"/promotions/{promotion}").status == 200  # the key sees what the user made
    assert user.get(f"/promotions/{other_promotion}").status == 404  # another account's: not found
    assert user.post("/admin/accounts", {"name": "Nope"}).status == 403

    # The new password signs in straight away; the temporary one no longer does.
    assert "AuthenticationResult" in _initiate(stack, email, NEW_PASSWORD).json()
    assert _initiate(stack, email, created.body["temporary_password"]).status_code == 400


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_a_garbage_token_is_unauthorized(cognito_stack: Stack, token: str) -> None:
    reply = Client(cognito_stack.api_url, token).get("/account")
    assert (reply.status, reply.body["code"]) == (401, "UNAUTHORIZED")


def test_the_demo_user_signs_in_with_its_password(cognito_stack: Stack) -> None:
    env = cognito_stack.env
    signed_in = _initiate(cognito_stack, env["DEMO_USER_EMAIL"], env["DEMO_USER_PASSWORD"])
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["AuthenticationResult"]["IdToken"]
    assert Client(cognito_stack.api_url, token).get("/account").body["account_id"] == env["DEMO_ACCOUNT_ID"]
