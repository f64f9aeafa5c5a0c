"""The accounts an operator sees: found by AO, role or the start of a username, a page at a time (the
portal's page lists 100, the admin API up to 500), so the list stays usable with every AO's staff on it."""

from __future__ import annotations

import re

import pytest
from services.portal.tests.unit.stubbed_portal import OperatorKey, StubbedPortal, stubbed_portal

from portal.accounts import Account, Role
from portal.web.account_pages import ACCOUNTS_PAGE

BEARER = {"Authorization": "Bearer lrs_k_s"}


@pytest.fixture
def portal() -> StubbedPortal:
    """More accounts of one AO's staff than a page shows, and one of the samples' AO."""
    portal = stubbed_portal()
    for number in range(ACCOUNTS_PAGE + 5):
        username = f"staff.{number:03d}"
        portal.accounts.rows[username] = (Account(username, "Staff", Role.AO, "RN5133"), "hash")
    portal.account("nia.other")
    return portal


def _listed(page_text: str) -> list[str]:
    table = page_text.split('data-table="accounts"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr class="govuk-table__row">\s*<td class="govuk-table__cell">([^<]+)</td>', table)


def test_the_accounts_page_lists_a_page_at_a_time_by_username(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)

    first = client.get("/ops/accounts")
    more = re.search(r'href="([^"]+)" rel="next" data-more-accounts', first.text)
    assert more, "no link to the next accounts"
    second = client.get(more.group(1).replace("&amp;", "&"))

    listed_first, listed_second = _listed(first.text), _listed(second.text)
    assert len(listed_first) == ACCOUNTS_PAGE and listed_first == sorted(listed_first)
    assert set(listed_first).isdisjoint(listed_second)
    assert set(listed_first + listed_second) == set(portal.accounts.rows)
    assert 'rel="next"' not in second.text and "Back to the first accounts" in second.text


def test_the_accounts_page_finds_an_aos_staff_a_role_or_a_username_start(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    of_ao = _listed(client.get("/ops/accounts", params={"accounts_of": "rn9093"}).text)
    operators = _listed(client.get("/ops/accounts", params={"role": "operator"}).text)
    starting = _listed(client.get("/ops/accounts", params={"starting": "staff.10"}).text)
    refused = client.get("/ops/accounts", params={"accounts_of": "nine", "starting": "Who?"})

    assert of_ao == ["nia.other"]
    assert operators == [operator.account.username]
    assert starting == ["staff.100", "staff.101", "staff.102", "staff.103", "staff.104"]
    assert refused.status_code == 400
    assert "Enter an AO recognition number" in refused.text and "A username holds only" in refused.text


def test_the_admin_api_pages_and_filters_the_accounts(portal: StubbedPortal) -> None:
    portal.app.state.credentials = OperatorKey()
    client = portal.client()

    first = client.get("/v1/admin/users", params={"limit": 60}, headers=BEARER).json()
    second = client.get("/v1/admin/users", params={"limit": 60, "after": first["next"]}, headers=BEARER).json()
    of_ao = client.get("/v1/admin/users", params={"ao_id": "RN9093"}, headers=BEARER).json()
    bad = client.get("/v1/admin/users", params={"starting": "A B"}, headers=BEARER)

    names = [item["username"] for item in first["items"] + second["items"]]
    assert names == sorted(portal.accounts.rows) and second["next"] is None
    assert [item["username"] for item in of_ao["items"]] == ["nia.other"] and of_ao["next"] is None
    assert bad.status_code == 422


def test_a_filter_that_is_not_right_pages_through_everyone_without_it(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)

    refused = client.get("/ops/accounts", params={"accounts_of": "nine"})
    more = re.search(r'href="([^"]+)" rel="next" data-more-accounts', refused.text)

    assert refused.status_code == 400 and more
    assert "accounts_of" not in more.group(1) and client.get(more.group(1).replace("&amp;", "&")).status_code == 200
