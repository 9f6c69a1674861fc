"""Receipt codes: 16 random digits shown once; only a slow keyed hash is stored."""

from __future__ import annotations

import hashlib
import secrets

CODE_DIGITS = 16


def new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def format_code(code: str) -> str:
    """`1234 5678 9012 3456`: easy to read aloud or copy onto paper."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise(text: str) -> str | None:
    digits = "".join(ch for ch in text if ch.isdigit())
    stripped = "".join(ch for ch in text if not ch.isspace() and ch != "-")
    return digits if len(digits) == CODE_DIGITS and stripped == digits else None


def hash_code(code: str, salt: bytes) -> str:
    """scrypt: costly enough that a stolen database cannot be searched through 10^16 codes."""
    return hashlib.scrypt(code.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32).hex()
