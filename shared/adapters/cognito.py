"""The Cognito user pool: dashboard users created by the admin API, and their ID tokens verified for the authorizer.

Facts used (Amazon Cognito Developer Guide, "Verifying a JSON web token",
https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html):
tokens are RS256 JWTs; the pool's public keys are at ``<issuer>/.well-known/jwks.json`` and are matched by ``kid``;
``iss`` is ``https://cognito-idp.<region>.amazonaws.com/<pool id>``; an ID token carries ``aud`` = the app client
id and ``token_use`` = ``id`` (an access token has ``client_id`` and ``token_use`` = ``access`` instead); ``exp``
is checked by the verifier. AdminCreateUser with ``MessageAction=SUPPRESS`` sends no invitation and leaves the user
FORCE_CHANGE_PASSWORD until the first sign-in answers NEW_PASSWORD_REQUIRED (API reference, AdminCreateUser).

The ID token is the one accepted: it carries ``custom:account_id``, which the pool declares immutable (set only by
AdminCreateUser) and which the app client may read but not write, so a user cannot move to another account. The
access token carries no custom attributes.

MiniStack 1.5.33 (ministack/services/cognito.py) signs with per-pool RSA keys when ``cryptography`` is importable,
uses the AWS form of ``iss``, and serves the keys at ``<its endpoint>/<pool id>/.well-known/jwks.json``: hence the
key-set base is configurable (COGNITO_ENDPOINT) while the issuer always has the AWS form.
"""

from __future__ import annotations

from typing import Any

import jwt
from botocore.exceptions import ClientError

from shared.errors import UserExists
from shared.observability import service_logger

logger = service_logger()

ACCOUNT_ATTRIBUTE = "custom:account_id"
# Keys are fetched once per container and again only for an unknown kid (at most every 30 s, PyJWKClient's
# cooldown), so a flood of forged kids cannot turn into a flood of key-set requests.
JWKS_LIFESPAN_SECONDS = 6 * 60 * 60
JWKS_TIMEOUT_SECONDS = 3
CLOCK_SKEW_SECONDS = 30


def pool_region(user_pool_id: str) -> str:
    """A pool id is ``<region>_<suffix>``."""
    return user_pool_id.split("_", 1)[0]


def aws_endpoint(region: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com"


def issuer(user_pool_id: str) -> str:
    return f"{aws_endpoint(pool_region(user_pool_id))}/{user_pool_id}"


class CognitoUserDirectory:
    """Creates dashboard users in the pool (shared.domain.accounts.users.UserDirectory)."""

    def __init__(self, client: Any, user_pool_id: str) -> None:
        self._client = client
        self._user_pool_id = user_pool_id

    def create_user(self, account_id: str, email: str, name: str | None, temporary_password: str) -> str:
        attributes = [
            {"Name": "email", "Value": email},
            # The admin vouches for the address; the temporary password is handed over out of band.
            {"Name": "email_verified", "Value": "true"},
            {"Name": ACCOUNT_ATTRIBUTE, "Value": account_id},
        ]
        if name:
            attributes.append({"Name": "name", "Value": name})
        try:
            response = self._client.admin_create_user(
                UserPoolId=self._user_pool_id,
                Username=email,
                TemporaryPassword=temporary_password,
                UserAttributes=attributes,
                MessageAction="SUPPRESS",
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "UsernameExistsException":
                raise UserExists("a user with this email already exists") from err
            raise
        user = response["User"]
        found = {attr["Name"]: attr["Value"] for attr in user.get("Attributes", [])}
        return str(found.get("sub") or user["Username"])


class UserTokenVerifier:
    """The account a pool's ID token acts for, or None for any token that is not a valid one of this app client."""

    def __init__(self, user_pool_id: str, client_id: str, endpoint: str = "", keys: jwt.PyJWKClient | None = None):
        self._issuer = issuer(user_pool_id)
        self._client_id = client_id
        base = (endpoint or aws_endpoint(pool_region(user_pool_id))).rstrip("/")
        self._keys = keys or jwt.PyJWKClient(
            f"{base}/{user_pool_id}/.well-known/jwks.json",
            cache_keys=True,
            lifespan=JWKS_LIFESPAN_SECONDS,
            timeout=JWKS_TIMEOUT_SECONDS,
        )

    def account_id_for_token(self, token: str) -> str | None:
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self._client_id,
                issuer=self._issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
            )
        except jwt.PyJWKClientConnectionError:
            logger.exception("the user pool's keys could not be fetched")
            return None
        except jwt.PyJWTError as err:
            logger.info("user token refused", extra={"reason": type(err).__name__})
            return None
        if claims.get("token_use") != "id":
            logger.info("user token refused", extra={"reason": "not an ID token"})
            return None
        account_id = claims.get(ACCOUNT_ATTRIBUTE)
        return account_id if isinstance(account_id, str) and account_id else None
