"""Password hashes (argon2id, argon2-cffi's RFC 9106 defaults) and API tokens (random, stored as SHA-256).

Why argon2id: OWASP's Password Storage Cheat Sheet lists it first; argon2-cffi is maintained and its
defaults follow RFC 9106's second recommended option (64 MiB, 3 passes). A token is 32 random bytes: a
fast hash is enough for it (no dictionary to guess from), and it lets a request find its user by index.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from models.core import ValidationError

__all__ = [
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "TOKEN_PREFIX",
    "check_password_rules",
    "hash_password",
    "hash_token",
    "needs_rehash",
    "new_password",
    "new_token",
    "verify_password",
]

# NIST SP 800-63B §5.1.1.2: at least 8 characters, allow at least 64; we ask 10 of staff. The cap keeps a
# hostile form from making us hash megabytes.
PASSWORD_MIN = 10
PASSWORD_MAX = 256
TOKEN_PREFIX = "dft_"  # recognisable in a leaked log or config file (secret scanners key on prefixes)

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def check_password_rules(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise ValidationError(f"密码太短：至少 {PASSWORD_MIN} 个字符 password shorter than {PASSWORD_MIN}")
    if len(password) > PASSWORD_MAX:
        raise ValidationError(f"密码太长：最多 {PASSWORD_MAX} 个字符 password longer than {PASSWORD_MAX}")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; None (no such user) is checked against a dummy hash, and is False."""
    if len(password) > PASSWORD_MAX:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with weaker parameters than today's: store a new one at the next login."""
    return _hasher.check_needs_rehash(password_hash)


def new_password() -> str:
    """A generated password (16 URL-safe characters, 96 bits), e.g. for the first admin."""
    return secrets.token_urlsafe(12)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
