"""Dashboard users against moto's Cognito: the admin route creates them, the real authorizer accepts their ID token
as their account (keys fetched over HTTP from a loopback server holding the pool's key set) and refuses the rest."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.authorizer.handler import lambda_handler as authorize
from tests.integration.api_client import ADMIN, ApiClient
from tests.integration.conftest import ADMIN_KEY, _clear_caches
from tests.lambda_events import LambdaContextStub

pytestmark = pytest.mark.integration

NEW_PASSWORD = "N3w-password-ok"
STAGE = "arn:aws:execute-api:ap-northeast-2:123456789012:abc123/v1"


def _moto_key_set(name: str) -> dict[str, Any]:
    raw = resources.files("moto.cognitoidp").joinpath(f"resources/{name}.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


class _KeySetServer(ThreadingHTTPServer):
    requests: list[str]


class _KeySetHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: _KeySetServer = self.server  # type: ignore[assignment]
        server.requests.append(self.path)
        if not self.path.endswith("/.well-known/jwks.json"):
            self.send_error(404)
            return
        body = json.dumps(_moto_key_set("jwks-public")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def key_server() -> Iterator[_KeySetServer]:
    server = _KeySetServer(("127.0.0.1", 0), _KeySetHandler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _new_pool(cognito: Any, name: str) -> tuple[str, str]:
    pool_id = cognito.create_user_pool(
        PoolName=name,
        UsernameAttributes=["email"],
        Schema=[{"Name": "account_id", "AttributeDataType": "String", "Mutable": False}],
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="dashboard",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


@pytest.fixture
def pool(aws: dict[str, Any], key_server: _KeySetServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    cognito = boto3.client("cognito-idp")
    pool_id, client_id = _new_pool(cognito, "users")
    monkeypatch.setenv("USER_POOL_ID", pool_id)
    monkeypatch.setenv("USER_POOL_CLIENT_ID", client_id)
    monkeypatch.setenv("COGNITO_ENDPOINT", f"http://127.0.0.1:{key_server.server_address[1]}")
    _clear_caches()
    return {"cognito": cognito, "pool_id": pool_id, "client_id": client_id}


def _authorize(token: str, route: str = "GET/account") -> dict[str, Any]:
    return authorize(
        {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": f"{STAGE}/{route}"},
        LambdaContextStub(),
    )


def _refused(token: str) -> bool:
    try:
        _authorize(token)
    except Exception as err:  # the authorizer's way to answer 401
        return str(err) == "Unauthorized"
    return False


def _sign_in(pool: dict[str, Any], email: str, temporary: str) -> dict[str, Any]:
    cognito = pool["cognito"]
    first = cognito.initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": temporary},
    )
    assert first["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    answered = cognito.respond_to_auth_challenge(
        ClientId=pool["client_id"],
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=first["Session"],
        ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": NEW_PASSWORD},
    )
    return dict(answered["AuthenticationResult"])


def _account_with_user(pool: dict[str, Any], email: str) -> tuple[str, dict[str, Any]]:
    account_id = ADMIN.post("/admin/accounts", {"name": "Shop"}).body["account_id"]
    created = ADMIN.post(f"/admin/accounts/{account_id}/users", {"email": email, "name": "Kim"})
    assert created.status == 201, created.body
    return account_id, created.body


def _forged(pool: dict[str, Any], **changes: Any) -> str:
    """An ID token signed with moto's own pool key (kid "dummy"), with ``changes`` to its claims."""
    now = int(time.time())
    claims = {
        "iss": f"https://cognito-idp.ap-northeast-2.amazonaws.com/{pool['pool_id']}",
        "sub": "a-user",
        "aud": pool["client_id"],
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "custom:account_id": changes.pop("account_id"),
        **changes,
    }
    key = jwt.PyJWK(_moto_key_set("jwks-private"))
    return jwt.encode(claims, key.key, algorithm="RS256", headers={"kid": "dummy"})


