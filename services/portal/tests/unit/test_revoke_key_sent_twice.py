"""Revoke key sent twice (a double-click, the Back button, a second tab) changes nothing more and is no error: the
keys' page says the key was revoked already, as the first send's page said it was revoked. A key never issued, not
an AO's, or another AO's than the one whose keys the form was sent from is still not found."""

from __future__ import annotations

import asyncio

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal

from lrs_platform.identity import Principal
from portal.accounts import AccountChange, Role

AO = "RN5133"
OTHER_AO = "RN9093"
ACCOUNTS = frozenset({"accounts"})


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _issued(portal: StubbedPortal, ao_id: str = AO) -> str:
    return asyncio.run(portal.auth.issue_ao_key(ao_id, "results system", by="operator:root")).key_id


def test_a_revoke_sent_twice_says_the_key_was_revoked_already(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)
    key_id = _issued(portal)
    sent = form(session, confirmed="yes", keys_of=AO)

    first = client.post(f"/ops/keys/{key_id}/revoke", data=sent)
    again = client.post(f"/ops/keys/{key_id}/revoke", data=sent)

    assert first.headers["location"] == again.headers["location"] == f"/ops/accounts?keys_of={AO}"
    told = shown_after(client, again)
    assert told.status_code == 200
    assert f"API key {key_id} of ao:{AO} was revoked already" in told.text
    assert "This key was revoked at" in told.text and "Systems using it can no longer reach the LRS." in told.text
    revocations = [change for change in portal.accounts.changed if change.change is AccountChange.AO_KEY_REVOKED]
    assert [change.detail for change in revocations] == [f"key {key_id}"]  # revoked once, kept once


def test_a_revoke_from_every_aos_keys_sent_twice_is_answered_alike(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)
    key_id = _issued(portal)
    sent = form(session, confirmed="yes")  # from the page listing every AO's keys

    client.post(f"/ops/keys/{key_id}/revoke", data=sent)
    again = client.post(f"/ops/keys/{key_id}/revoke", data=sent)

    assert again.headers["location"] == "/ops/accounts"
    assert f"API key {key_id} of ao:{AO} was revoked already" in shown_after(client, again).text


def test_the_confirmation_of_a_key_revoked_already_goes_to_the_keys_saying_so(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)
    key_id = _issued(portal)
    client.post(f"/ops/keys/{key_id}/revoke", data=form(session, confirmed="yes", keys_of=AO))

    asked = client.get(f"/ops/keys/{key_id}/revoke?keys_of={AO}")

    assert asked.headers["location"] == f"/ops/accounts?keys_of={AO}"
    assert f"API key {key_id} of ao:{AO} was revoked already" in shown_after(client, asked).text


def test_a_key_never_issued_is_still_not_found(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)

    sent = client.post("/ops/keys/0123456789abcdef/revoke", data=form(session, confirmed="yes", keys_of=AO))
    asked = client.get(f"/ops/keys/0123456789abcdef/revoke?keys_of={AO}")

    assert sent.status_code == asked.status_code == 404


def test_a_key_revoked_of_another_ao_than_the_one_listed_is_not_found(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)
    key_id = _issued(portal, OTHER_AO)
    client.post(f"/ops/keys/{key_id}/revoke", data=form(session, confirmed="yes", keys_of=OTHER_AO))

    again = client.post(f"/ops/keys/{key_id}/revoke", data=form(session, confirmed="yes", keys_of=AO))
    asked = client.get(f"/ops/keys/{key_id}/revoke?keys_of={AO}")

    assert again.status_code == asked.status_code == 404


def test_a_revoked_key_that_is_no_aos_api_key_is_not_found(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)
    _, ao_user = portal.signed_in(Role.AO)
    session_key = next(key for key, label in portal.keys.labels.items() if label.endswith(ao_user.account.username))
    operator_key = asyncio.run(portal.keys.issue(Principal.parse("operator:desk"), "desk"))
    asyncio.run(portal.keys.revoke([session_key, operator_key.key_id]))

    for key_id in (session_key, operator_key.key_id):
        sent = client.post(f"/ops/keys/{key_id}/revoke", data=form(session, confirmed="yes"))
        asked = client.get(f"/ops/keys/{key_id}/revoke")
        assert sent.status_code == asked.status_code == 404, key_id
