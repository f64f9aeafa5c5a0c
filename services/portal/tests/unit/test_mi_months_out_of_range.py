"""How many months the MI shows is chosen from a list; a number out of range typed into the address is refused in
words naming the range, not answered "There is nothing here, or it is not yours to see"."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import stubbed_portal

from lrs_platform.identity import OperatorScope
from portal.accounts import Role


@pytest.mark.parametrize("path", ["/mi?months=99", "/mi?months=0", "/mi/batches.csv?months=25"])
def test_an_ao_asking_for_months_out_of_range_is_told_the_range(path: str) -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()

    shown = client.get(path)

    assert shown.status_code == 400
    assert "The MI shows from 1 to 24 months up to this one, not" in shown.text
    assert "nothing here, or it is not yours to see" not in shown.text


def test_an_operator_asking_for_months_out_of_range_is_told_the_range() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({OperatorScope.SUPPORT.value}))

    shown = client.get("/ops/mi?months=99&ao=RN9093")

    assert shown.status_code == 400 and "The MI shows from 1 to 24 months up to this one, not 99" in shown.text
