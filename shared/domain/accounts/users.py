"""Dashboard users: people of one business who sign in with an email and password instead of the account key.

A user belongs to exactly one account, fixed when the user is created; a signed-in user's token acts with that
account's rights and nothing more (the authorizer maps it to the same principal as the account's key).
"""

from __future__ import annotations

import secrets
import string
from typing import Protocol

from shared.domain.store import AccountStore, require
from shared.models.api import UserCreated

# Within the pool's policy (template.yaml UserPool: 12+ characters, upper, lower, digit and symbol) with room
# to spare; the symbols are ones Cognito counts as special and that need no quoting in a shell or URL.
TEMPORARY_PASSWORD_LENGTH = 20
SPECIAL_CHARACTERS = "!#%*+-=?@^_~"
_CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, SPECIAL_CHARACTERS)


class UserDirectory(Protocol):
    def create_user(self, account_id: str, email: str, name: str | None, temporary_password: str) -> str:
        """Creates the user of ``account_id`` and returns its user id; raises UserExists for a taken email."""
        ...


def temporary_password(length: int = TEMPORARY_PASSWORD_LENGTH) -> str:
    """A random password with at least one character of each class the pool's policy requires."""
    alphabet = "".join(_CLASSES)
    chosen = [secrets.choice(chars) for chars in _CLASSES]
    chosen += [secrets.choice(alphabet) for _ in range(length - len(chosen))]
    secrets.SystemRandom().shuffle(chosen)
    return "".join(chosen)


def create_user(
    accounts: AccountStore, directory: UserDirectory, account_id: str, email: str, name: str | None
) -> UserCreated:
    """A dashboard user of an existing account, with a temporary password the first sign-in replaces."""
    require(accounts.get_account(account_id), "account")
    password = temporary_password()
    user_id = directory.create_user(account_id, email, name, password)
    return UserCreated(user_id=user_id, account_id=account_id, email=email, temporary_password=password)
