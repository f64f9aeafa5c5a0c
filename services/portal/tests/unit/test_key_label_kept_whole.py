"""An API key's label has one limit on every surface (report parity, finding 2): the portal's "Issue an API key" form
cut a longer label to its first 100 characters without a word, while `lrs credentials` kept it whole. The key store's
rule (`label_refusal`) now refuses one over `MAX_LABEL_CHARACTERS`, the form says so and issues nothing, a label of the
limit is stored whole, and the form's input holds no more."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

from lrs_platform.credential_store import MAX_LABEL_CHARACTERS
from portal.accounts import Role

LONG = "MIS-integration-" + "x" * 121 + "-server-B-end"  # 150 characters: its end tells it from the A server's


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_a_label_over_the_limit_is_refused_saying_so_and_no_key_is_issued(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/keys", data=form(session, key_ao_id="RN9093", label=LONG))

    assert answer.status_code == 400 and 'id="label-error"' in answer.text
    assert "The label is 150 characters long: shorten it to 100 or fewer." in answer.text
    assert LONG in answer.text  # kept in the form, to shorten
    assert not any(label.startswith("MIS-integration") for label in portal.keys.labels.values())


def test_a_label_of_the_limit_is_stored_whole(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    label = LONG[-MAX_LABEL_CHARACTERS:]

    answer = client.post("/ops/keys", data=form(session, key_ao_id="RN9093", label=label))

    assert answer.status_code == 303
    assert label in portal.keys.labels.values()


def test_the_label_input_holds_no_more_than_the_store_takes(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)

    page = client.get("/ops/accounts").text

    [label_input] = [line for line in page.splitlines() if 'id="label" name="label"' in line]
    assert f'maxlength="{MAX_LABEL_CHARACTERS}"' in label_input
    assert f"in {MAX_LABEL_CHARACTERS} characters or fewer" in page
