"""Sign-ins sent together wait their turn for argon2 (64 MiB a hash): three at once overran the portal's memory
limit and the kernel killed it, whoever sent them, since an unknown username is checked against a decoy."""

from __future__ import annotations

import asyncio
import threading

import pytest

from portal import passwords
from portal.accounts import SignInOutcome
from portal.auth import PASSWORD_HASHES_AT_ONCE

from .stubbed_portal import stubbed_portal


class _HashesAtOnce:
    """A hash that lasts until every sign-in sent is being checked at once, or 0.3 s have passed: the most at once
    is then as many as are let in, whatever the machine's speed."""

    def __init__(self, sent: int) -> None:
        self._changed = threading.Condition()
        self.sent = sent
        self.now = 0
        self.most = 0

    def verify(self, password_hash: str | None, password: str) -> bool:
        with self._changed:
            self.now += 1
            self.most = max(self.most, self.now)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.now >= self.sent, timeout=0.3)
            self.now -= 1
        return False


def test_sign_ins_sent_together_check_no_more_passwords_at_once_than_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    portal = stubbed_portal()
    account, _ = portal.account("user.many")
    hashes = _HashesAtOnce(sent=6)
    monkeypatch.setattr(passwords, "verify_password", hashes.verify)

    async def sign_ins_at_once() -> list[SignInOutcome]:
        names = [account.username, "nobody.here", account.username, "nobody.else", account.username, "nobody.more"]
        results = await asyncio.gather(*(portal.auth.sign_in(name, "a wrong guess") for name in names))
        return [result.outcome for result in results]

    outcomes = asyncio.run(sign_ins_at_once())

    assert PASSWORD_HASHES_AT_ONCE == 2
    assert hashes.most == PASSWORD_HASHES_AT_ONCE
    assert set(outcomes) <= {SignInOutcome.WRONG_CREDENTIALS, SignInOutcome.LOCKED}


def test_one_clients_sign_ins_sent_together_take_two_turns_and_the_rest_are_refused_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One client cannot hold every turn at the hashes: a third sign-in of its own while two are checked is refused
    (429, not queued), while another client's is checked."""
    portal = stubbed_portal()
    account, _ = portal.account("user.flooded")
    hashes = _HashesAtOnce(sent=6)
    monkeypatch.setattr(passwords, "verify_password", hashes.verify)

    async def sign_in_from(address: str) -> SignInOutcome | None:
        with portal.auth.client_turn(address) as checked_now:
            if not checked_now:
                return None
            return (await portal.auth.sign_in(account.username, "a wrong guess")).outcome

    async def at_once() -> list[SignInOutcome | None]:
        flood = [sign_in_from("203.0.113.7") for _ in range(5)]
        same_network = [
            sign_in_from("2001:db8:1:2::5"),
            sign_in_from("2001:db8:1:2::9"),
            sign_in_from("2001:db8:1:2::1"),
        ]
        return await asyncio.gather(*flood, *same_network, sign_in_from("198.51.100.1"))

    *flood, first, second, third, other = asyncio.run(at_once())

    assert [outcome is None for outcome in flood] == [False, False, True, True, True]
    assert (first is None, second is None, third is None) == (False, False, True)  # one IPv6 /64 is one client
    assert other is not None


def test_the_sign_in_page_refuses_a_third_sign_in_of_a_client_while_two_are_checked() -> None:
    portal = stubbed_portal()
    account, password = portal.account("user.waiting")
    client = portal.client()
    client.get("/sign-in")  # the form's token, in its cookie
    token = client.cookies.get(portal.cookies.sign_in_cookie)
    form = {"username": account.username, "password": password, "csrf_token": token}

    with portal.auth.client_turn("testclient") as first, portal.auth.client_turn("testclient") as second:
        assert first and second  # two of this client's sign-ins being checked
        refused = client.post("/sign-in", data=form)
    signed_in = client.post("/sign-in", data=form)

    assert refused.status_code == 429
    assert "Other sign-ins from your network are being checked at this moment" in refused.text
    assert signed_in.status_code == 303  # its turn came: nothing was counted against the account
