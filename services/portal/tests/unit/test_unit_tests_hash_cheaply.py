"""The unit tests hash and check passwords at argon2id's lowest cost (stubbed_portal), the decoy an unknown or locked
name is checked against included: argon2 verifies at the cost written in the hash, so a decoy made at the portal's own
cost (argon2-cffi's defaults, which the portal keeps) took a full check on every such sign-in in these tests."""

from __future__ import annotations

import services.portal.tests.unit.stubbed_portal  # noqa: F401  (what sets the tests' cost)
from argon2 import PasswordHasher

from portal import passwords

CHEAPEST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_the_decoy_the_unit_tests_check_is_at_their_cost() -> None:
    assert not CHEAPEST.check_needs_rehash(passwords._DECOY_HASH)
    assert not passwords._hasher.check_needs_rehash(passwords._DECOY_HASH)
