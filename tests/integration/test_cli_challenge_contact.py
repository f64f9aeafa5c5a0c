"""`lrs challenges contact`: an AO names who is emailed when a learner challenges one of its achievements, and
reads it back; another AO learns nothing of it; an AO without one is told that challenges wait for one."""

from __future__ import annotations

import json
import random

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.test_cli_against_services import FAILED, KEY_REFUSED, OK, _lrs

pytestmark = pytest.mark.integration

CONTACT = ["--given-name", "Sam", "--family-name", "Sample", "--telephone", "01632 960 000"]


async def test_an_ao_sets_its_challenge_contact_and_reads_it_back(system: SystemUnderTest) -> None:
    ao_id, other = (f"RN{number}" for number in random.sample(range(7000, 8000), 2))
    address = f"challenges@{ao_id.lower()}.example"

    unset = await _lrs(system, f"ao:{ao_id}", "challenges", "contact", ao_id)
    set_now = await _lrs(system, f"ao:{ao_id}", "challenges", "contact", ao_id.lower(), *CONTACT, "--email", address)
    shown = await _lrs(system, f"ao:{ao_id}", "challenges", "contact", ao_id, "--json")
    by_operator = await _lrs(system, "operator:support-desk", "challenges", "contact", ao_id)
    by_another_ao = await _lrs(system, f"ao:{other}", "challenges", "contact", ao_id)

    assert unset.returncode == FAILED
    assert f"{ao_id} has no challenge contact: challenges against its achievements wait, emailed to nobody" in (
        unset.stderr
    )
    assert set_now.returncode == OK, set_now.stderr
    assert set_now.stdout.startswith(f"challenges against {ao_id}'s achievements are emailed to {address}: Sam Sample")
    assert shown.returncode == OK, shown.stderr
    contact = json.loads(shown.stdout)
    assert (contact["ao_id"], contact["email"], contact["telephone"]) == (ao_id, address, "01632 960 000")
    assert by_operator.returncode == OK and address in by_operator.stdout
    assert by_another_ao.returncode == KEY_REFUSED and address not in by_another_ao.stdout + by_another_ao.stderr
