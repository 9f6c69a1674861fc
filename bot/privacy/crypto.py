"""Authenticated encryption of answers and files at rest (AES-256-GCM).

A blob is: version byte, 4-byte key id, 12-byte nonce, ciphertext+tag. The key id lets a rotated key
list still open old blobs.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = b"\x01"


class DecryptionError(Exception):
    """A blob that no known key opens, or that was tampered with."""


class Cipher:
    def __init__(self, key: bytes, *old_keys: bytes):
        self._current_id = self._key_id(key)
        self._keys = {self._key_id(k): AESGCM(k) for k in (key, *old_keys)}

    @staticmethod
    def _key_id(key: bytes) -> bytes:
        return hashlib.sha256(b"tipbot-key-id" + key).digest()[:4]

    def encrypt(self, plaintext: bytes, context: bytes = b"") -> bytes:
        """`context` binds a blob to its place (e.g. the table) so blobs cannot be swapped around."""
        nonce = os.urandom(12)
        sealed = self._keys[self._current_id].encrypt(nonce, plaintext, context)
        return FORMAT_VERSION + self._current_id + nonce + sealed

    def decrypt(self, blob: bytes, context: bytes = b"") -> bytes:
        if blob[:1] != FORMAT_VERSION or blob[1:5] not in self._keys:
            raise DecryptionError("unknown format or key")
        try:
            return self._keys[blob[1:5]].decrypt(blob[5:17], blob[17:], context)
        except Exception as error:
            raise DecryptionError("blob does not authenticate") from error

    def encrypt_json(self, value: Any, context: bytes = b"") -> bytes:
        return self.encrypt(json.dumps(value, ensure_ascii=False).encode(), context)

    def decrypt_json(self, blob: bytes, context: bytes = b"") -> Any:
        return json.loads(self.decrypt(blob, context))