def test_admin_creates_a_user_whose_id_token_acts_as_its_account(pool: dict[str, Any]) -> None:
    account_id, created = _account_with_user(pool, "Kim@Shop.example")
    assert created["account_id"] == account_id
    assert created["email"] == "kim@shop.example"
    password = created["temporary_password"]
    assert len(password) >= 12
    assert any(c.isupper() for c in password) and any(c.islower() for c in password)
    assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)

    tokens = _sign_in(pool, "kim@shop.example", password)
    result = _authorize(tokens["IdToken"])
    assert result["context"] == {"role": "account", "account_id": account_id}
    key = ADMIN.post(f"/admin/accounts/{account_id}/credits", {"amount": 1, "reference": "r1"})
    assert key.status == 200
    # Exactly an account key's policy: everything but /admin.
    allow, deny = result["policyDocument"]["Statement"]
    assert (allow["Effect"], allow["Resource"]) == ("Allow", f"{STAGE}/*")
    assert (deny["Effect"], deny["Resource"]) == ("Deny", [f"{STAGE}/*/admin", f"{STAGE}/*/admin/*"])
    # ... and the API then serves that account, as for its key.
    assert ApiClient(account_id=result["context"]["account_id"]).get("/account").body["account_id"] == account_id


def test_the_access_token_is_not_accepted(pool: dict[str, Any]) -> None:
    _, created = _account_with_user(pool, "lee@shop.example")
    tokens = _sign_in(pool, "lee@shop.example", created["temporary_password"])
    assert _refused(tokens["AccessToken"])


def test_keys_are_fetched_once_per_container(pool: dict[str, Any], key_server: _KeySetServer) -> None:
    account_id = ADMIN.post("/admin/accounts", {"name": "Shop"}).body["account_id"]
    for _ in range(3):
        assert _authorize(_forged(pool, account_id=account_id))["context"]["account_id"] == account_id
    assert key_server.requests == [f"/{pool['pool_id']}/.well-known/jwks.json"]


def test_refused_tokens(pool: dict[str, Any]) -> None:
    account_id = ADMIN.post("/admin/accounts", {"name": "Shop"}).body["account_id"]
    assert not _refused(_forged(pool, account_id=account_id))  # the control: the same token, unchanged
    now = int(time.time())
    assert _refused(_forged(pool, account_id=account_id, exp=now - 120, iat=now - 4000))  # expired
    assert _refused(_forged(pool, account_id=account_id, aud="another-client"))
    assert _refused(_forged(pool, account_id=account_id, token_use="access"))
    assert _refused(_forged(pool, account_id=account_id, iss="https://cognito-idp.ap-northeast-2.amazonaws.com/x_y"))
    assert _refused(_forged(pool, account_id="acc_does_not_exist"))
    assert _refused(_forged(pool, account_id=""))
    # Signed with another key under the pool key's kid.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(_forged(pool, account_id=account_id), options={"verify_signature": False})
    assert _refused(jwt.encode(claims, other, algorithm="RS256", headers={"kid": "dummy"}))
    # Unsigned, and HMAC-signed with the public key as the secret.
    assert _refused(jwt.encode(claims, "", algorithm="none"))
    assert _refused(jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": "dummy"}))
    assert _refused("not.a.jwt")
    assert _refused("a" * 9000 + "..")


def test_a_token_of_another_pool_is_refused(pool: dict[str, Any]) -> None:
    cognito = pool["cognito"]
    other_pool, other_client = _new_pool(cognito, "elsewhere")
    account_id = ADMIN.post("/admin/accounts", {"name": "Shop"}).body["account_id"]
    cognito.admin_create_user(
        UserPoolId=other_pool,
        Username="park@shop.example",
        TemporaryPassword="Temp-pass-123",
        UserAttributes=[{"Name": "custom:account_id", "Value": account_id}],
        MessageAction="SUPPRESS",
    )
    tokens = _sign_in({**pool, "pool_id": other_pool, "client_id": other_client}, "park@shop.example", "Temp-pass-123")
    assert _refused(tokens["IdToken"])


def test_admin_users_route(pool: dict[str, Any]) -> None:
    account_id, _ = _account_with_user(pool, "choi@shop.example")
    again = ADMIN.post(f"/admin/accounts/{account_id}/users", {"email": "CHOI@shop.example"})
    assert (again.status, again.body["code"]) == (409, "USER_EXISTS")
    missing = ADMIN.post("/admin/accounts/acc_nope/users", {"email": "new@shop.example"})
    assert (missing.status, missing.body["code"]) == (404, "NOT_FOUND")
    invalid = ADMIN.post(f"/admin/accounts/{account_id}/users", {"email": "not-an-email"})
    assert invalid.status == 422
    as_account = ApiClient(account_id=account_id).post(f"/admin/accounts/{account_id}/users", {"email": "x@y.example"})
    assert as_account.status == 403
    # Keys keep working beside tokens.
    assert _authorize(ADMIN_KEY, "POST/admin/accounts")["context"]["role"] == "admin"
