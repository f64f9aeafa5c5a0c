"""A page whose content or state changes says so in its title (WCAG 2.4.2), as the accounts page does after an action:
a list's page, a batch's records filtered or paged, a learner's results against the empty look-up form, a challenge
just acknowledged or resolved, the maintenance page after an action."""

from __future__ import annotations

from services.portal.tests.unit.stubbed_portal import form, shown_after, stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch, batch_page, page
from services.portal.tests.unit.test_challenge_pages import CHALLENGE_ID, challenge, with_a_challenge
from services.portal.tests.unit.test_learner_looked_up_by_get import _answering
from services.portal.tests.unit.test_learner_update_link import ULN
from services.portal.tests.unit.test_maintenance_page import (
    WINDOW_TO_COME,
    WINDOWS,
    quiet_ingest,
    window_changed,
    window_form,
    window_record,
)
from services.portal.tests.unit.test_titles_follow_headings import SUFFIX, title

from portal.accounts import Role

COMPLETED = batch(
    status="completed",
    failure_reason=None,
    counts={"total": 77, "accepted": 57, "rejected": 19, "warnings": 2, "no_ops": 1},
)


def test_a_list_of_batches_says_which_page_it_is() -> None:
    first = page("batches.html", batches=[], page=1, last_page=1)
    second = page("batches.html", batches=[], page=2, last_page=3)

    assert title(first) == f"Batches{SUFFIX}"
    assert title(second) == f"Batches (page 2 of 3){SUFFIX}"


def test_a_batch_page_says_which_of_its_records_it_shows() -> None:
    def shown(**asked: object) -> str:
        return title(batch_page(COMPLETED, **asked))

    assert title(batch_page(COMPLETED)) == f"Completed: Batch REF-7{SUFFIX}"
    assert shown() == f"Completed: Batch REF-7{SUFFIX}"
    assert shown(status_filter="rejected") == f"Completed: Batch REF-7 \u2013 rejected records{SUFFIX}"
    assert shown(status_filter="no_op") == f"Completed: Batch REF-7 \u2013 unchanged records{SUFFIX}"
    assert shown(code_filter="RV002") == f"Completed: Batch REF-7 \u2013 records with RV002{SUFFIX}"
    assert shown(page=2, last_page=3) == f"Completed: Batch REF-7 \u2013 records page 2 of 3{SUFFIX}"
    assert (
        shown(status_filter="rejected", page=2, last_page=2)
        == f"Completed: Batch REF-7 \u2013 rejected records, page 2 of 2{SUFFIX}"
    )


def test_a_learners_results_are_titled_apart_from_the_look_up_form_with_the_uln_masked() -> None:
    portal = stubbed_portal()
    _answering(portal, {ULN: "Merit"})
    client, person = portal.signed_in(Role.AO)

    empty = client.get("/learners")
    found = shown_after(client, client.post("/learners", data=form(person, uln=ULN)))

    assert title(empty.text) == f"Learners{SUFFIX}"
    assert title(found.text) == f"Achievements of ULN ******{ULN[-4:]} \u2013 Learners{SUFFIX}"
    assert ULN not in title(found.text)  # browser history keeps titles


def test_a_challenge_just_acknowledged_or_resolved_says_so_in_its_title() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()
    with_a_challenge(portal, challenge())

    acknowledged = client.get(f"/challenges/{CHALLENGE_ID}", params={"done": "acknowledged"}).text
    resolved = client.get(f"/challenges/{CHALLENGE_ID}", params={"done": "resolved"}).text

    about = "Challenge to an achievement of ULN ******0043 (600/1166/X)"
    assert title(acknowledged) == f"Acknowledged: {about}{SUFFIX}"
    assert title(resolved) == f"Resolved: {about}{SUFFIX}"


def test_the_maintenance_page_after_an_action_says_what_was_done_in_its_title() -> None:
    portal = stubbed_portal()
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    portal.on("POST", WINDOWS, lambda _: window_changed(window_record(WINDOW_TO_COME, "operator:olu")))

    before = client.get("/ops/maintenance")
    after = shown_after(client, client.post("/ops/maintenance/windows", data=form(operator, **window_form())))

    assert title(before.text) == f"Maintenance{SUFFIX}"
    assert title(after.text) == f"The maintenance window is scheduled \u2013 Maintenance{SUFFIX}"
    assert title(client.get("/ops/maintenance").text) == f"Maintenance{SUFFIX}"  # said once, as the banner is
