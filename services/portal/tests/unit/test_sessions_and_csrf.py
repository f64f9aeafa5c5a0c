"""Session tokens, sealed service keys, expiry and CSRF tokens: pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.csrf import new_csrf_token, tokens_match
from portal.passwords import generate_password, hash_password, verify_password
from portal.sessions import (
    SANDPIT_SEAL_CONTEXT,
    CookiePolicy,
    SessionPolicy,
    new_token,
    open_notice,
    seal,
    seal_notice,
    token_hash,
    unseal,
)

KEY = "lrs_0123456789abcdef_" + "s" * 43


def test_a_sealed_key_opens_only_with_its_own_token() -> None:
    token = new_token()
    sealed = seal(token, KEY)
    assert KEY.encode() not in sealed
    assert unseal(token, sealed) == KEY
    try:
        opened_with_another: str | None = unseal(new_token(), sealed)
    except UnicodeDecodeError:
        opened_with_another = None
    assert opened_with_another != KEY


def test_the_sandpit_key_is_sealed_with_a_pad_of_its_own() -> None:
    """Two keys XORed with one pad would give away their XOR: the session's two keys never share one."""
    token = new_token()
    live, sandpit = "lrs_k1_" + "a" * 43, "lrs_sbx_k2_" + "b" * 39

    sealed_live, sealed_sandpit = seal(token, live), seal(token, sandpit, SANDPIT_SEAL_CONTEXT)

    assert unseal(token, sealed_sandpit, SANDPIT_SEAL_CONTEXT) == sandpit
    assert unseal(token, sealed_live) == live
    pads = [
        bytes(a ^ b for a, b in zip(sealed, key.encode(), strict=True))
        for sealed, key in ((sealed_live, live), (sealed_sandpit, sandpit))
    ]
    assert pads[0] != pads[1]


def test_the_store_keeps_a_hash_that_does_not_reveal_the_token() -> None:
    token = new_token()
    assert token_hash(token) == token_hash(token)
    assert token not in token_hash(token)
    assert token_hash(token) != token_hash(new_token())


def test_each_request_pushes_the_expiry_but_never_past_the_absolute_limit() -> None:
    policy = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    signed_in = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert policy.expiry(signed_in, signed_in) == signed_in + timedelta(minutes=30)
    later = signed_in + timedelta(hours=2)
    assert policy.expiry(signed_in, later) == later + timedelta(minutes=30)
    near_the_end = signed_in + timedelta(hours=11, minutes=50)
    assert policy.expiry(signed_in, near_the_end) == signed_in + timedelta(hours=12)


def test_secure_cookies_take_the_host_prefix_and_local_http_does_not() -> None:
    assert CookiePolicy(secure=True).session_cookie.startswith("__Host-")
    assert not CookiePolicy(secure=False).session_cookie.startswith("__Host-")


def test_csrf_tokens_match_only_themselves_and_never_when_missing() -> None:
    token = new_csrf_token()
    assert tokens_match(token, token)
    assert not tokens_match(token, new_csrf_token())
    assert not tokens_match(token, None)
    assert not tokens_match(token, "")
    assert not tokens_match(None, token)
    assert not tokens_match("", "")


def test_passwords_verify_against_their_argon2_hash_only() -> None:
    password = generate_password()
    stored = hash_password(password)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, password)
    assert not verify_password(stored, password + "x")
    assert not verify_password(None, password)
    assert not verify_password("not a hash", password)


def test_generated_passwords_are_long_and_different() -> None:
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(password) == 23 for password in passwords)


def test_a_page_notice_opens_with_its_token_and_each_is_sealed_under_a_new_pad() -> None:
    """A session seals many notices (decision 0130): a random nonce keeps any two from sharing a pad."""
    token, notice = new_token(), b'{"issued": {"secret": "' + KEY.encode() + b'"}}'

    first, second = seal_notice(token, notice), seal_notice(token, notice)

    assert KEY.encode() not in first and first != second
    assert open_notice(token, first) == notice == open_notice(token, second)
    assert open_notice(new_token(), first) != notice
