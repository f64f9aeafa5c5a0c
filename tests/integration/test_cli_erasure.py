"""`lrs learners erase|erasures` against the running services: an operator erases a registered learner, the
audit lists who, when and why, a second erase says the learner was erased already, and an AO is refused;
a ULN with a wrong check digit, or one the LRS holds nothing about, is refused saying why (decision 0132).
And `lrs keyring status|rewrap`, the wrapping of the learners' keys that erasure destroys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.test_cli_against_services import FAILED, KEY_REFUSED, OK, USAGE, _lrs, _register
from tests.support.learners import corrupt_check_digit, new_learner

pytestmark = pytest.mark.integration

REASON = "a test learner loaded into production"


async def test_an_operator_erases_a_learner_once_and_the_audit_lists_it(
    system: SystemUnderTest, tmp_path: Path
) -> None:
    learner = new_learner()
    uln = learner["uln"]
    await _register(system, tmp_path, [learner])

    unconfirmed = await _lrs(system, "operator:cli-erasure", "learners", "erase", uln, "--reason", REASON)
    assert unconfirmed.returncode == USAGE
    assert "pass --yes" in unconfirmed.stderr

    erased = await _lrs(system, "operator:cli-erasure", "learners", "erase", uln, "--reason", REASON, "--yes")
    assert erased.returncode == OK, erased.stderr
    assert erased.stdout.startswith(f"erased learner {uln}:")
    assert "by operator:cli-erasure" in erased.stdout
    for personal in (learner["given_name"], learner["family_name"], learner["date_of_birth"]):
        assert personal not in erased.stdout

    again = await _lrs(system, "operator:cli-erasure", "learners", "erase", uln, "--reason", "again", "--yes", "--json")
    assert again.returncode == OK, again.stderr
    second = json.loads(again.stdout)
    assert (second["uln"], second["erased_now"], second["erased_by"]) == (uln, False, "operator:cli-erasure")

    listed = await _lrs(system, "operator:cli-erasure", "learners", "erasures", "--uln", uln, "--json")
    assert listed.returncode == OK, listed.stderr
    (audited,) = json.loads(listed.stdout)
    assert (audited["uln"], audited["erased_by"], audited["reason"]) == (uln, "operator:cli-erasure", REASON)
    assert audited["erasure_id"] == second["erasure_id"]

    table = await _lrs(system, "operator:cli-erasure", "learners", "erasures", "--uln", uln)
    assert table.returncode == OK and uln in table.stdout and REASON in table.stdout

    # the newest first, a page at a time: a learner erased next leads, and the page after it goes on from there
    later = new_learner()
    await _register(system, tmp_path, [later])
    erased_later = await _lrs(
        system, "operator:cli-erasure", "learners", "erase", later["uln"], "--reason", REASON, "--yes"
    )
    assert erased_later.returncode == OK, erased_later.stderr
    newest = await _lrs(system, "operator:cli-erasure", "learners", "erasures", "--limit", "1", "--json")
    assert [erasure["uln"] for erasure in json.loads(newest.stdout)] == [later["uln"]]
    assert newest.stderr.startswith("more: the same command with --after ")
    after = newest.stderr.split()[-1]
    older = await _lrs(system, "operator:cli-erasure", "learners", "erasures", "--after", after, "--limit", "1")
    assert older.returncode == OK and uln in older.stdout and later["uln"] not in older.stdout


async def test_an_ao_cannot_erase_a_learner(system: SystemUnderTest, tmp_path: Path) -> None:
    learner = new_learner()
    await _register(system, tmp_path, [learner])
    refused = await _lrs(system, "ao:RN5133", "learners", "erase", learner["uln"], "--reason", REASON, "--yes")
    assert refused.returncode == KEY_REFUSED
    assert "HTTP 403" in refused.stderr
    audit = await _lrs(system, "operator:cli-erasure", "learners", "erasures", "--uln", learner["uln"], "--json")
    assert json.loads(audit.stdout) == []


async def test_an_operator_is_told_why_a_uln_that_cannot_be_the_learner_meant_is_not_erased(
    system: SystemUnderTest, tmp_path: Path
) -> None:
    learner = new_learner()
    await _register(system, tmp_path, [learner])
    mistyped, never_seen = corrupt_check_digit(learner["uln"]), new_learner()["uln"]

    unsaid = await _lrs(system, "operator:cli-erasure", "learners", "erase", mistyped, "--reason", REASON, "--yes")
    assert unsaid.returncode == USAGE  # as the portal asks first (0145): most likely a typo
    assert "is wrong (RV002), so no learner can have it: it is most likely mistyped" in unsaid.stderr
    wrong_digit = await _lrs(
        system, "operator:cli-erasure", "learners", "erase", mistyped, "--mistyped", "--reason", REASON, "--yes"
    )
    assert wrong_digit.returncode == FAILED  # said to be a batch's typo, but no batch carried it: nothing held
    assert "HTTP 422: RV002 - Invalid ULN: the ULN's check digit is wrong" in wrong_digit.stderr
    assert "Nothing was erased" in wrong_digit.stderr

    nothing_held = await _lrs(
        system, "operator:cli-erasure", "learners", "erase", never_seen, "--reason", REASON, "--yes"
    )
    assert nothing_held.returncode == FAILED
    assert "HTTP 404: No learner held with this ULN: the LRS holds nothing about this ULN" in nothing_held.stderr
    assert "Nothing was erased" in nothing_held.stderr

    for uln in (mistyped, never_seen):
        audit = await _lrs(system, "operator:cli-erasure", "learners", "erasures", "--uln", uln, "--json")
        assert json.loads(audit.stdout) == []
    still = await _lrs(system, "operator:cli-erasure", "learners", "erase", learner["uln"], "--reason", REASON, "--yes")
    assert still.returncode == OK and still.stdout.startswith(f"erased learner {learner['uln']}:"), still.stderr


async def test_an_operator_sees_how_learner_keys_are_wrapped_and_rewraps_them(
    system: SystemUnderTest, tmp_path: Path
) -> None:
    await _register(system, tmp_path, [new_learner()])
    status = await _lrs(system, "operator:cli-keyring", "keyring", "status")
    assert status.returncode == OK, status.stderr
    assert "new learner keys are wrapped with wrapping key 0 (derived from LRS_KEYRING_KEY)" in status.stdout
    assert "by wrapping key 0" in status.stdout and "to re-wrap" not in status.stdout

    rewrapped = await _lrs(system, "operator:cli-keyring", "keyring", "rewrap", "--json")
    assert rewrapped.returncode == OK, rewrapped.stderr
    answer = json.loads(rewrapped.stdout)
    assert (answer["rewrapped"], answer["to_rewrap"], answer["wrap_with"]) == (0, 0, 0)

    refused = await _lrs(system, "ao:RN5133", "keyring", "rewrap")
    assert refused.returncode == KEY_REFUSED and "HTTP 403" in refused.stderr
