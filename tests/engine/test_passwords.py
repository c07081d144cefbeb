"""Password hashes: opsgate's own argon2 parameters, which the rest of the suite swaps for argon2's
cheapest (tests/conftest.py), and the rehash a sign-in makes when a stored hash has other ones."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import extract_parameters, profiles

from engine.people import users


@pytest.fixture
def default_hashing() -> Iterator[None]:
    users.use_hashing(users.DEFAULT_HASHING)
    yield
    users.use_hashing(profiles.CHEAPEST)


def test_new_hashes_use_argon2id_with_64_mib_and_3_passes(default_hashing, session):
    user = users.create_user(session, "hana", [], "correct-horse-1", actor=None)
    made = extract_parameters(user.password_hash)
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert (made.memory_cost, made.time_cost, made.parallelism, made.salt_len, made.hash_len) == (65536, 3, 4, 16, 32)
    assert users.authenticate(session, "hana", "correct-horse-1") is user
    assert users.authenticate(session, "hana", "correct-horse-2") is None
    assert users.authenticate(session, "nobody", "correct-horse-1") is None


def test_a_sign_in_with_a_cheaper_hash_stores_one_with_the_defaults(session):
    user = users.create_user(session, "hugo", [], "correct-horse-1", actor=None)
    assert extract_parameters(user.password_hash).memory_cost == profiles.CHEAPEST.memory_cost
    users.use_hashing(users.DEFAULT_HASHING)
    try:
        assert users.authenticate(session, "hugo", "wrong-horse-1") is None
        assert extract_parameters(user.password_hash).memory_cost == profiles.CHEAPEST.memory_cost  # unchanged
        assert users.authenticate(session, "hugo", "correct-horse-1") is user
    finally:
        users.use_hashing(profiles.CHEAPEST)
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert users.authenticate(session, "hugo", "correct-horse-1") is user  # the new hash checks
