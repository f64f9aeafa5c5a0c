"""An operator's duties saved as they are already (the Duties form saved unchanged, or `PUT .../scopes` run again by a
script or after a lost answer) change nothing: no "duties changed" kept, and the operator's sessions go on. Saving
other duties still ends them (their key carries the duties it was issued with)."""

from __future__ import annotations

import asyncio

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal

from portal.accounts import AccountChange, Role


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _signed_in_as(portal: StubbedPortal, username: str, duties: frozenset[str]) -> str:
    _, password = portal.account(username, Role.OPERATOR, duties)
    session = asyncio.run(portal.auth.sign_in(username, password)).session
    assert session is not None
    return session.token


def _duties_changes(portal: StubbedPortal, username: str) -> int:
    return sum(1 for c in portal.accounts.changed if c.subject == username and c.change is AccountChange.DUTIES_CHANGED)


def test_the_duties_form_saved_unchanged_keeps_their_sessions_and_records_nothing(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    theirs = _signed_in_as(portal, "op.s1", frozenset({"dead-letters", "support"}))

    saved = client.post(
        "/ops/accounts/op.s1/duties",
        data={**form(session, duties="only"), "scopes": ["dead-letters", "support"]},
    )

    assert saved.status_code == 303
    assert "Duties of op.s1 unchanged" in shown_after(client, saved).text
    assert asyncio.run(portal.auth.session_for(theirs)) is not None
    assert _duties_changes(portal, "op.s1") == 0


def test_other_duties_still_end_their_sessions_once(portal: StubbedPortal) -> None:
    theirs = _signed_in_as(portal, "op.s2", frozenset({"dead-letters"}))

    first = asyncio.run(portal.auth.change_duties("op.s2", ["support"], by="operator:tests"))
    again = asyncio.run(portal.auth.change_duties("op.s2", ["support"], by="operator:tests"))

    assert (first[1], again[1]) == (True, False)
    assert again[0].scopes == frozenset({"support"})
    assert asyncio.run(portal.auth.session_for(theirs)) is None
    assert _duties_changes(portal, "op.s2") == 1
