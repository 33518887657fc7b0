"""KMS adapter: webhook signing secrets encrypted with the service's key, bound to an encryption context (the
account and webhook), so a ciphertext decrypts only for the webhook it was made for."""

from __future__ import annotations

import base64
from typing import Any


class KmsSecretCipher:
    def __init__(self, client: Any, key_id: str) -> None:
        self._client = client
        self._key_id = key_id

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        response = self._client.encrypt(KeyId=self._key_id, Plaintext=plaintext.encode(), EncryptionContext=context)
        return base64.b64encode(response["CiphertextBlob"]).decode()

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str:
        response = self._client.decrypt(
            KeyId=self._key_id, CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext=context
        )
        return bytes(response["Plaintext"]).decode()
