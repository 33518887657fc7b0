"""Who a bearer token is: the admin key (compared in constant time), an account key (shown once, stored only as a
SHA-256 hash) or a dashboard user's signed token, which acts as its account exactly as the account's key does."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal, Protocol

ACCOUNT_KEY_PREFIX = "wn_live_"


@dataclass(frozen=True)
class Principal:
    role: Literal["admin", "account"]
    account_id: str = ""


MAX_KEY_LENGTH = 256
# Cognito ID tokens are 1-2 KB; API Gateway limits the whole header to 10 KB.
MAX_USER_TOKEN_LENGTH = 8192


class KeyLookup(Protocol):
    def account_id_for_key_hash(self, api_key_hash: str) -> str | None: ...

    def get_account(self, account_id: str) -> object | None: ...


class UserTokens(Protocol):
    def account_id_for_token(self, token: str) -> str | None:
        """The account a valid user token acts for; None for any other token."""
        ...


def new_account_key() -> str:
    return ACCOUNT_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def looks_like_user_token(token: str) -> bool:
    """A JWT (three dot-separated parts); no account or admin key contains a dot."""
    return token.count(".") == 2


def authenticate(
    token: str | None, admin_key: str, keys: KeyLookup, user_tokens: UserTokens | None = None
) -> Principal | None:
    """The principal for a bearer token, or None for a missing or unknown key or an invalid user token."""
    if not token:
        return None
    try:
        token_bytes = token.encode()
    except UnicodeEncodeError:  # a lone surrogate: no key or token is spelled like that
        return None
    if admin_key and len(token) <= MAX_KEY_LENGTH and hmac.compare_digest(token_bytes, admin_key.encode()):
        return Principal(role="admin")
    if looks_like_user_token(token):
        account_id = (
            user_tokens.account_id_for_token(token) if user_tokens and len(token) <= MAX_USER_TOKEN_LENGTH else None
        )
        # An account that no longer exists has no key either: its users are refused too.
        if account_id and keys.get_account(account_id) is not None:
            return Principal(role="account", account_id=account_id)
        return None
    if len(token) > MAX_KEY_LENGTH:
        return None
    account_id = keys.account_id_for_key_hash(hash_api_key(token))
    return Principal(role="account", account_id=account_id) if account_id else None
