"""What the keyring's faster paths must keep: every nonce used once, and the stored learner references unchanged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrs_platform.keyring import NONCE_BYTES, Keyring, KeyringKey, LearnerKey, Purpose

ULN = "9000000043"


def _nonce_of(sealed: str) -> bytes:
    body = sealed.removeprefix("s1.")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))[:NONCE_BYTES]


@given(st.text(min_size=1, max_size=40))
def test_a_learners_reference_is_the_hmac_sha256_of_the_uln_that_the_store_was_written_with(uln: str) -> None:
    secret = KeyringKey.generate()
    reference_key = secret.derive(b"lrs learner_keys: learner reference")
    keyring = Keyring(None, secret)  # no store is asked for a reference
    assert keyring.learner_ref(uln) == hmac.new(reference_key, uln.encode(), hashlib.sha256).digest()


def test_no_nonce_is_handed_out_twice_across_draws_and_threads() -> None:
    key = LearnerKey(ULN, secrets.token_bytes(32))
    per_thread = 1_500  # more than one draw of nonces each
    sealed: list[list[str]] = [[] for _ in range(4)]

    def seal(into: list[str]) -> None:
        into.extend(key.seal(Purpose.CHALLENGE_NOTE, b"x") for _ in range(per_thread))

    threads = [threading.Thread(target=seal, args=(into,)) for into in sealed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    nonces = [_nonce_of(each) for into in sealed for each in into]
    assert len(nonces) == 4 * per_thread
    assert len(set(nonces)) == len(nonces)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_does_not_reuse_its_parents_unused_nonces() -> None:
    key = LearnerKey(ULN, secrets.token_bytes(32))
    key.seal(Purpose.CHALLENGE_NOTE, b"x")  # the parent has drawn nonces it has not used yet
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.close(reading)
        os.write(writing, _nonce_of(key.seal(Purpose.CHALLENGE_NOTE, b"x")))
        os._exit(0)
    os.close(writing)
    try:
        childs = os.read(reading, NONCE_BYTES)
    finally:
        os.close(reading)
        os.waitpid(child, 0)
    parents = _nonce_of(key.seal(Purpose.CHALLENGE_NOTE, b"x"))
    assert len(childs) == NONCE_BYTES
    assert childs != parents


def test_a_key_used_many_times_opens_what_it_sealed_and_refuses_a_wrong_length() -> None:
    key = LearnerKey(ULN, secrets.token_bytes(32))
    sealed = [key.seal_text(Purpose.CHALLENGE_REASON, f"reason {n}") for n in range(3)]
    assert [key.open_text(Purpose.CHALLENGE_REASON, each) for each in sealed] == [f"reason {n}" for n in range(3)]
    with pytest.raises(ValueError, match="32 bytes"):
        LearnerKey(ULN, secrets.token_bytes(16))


def test_a_keyring_on_another_pool_shares_its_cache_and_keys() -> None:
    """Validation's decider has a pool of its own: its keyring is the API's on that pool, so a key erased or
    forgotten through one is so through the other at once."""
    api_pool, decider_pool = object(), object()
    api = Keyring(api_pool, KeyringKey.generate())
    decider = api.on_pool(decider_pool)

    api._cache["1000000043"] = (float("inf"), b"k" * 32)
    decider.forget("1000000043")

    assert "1000000043" not in api._cache
    assert decider.learner_ref("1000000043") == api.learner_ref("1000000043")
    assert (api._pool, decider._pool) == (api_pool, decider_pool)
