"""An AO's API key issued or revoked in the portal is kept in the key store as made or revoked by the operator, in the
portal (`operator:<username>, the portal`), as `lrs credentials` keeps its own: `lrs credentials list` then names who
made and revoked every key (report "keyrot" K3). The portal's own audit of account changes keeps them as before."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal

from portal.accounts import AccountChange, Role

AO = "RN9093"
ACCOUNTS = frozenset({"accounts"})


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_a_key_issued_and_revoked_in_the_portal_is_kept_as_the_operators_in_the_key_store(
    portal: StubbedPortal,
) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)

    shown_after(client, client.post("/ops/keys", data=form(session, key_ao_id=AO, label="MIS nightly")))
    [key_id] = [key_id for key_id, label in portal.keys.labels.items() if label == "MIS nightly"]
    sent = form(session, confirmed="yes", keys_of=AO)
    client.post(f"/ops/keys/{key_id}/revoke", data=sent)
    client.post(f"/ops/keys/{key_id}/revoke", data=sent)  # sent twice: its revoker stays the first's

    assert session.account.who == f"operator:{session.account.username}"
    assert portal.keys.made_by[key_id] == f"operator:{session.account.username}, the portal"
    assert portal.keys.revoked_by[key_id] == f"operator:{session.account.username}, the portal"
    kept = [(change.change, change.detail) for change in portal.accounts.changed if change.subject == f"ao:{AO}"]
    assert kept == [(AccountChange.AO_KEY_ISSUED, f"key {key_id}"), (AccountChange.AO_KEY_REVOKED, f"key {key_id}")]
