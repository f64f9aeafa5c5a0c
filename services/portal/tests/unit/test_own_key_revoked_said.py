"""An AO's batch page names the API key of its own that sent a batch; after that key was revoked (it leaked, or a
system was retired) it says so and when, as the operators' batch page does, so the AO tells the batches its leaked
key sent from the others. A portal session's key, ended at every sign-out, is not said revoked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal
from services.portal.tests.unit.test_batch_desk_questions import KeyStore
from services.portal.tests.unit.test_own_staff_named_to_their_ao import sent_by

from lrs_platform.credential_store import StoredKey
from lrs_platform.identity import Principal

LEAKED = "e106a2eb71d389fe"
UNLABELLED = "3c3c3c3c3c3c3c3c"
STANDING = "4d4d4d4d4d4d4d4d"
SESSION_KEY = "800ffd2d72424c4b"
MADE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REVOKED = datetime(2026, 12, 7, 12, 11, tzinfo=UTC)


@pytest.fixture
def portal() -> StubbedPortal:
    stub = stubbed_portal()
    pearson = Principal.parse("ao:RN9093")
    stub.app.state.credentials = KeyStore(
        StoredKey(LEAKED, pearson, "make up", MADE, REVOKED, created_by="operator:alex"),
        StoredKey(UNLABELLED, pearson, None, MADE, REVOKED),
        StoredKey(STANDING, pearson, "MIS nightly", MADE, None),
        StoredKey(SESSION_KEY, pearson, "portal session: sam.hire", MADE, REVOKED),
    )
    return stub


def test_a_revoked_api_key_is_said_revoked_and_when(portal: StubbedPortal) -> None:
    assert sent_by(portal, submitted_by="ao:RN9093", submitted_with_key=LEAKED) == (
        f"Your API key “make up” (key {LEAKED}) (revoked 7 Dec 2026, 12:11, UK time)"
    )
    assert sent_by(portal, submitted_by="ao:RN9093", submitted_with_key=UNLABELLED) == (
        f"Your unlabelled API key {UNLABELLED} (revoked 7 Dec 2026, 12:11, UK time)"
    )


def test_a_key_still_in_use_and_a_portal_session_are_not_said_revoked(portal: StubbedPortal) -> None:
    assert sent_by(portal, submitted_by="ao:RN9093", submitted_with_key=STANDING) == (
        f"Your API key “MIS nightly” (key {STANDING})"
    )
    assert sent_by(portal, submitted_by="ao:RN9093", submitted_with_key=SESSION_KEY) == "sam.hire, in the portal"
