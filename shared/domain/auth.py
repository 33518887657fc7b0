"""API keys: shown once, stored only as a SHA-256 hash; the admin key compared in constant time."""

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


class KeyLookup(Protocol):
    def account_id_for_key_hash(self, api_key_hash: str) -> str | None: ...


def new_account_key() -> str:
    return ACCOUNT_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authenticate(token: str | None, admin_key: str, keys: KeyLookup) -> Principal | None:
    """The principal for a bearer token, or None for a missing or unknown key."""
    if not token or len(token) > 256:
        return None
    try:
        token_bytes = token.encode()
    except UnicodeEncodeError:  # a lone surrogate: no key is spelled like that
        return None
    if admin_key and hmac.compare_digest(token_bytes, admin_key.encode()):
        return Principal(role="admin")
    account_id = keys.account_id_for_key_hash(hash_api_key(token))
    return Principal(role="account", account_id=account_id) if account_id else None
