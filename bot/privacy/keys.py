"""The one secret from which every key is derived, and the keyed hashes built on it.

Chats are only ever known to storage as HMAC(chat_id): enough to find a draft again, useless for
finding the person without the secret. Each purpose gets its own subkey so one leak does not open the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE_NAME = "secret.key"
MIN_SECRET_LENGTH = 32


class SecretKeyError(Exception):
    """A secret that is too short or a key file that cannot be made."""


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """TIPBOT_SECRET_KEY if set, otherwise a key generated once into the data dir with mode 0600."""
    if configured is not None:
        if len(configured) < MIN_SECRET_LENGTH:
            raise SecretKeyError(f"invalid setting TIPBOT_SECRET_KEY: use at least {MIN_SECRET_LENGTH} characters")
        return configured.encode()
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as key_file:
            key_file.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


class Keys:
    def __init__(self, secret: bytes):
        self._secret = secret

    def derive(self, purpose: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(self._secret)

    def chat_key(self, chat_id: int) -> str:
        """The name of a chat's draft: HMAC-SHA256 of its id, hex."""
        return hmac.new(self.derive("chat"), str(chat_id).encode(), hashlib.sha256).hexdigest()

    @property
    def data_key(self) -> bytes:
        return self.derive("data-encryption-v1")

    @property
    def receipt_salt(self) -> bytes:
        return self.derive("receipt-code")
