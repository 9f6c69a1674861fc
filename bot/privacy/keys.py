"""The secrets the bot keeps: the one secret from which every key is derived (and the keyed hashes built on
it), and the token Telegram must send with every webhook call.

Chats are only ever known to storage as HMAC(chat_id): enough to find a draft again, useless for
finding the person without the secret. Each purpose gets its own subkey so one leak does not open the rest.
Generated secrets live in the data dir (mode 0700) in files only the bot's user may read (mode 0600); a file
others could read or change is refused at start rather than trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE_NAME = "secret.key"
WEBHOOK_SECRET_FILE_NAME = "webhook.secret"
MIN_SECRET_LENGTH = 32
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""What Telegram accepts as a webhook secret token."""


class SecretKeyError(Exception):
    """A secret or secret file that is unsafe or unusable: one line saying what to do."""


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """TIPBOT_SECRET_KEY if set, otherwise a key generated once into the data dir with mode 0600."""
    if configured is not None:
        if len(configured) < MIN_SECRET_LENGTH:
            raise SecretKeyError(f"invalid setting TIPBOT_SECRET_KEY: use at least {MIN_SECRET_LENGTH} characters")
        return configured.encode()
    path = data_dir / KEY_FILE_NAME
    secret = _read_or_create(path, "secret key file", lambda: secrets.token_urlsafe(48))
    if len(secret) < MIN_SECRET_LENGTH:
        raise SecretKeyError(
            f"secret key file {path} is too short ({len(secret)} bytes, at least {MIN_SECRET_LENGTH}): "
            "restore it from your backup (a new key cannot read the stored reports)"
        )
    return secret


def load_webhook_secret(configured: str | None, data_dir: Path) -> str:
    """TIPBOT_WEBHOOK_SECRET if set, otherwise a token generated once into the data dir, so that a restart
    registers the same one and nothing but Telegram knows it."""
    if configured is not None:
        return configured
    path = data_dir / WEBHOOK_SECRET_FILE_NAME
    secret = _read_or_create(path, "webhook secret file", lambda: secrets.token_urlsafe(32)).decode()
    if not WEBHOOK_SECRET_PATTERN.fullmatch(secret):
        raise SecretKeyError(
            f"webhook secret file {path} must hold 1 to 256 characters of A-Z, a-z, 0-9, _ and -: "
            "delete it and a new one is made at start"
        )
    return secret


def make_private_dir(path: Path) -> None:
    """Create the data dir readable by the bot's user alone, whatever the umask; an existing one is left as is."""
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        return
    path.chmod(0o700)


def _read_or_create(path: Path, what: str, generate: Callable[[], str]) -> bytes:
    if not path.exists():
        make_private_dir(path.parent)
        _write_new_private_file(path, generate())
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise SecretKeyError(
            f"{what} {path} is readable or writable by other users (mode {mode:04o}): run chmod 600 {path}"
        )
    return path.read_bytes().strip()


def _write_new_private_file(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, sync it, then link it into place and sync the directory:
    a crash leaves either no file or a whole one. Linking, unlike renaming, never replaces a file another
    process made at the same moment, so two commands starting together end up with one secret."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


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
