"""Passwords are hashed with argon2id at RFC 9106's second recommended parameters (the tests elsewhere use
a cheaper hasher for speed: this is the one production uses)."""

from __future__ import annotations

from models.accounts import verify_password
from models.accounts.credentials import hash_password, hash_token, new_token


def test_production_hashes_are_argon2id_64_mib_3_passes_and_verify() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterY")
    assert not verify_password(None, "correct horse battery")  # no such user
    assert not verify_password("not a hash", "correct horse battery")


def test_tokens_are_random_prefixed_and_stored_as_sha256() -> None:
    first, second = new_token(), new_token()
    assert first != second and first.startswith("dft_") and len(first) > 40
    assert len(hash_token(first)) == 64 and hash_token(first) != hash_token(second)
