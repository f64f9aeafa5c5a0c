"""Erasing a learner (decision 0080) asks for confirmation only of a ULN that may be a learner's: its format and
check digit are judged on the first step (lrs_domain.identifiers), the error shown there (decision 0145)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal

from portal.accounts import Role

NO_ERASURES: dict[str, object] = {"erasures": [], "next": None}
CONFIRM = "Yes, erase this learner"


def _reach(uln: str, erased_with: list[str], **more: object) -> dict[str, object]:
    return {"uln": uln, "erased_with": erased_with, "erased": False, "erasure": None, **more}


@pytest.fixture
def portal() -> StubbedPortal:
    portal = stubbed_portal()
    portal.on("GET", "validation/v1/admin/erasures", lambda _: httpx.Response(200, json=NO_ERASURES))
    for uln in ("1000000043", "1000000042"):  # learners merged with nobody (the second held under a typo)
        portal.on("GET", f"validation/v1/admin/learners/{uln}/erasure", _alone)
    return portal


def _alone(request: httpx.Request) -> httpx.Response:
    """Validation's preview of a learner merged with nobody: only the ULN named is erased."""
    return httpx.Response(200, json=_reach(request.url.path.split("/")[-2], []))


@pytest.mark.parametrize(
    ("uln", "error"),
    [
        ("1000000042", "This ULN's check digit is wrong (RV002)"),
        ("1000000063", "This ULN's check digit is wrong (RV002)"),  # remainder 0: no digit completes it
        ("9999999999", "This is the temporary ULN (RV003), so no learner has it"),  # DOMAIN.md §2: RV003, not RV002
        ("0123456789", "Enter the learner's ULN: 10 digits, the first not 0"),
        ("12345", "Enter the learner's ULN: 10 digits, the first not 0"),
    ],
)
def test_a_uln_no_learner_can_have_is_an_error_on_the_first_step_not_a_confirmation(
    portal: StubbedPortal, uln: str, error: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/erasures/check", data=form(operator, uln=uln, reason="created in error"))

    assert answer.status_code == 400
    assert f'href="#uln">{error}' in answer.text.replace("&#39;", "'")
    assert CONFIRM not in answer.text


def test_the_temporary_uln_is_not_said_to_have_a_wrong_check_digit(portal: StubbedPortal) -> None:
    """docs/rules.md: the temporary ULN is RV003, not also RV002, though its check digit fails the test too."""
    client, operator = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/erasures/check", data=form(operator, uln="9999999999", reason="created in error"))

    assert answer.status_code == 400
    assert "RV002" not in answer.text and "check digit is wrong (" not in answer.text
    assert "temporary ULN (RV003)" in answer.text


def test_a_valid_uln_is_asked_to_be_confirmed(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/erasures/check", data=form(operator, uln="1000000043", reason="created in error"))

    assert answer.status_code == 200
    assert CONFIRM in answer.text and "data-mistyped" not in answer.text


def test_the_final_step_refuses_a_wrong_check_digit_too_and_asks_validation_nothing(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/erasures", data=form(operator, uln="1000000042", reason="created in error"))

    assert answer.status_code == 400
    assert not portal.sent_to("POST", "validation/v1/admin/learners/1000000042/erasure")


def test_a_mistyped_uln_an_ao_sent_stays_erasable_once_the_operator_says_so(portal: StubbedPortal) -> None:
    """Decision 0132: what an AO's batch carried under a ULN with a wrong check digit is erasable."""
    client, operator = portal.signed_in(Role.OPERATOR)
    refused = client.post("/ops/erasures/check", data=form(operator, uln="1000000042", reason="batch typo"))
    assert 'name="mistyped" type="checkbox" value="yes"' in refused.text

    confirming = client.post(
        "/ops/erasures/check", data=form(operator, uln="1000000042", reason="batch typo", mistyped="yes")
    )

    assert confirming.status_code == 200 and CONFIRM in confirming.text and "data-mistyped" in confirming.text
    assert '<input type="hidden" name="mistyped" value="yes">' in confirming.text


def test_the_temporary_uln_is_refused_on_both_steps_whatever_is_ticked(portal: StubbedPortal) -> None:
    """Decision 0154: what AOs send under 9999999999 is many people's, sealed under their batches' keys."""
    client, operator = portal.signed_in(Role.OPERATOR)

    for step in ("/ops/erasures/check", "/ops/erasures"):
        answer = client.post(step, data=form(operator, uln="9999999999", reason="batch typo", mistyped="yes"))
        assert answer.status_code == 400 and CONFIRM not in answer.text
        assert "temporary ULN (RV003)" in answer.text
        assert 'name="mistyped" type="checkbox"' not in answer.text  # no tick box offers what is refused
    assert not portal.sent_to("POST", "validation/v1/admin/learners/9999999999/erasure")


def test_a_confirmed_mistyped_uln_is_sent_to_validation_which_decides_whether_it_holds_it(
    portal: StubbedPortal,
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    not_held = {
        "title": "Invalid ULN",
        "status": 422,
        "detail": "The LRS holds nothing under this ULN.",
        "code": "RV002",
    }
    portal.on("POST", "validation/v1/admin/learners/1000000042/erasure", lambda _: httpx.Response(422, json=not_held))

    answer = client.post("/ops/erasures", data=form(operator, uln="1000000042", reason="batch typo", mistyped="yes"))

    assert portal.sent_to("POST", "validation/v1/admin/learners/1000000042/erasure")
    assert answer.status_code == 400 and 'href="#uln">The LRS holds nothing under this ULN.' in answer.text


def _said(page: httpx.Response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page.text)).replace("&#39;", "'")


def test_every_step_says_what_backups_and_sent_emails_keep_as_the_operations_guide_does(
    portal: StubbedPortal,
) -> None:
    """docs/operations.md: a backup from before the erasure, with LRS_KEYRING_KEY, opens the old ciphertext until
    it expires (30 days); emails already sent and a learner held only in the Sandpit are not erased."""
    client, operator = portal.signed_in(Role.OPERATOR)
    erasure = {
        "erasure_id": "5b0e8a52-0000-4000-8000-000000000001",
        "uln": "1000000043",
        "erased_by": "operator:dpo",
        "erased_at": "2027-05-03T08:15:00+00:00",
    }
    portal.on("POST", "validation/v1/admin/learners/1000000043/erasure", lambda _: httpx.Response(201, json=erasure))
    asking = client.get("/ops/erasures")
    confirming = client.post("/ops/erasures/check", data=form(operator, uln="1000000043", reason="created in error"))
    done = shown_after(client, client.post("/ops/erasures", data=form(operator, uln="1000000043", reason="x")))

    for page in (asking, confirming, done):
        said = _said(page)
        assert "every backup" not in said and "stored event or backup" not in said and "anywhere" not in said
        assert (
            "Until the last database backup from before the erasure expires (30 days), that backup together with the"
            " keyring key (LRS_KEYRING_KEY) could still open their names, date of birth and gender;" in said
        )
        assert (
            "until the tables that held them are next rewritten (VACUUM FULL of validation.learners, live and in the"
            " Sandpit, validation.disclosures, challenges.challenges, plr.centre_achievements,"
            " plr_ops.centre_report_keys, plr_ops.operator_actions, plr.parked, challenges_parked.parked_messages and"
            " identity.credentials, live and in the Sandpit, and pg_statistic:"
            ' the operations guide, "What stays in PostgreSQL\'s files"), the'
            " database's files, its WAL and backups hold the emptied values in clear" in said.replace("&quot;", '"')
        )
        assert "Not erased: emails already sent (a challenge email carries the learner's reason)" in said
        assert "a learner held only in the Sandpit" in said
    assert (
        "in any service or stored event, and in backups after 30 days and the next rewrite of the tables named below:"
        " erased by operator:dpo" in _said(done)
    )


def test_the_keyring_page_counts_one_key_in_the_singular(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    wrapping = {"wrap_with": 1, "keys_by_wrapping_key": {"0": 1, "1": 4}, "to_rewrap": 1}
    portal.on("GET", "validation/v1/admin/keyring", lambda _: httpx.Response(200, json=wrapping))
    rewrapped = {"wrap_with": 1, "rewrapped": 1, "to_rewrap": 0}
    portal.on("POST", "validation/v1/admin/keyring/rewrap", lambda _: httpx.Response(200, json=rewrapped))

    page = _said(client.get("/ops/keyring"))
    done = _said(shown_after(client, client.post("/ops/keyring/rewrap", data=form(operator))))

    assert "Re-wrap 1 key with wrapping key 1" in page and "1 keys" not in page
    assert "Re-wrapped 1 learner key with wrapping key 1: none is left to re-wrap." in done


def test_the_reason_asks_for_no_name_for_the_audit_keeps_it_as_written(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)

    page = client.get("/ops/erasures").text

    hint = re.search(r'<div id="reason-hint" class="govuk-hint">([^<]*)</div>', page)
    assert hint is not None
    assert "Write no name in it: the audit keeps it as written" in hint.group(1)


def test_the_done_page_names_the_same_persons_other_ulns_erased_with_them(portal: StubbedPortal) -> None:
    """Erasing a merged ULN erases its master too (validation's `erased_with`): the operator is told which."""
    client, operator = portal.signed_in(Role.OPERATOR)
    erasure = {
        "erasure_id": "5b0e8a52-0000-4000-8000-000000000002",
        "uln": "4751158642",
        "erased_by": "operator:dpo",
        "erased_at": "2027-05-03T08:15:00+00:00",
        "erased_with": ["5449721047"],
    }
    portal.on("POST", "validation/v1/admin/learners/4751158642/erasure", lambda _: httpx.Response(201, json=erasure))

    done = shown_after(client, client.post("/ops/erasures", data=form(operator, uln="4751158642", reason="duplicate")))

    assert (
        "The same person's other ULN (merged with this one), erased with them, each in the audit: 5449721047"
        in _said(done)
    )


def test_the_confirmation_names_every_uln_merged_with_the_learner_that_is_erased_with_them(
    portal: StubbedPortal,
) -> None:
    """Erasing one ULN of a merged learner erases them all: the operator is told which before confirming."""
    client, operator = portal.signed_in(Role.OPERATOR)
    reach = _reach("4751158642", ["1000000043", "5449721047"])
    portal.on("GET", "validation/v1/admin/learners/4751158642/erasure", lambda _: httpx.Response(200, json=reach))

    confirming = client.post("/ops/erasures/check", data=form(operator, uln="4751158642", reason="duplicate"))

    said = _said(confirming)
    assert confirming.status_code == 200 and CONFIRM in said
    assert "<title>Erase learner 4751158642 and the 2 ULNs merged with them?" in confirming.text
    assert "Erase learner 4751158642 and the 2 ULNs merged with them?" in said
    assert (
        "Also erased, as the same person's ULNs (merged with 4751158642), each in the audit: 1000000043, 5449721047"
        in said
    )
    assert not portal.sent_to("POST", "validation/v1/admin/learners/4751158642/erasure")


def test_a_learner_merged_with_nobody_is_asked_about_alone(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    confirming = client.post("/ops/erasures/check", data=form(operator, uln="1000000043", reason="created in error"))

    assert portal.sent_to("GET", "validation/v1/admin/learners/1000000043/erasure")
    assert "Erase learner 1000000043?" in _said(confirming) and "data-erased-with" not in confirming.text


def test_a_uln_validation_holds_nothing_about_is_said_at_the_uln_before_the_confirmation(
    portal: StubbedPortal,
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    not_held = {"title": "No learner held with this ULN", "status": 404, "detail": "The LRS holds nothing about it."}
    portal.on("GET", "validation/v1/admin/learners/5555555554/erasure", lambda _: httpx.Response(404, json=not_held))

    answer = client.post("/ops/erasures/check", data=form(operator, uln="5555555554", reason="created in error"))

    assert answer.status_code == 400 and CONFIRM not in answer.text
    assert 'href="#uln">The LRS holds nothing about it.' in answer.text


def test_a_learner_erased_already_is_said_to_be_on_the_confirmation(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    erasure = {
        "erasure_id": "5b0e8a52-0000-4000-8000-000000000003",
        "uln": "4751158642",
        "erased_by": "operator:dpo",
        "erased_at": "2027-05-03T08:15:00+00:00",
        "reason": "duplicate",
    }
    reach = _reach("4751158642", ["5449721047"], erased=True, erasure=erasure)
    portal.on("GET", "validation/v1/admin/learners/4751158642/erasure", lambda _: httpx.Response(200, json=reach))

    said = _said(client.post("/ops/erasures/check", data=form(operator, uln="4751158642", reason="again")))

    assert "This learner was already erased, by operator:dpo on" in said and "erasing again changes nothing" in said
    assert "Also erased, as the same person's ULN (merged with 4751158642), each in the audit: 5449721047" in said


def test_the_tables_it_says_to_rewrite_are_those_the_operations_guide_rewrites(portal: StubbedPortal) -> None:
    """The page named only "the registry and challenge tables"; docs/operations.md ("What stays in PostgreSQL's
    files") rewrites the disclosures' reasons and the projector's centre reports too, and the Sandpit's registry."""
    guide = (Path(__file__).parents[4] / "docs" / "operations.md").read_text(encoding="utf-8")
    section = guide.split("**What stays in PostgreSQL's files.**", 1)[1]
    commands = section.split("```bash", 1)[1].split("```", 1)[0].split('psql "$')[1:]
    live, sandpit = (set(re.findall(r"VACUUM \(FULL, ANALYZE\) ([a-z_]+\.[a-z_]+)", each)) for each in commands)
    assert {"validation.learners", "challenges.challenges", "validation.disclosures"} <= live
    assert sandpit == {"validation.learners", "identity.credentials"}
    client, _ = portal.signed_in(Role.OPERATOR)

    said = _said(client.get("/ops/erasures"))

    [rewritten] = re.findall(r"until the tables that held them are next rewritten \(VACUUM FULL of ([^:]*):", said)
    assert set(re.findall(r"[a-z_]+\.[a-z_]+", rewritten)) == live
    assert "live and in the Sandpit" in rewritten
