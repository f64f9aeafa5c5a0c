"""An operator who opens a Sandpit page is told why the Sandpit pages are not theirs and how an operator reaches an
AO's Sandpit (decision 0060), not shown a bare "Page not found"."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import stubbed_portal

from portal.accounts import Role


@pytest.mark.parametrize("path", ["/sandpit", "/sandpit/batches", "/sandpit/reset"])
def test_an_operator_is_told_the_sandpit_pages_are_for_ao_users_and_what_to_use_instead(path: str) -> None:
    portal = stubbed_portal()
    portal.app.state.portal.sandpit = portal.app.state.portal.services  # a portal with a Sandpit
    client, _ = portal.signed_in(Role.OPERATOR)

    shown = client.get(path)

    assert shown.status_code == 403
    assert "You cannot see this page" in shown.text
    assert "The Sandpit pages are for awarding organisation users" in shown.text
    assert "lrs --sandpit batch list" in shown.text


def test_without_a_sandpit_its_pages_are_not_found() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.OPERATOR)

    shown = client.get("/sandpit")

    assert shown.status_code == 404 and "This portal has no Sandpit." in shown.text
