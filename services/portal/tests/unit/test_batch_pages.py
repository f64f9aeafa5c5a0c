"""A batch page as the AO reads it, rendered from the batch view's JSON."""

from __future__ import annotations

import re
from typing import Any

from lrs_domain.rules import rejected_share_shown
from portal.direct_entry import entry_reference, is_direct_entry
from portal.web.batch_pages import DECIDED, RECORD_STATUSES
from portal.web.common import TEMPLATES

BATCH_ID = "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35"
REASON = (
    "The LRS could not process this batch and has stopped trying; its operators have been alerted."
    " None of its records reached any learner's record. Submit the file again: it will be a new batch."
)


def batch(**changes: Any) -> dict[str, Any]:
    return {
        "batch_id": BATCH_ID,
        "status": "abandoned",
        "batch_reference": "REF-7",
        "job_type": "Final",
        "format": "csv",
        "counts": {"total": 2, "accepted": None, "rejected": None, "warnings": None, "no_ops": None},
        "refusal": None,
        "failure_code": None,
        "failure_reason": REASON,
        "received_at": "2026-11-30T10:00:00Z",
        "decided_at": "2026-11-30T10:01:00Z",
        **changes,
    }


def page(template: str, **context: Any) -> str:
    common: dict[str, Any] = {
        "user": None,
        "navigation": [],
        "sandpit": False,
        "has_sandpit": False,
        "base": "",
        "current_path": "/batches",
        "maintenance": None,
        "csrf_field": "csrf",
        "csrf_token": "",
        "announce": False,  # the batch page's: not reloaded by its script on being decided
    }
    return TEMPLATES.get_template(template).render({**common, **context})


def rejected_share(shown: dict[str, Any]) -> str:
    """What the batch view passes the page (`batch_context`)."""
    return rejected_share_shown(shown["counts"]["rejected"] or 0, shown["counts"]["total"] or 0)


def batch_page(shown: dict[str, Any], **context: Any) -> str:
    """The batch page of `shown` with none of its records listed, as `batch_context` gives it, changed by `context`."""
    values: dict[str, Any] = {
        "batch": shown,
        "rejected_share": rejected_share(shown),
        "direct_entry": is_direct_entry(shown),
        "decided": shown["status"] in DECIDED,
        "records": [],
        "total": 0,
        "codes": [],
        "status_filter": None,
        "code_filter": None,
        "page": 1,
        "last_page": 1,
        "threshold": 0.3,
        "statuses": RECORD_STATUSES,
        "sent_before": None,
        **context,
    }
    return page("batch.html", **values)


def test_an_abandoned_batch_is_decided_says_why_and_asks_for_the_file_again() -> None:
    html = batch_page(batch())
    assert 'data-decided="true"' in html  # the page stops polling for a decision
    assert f'data-abandoned="{BATCH_ID}"' in html
    assert "The LRS could not process this batch" in html and "Submit the file again" in html
    assert "Nothing from this batch has been added to any learner's record." in html
    assert 'href="/batches/new">upload the same file again</a>' in html
    assert 'data-table="records"' not in html  # no records were decided
    assert "none (abandoned)" in html and "not yet" not in html  # final: no counts are to come


def test_a_completed_batch_says_nothing_of_abandonment() -> None:
    counts = {"total": 2, "accepted": 2, "rejected": 0, "warnings": 0, "no_ops": 0}
    html = batch_page(batch(status="completed", failure_reason=None, counts=counts))
    assert "data-abandoned" not in html and "could not process" not in html


def test_the_batch_list_shows_an_abandoned_batch_in_red() -> None:
    html = page("_batch_table.html", batches=[batch()], caption="Recent batches")
    assert '<strong class="govuk-tag govuk-tag--red">abandoned</strong>' in html


def test_a_sandpit_batchs_pages_and_learners_link_stay_in_the_sandpit() -> None:
    counts = {"total": 77, "accepted": 70, "rejected": 7, "warnings": 0, "no_ops": 0}
    shown = batch(status="completed", failure_reason=None, counts=counts)
    record = {"line": 1, "status": "accepted", "errors": [], "warnings": [], "uln_masked": "******0043"}
    record |= {"mis_identifier": "MIS-1", "action": "create"}
    common = {"decided": True, "records": [record], "total": 77, "codes": [], "threshold": 0.3, "on_records": "yes"}
    filtered = {"status_filter": "rejected", "code_filter": None, "statuses": RECORD_STATUSES, "sent_before": None}
    for base in ("", "/sandpit"):
        html = page("batch.html", base=base, batch=shown, page=1, last_page=2, **common, **filtered)
        listing = page("batches.html", base=base, batches=[shown], page=1, last_page=3)

        assert f'href="{base}/batches/{BATCH_ID}?status=rejected&amp;page=2"' in html
        assert f'href="{base}/learners?after_batch={BATCH_ID}">learners page</a>' in html
        assert f'href="{base}/batches?page=2"' in listing


def test_a_sandpit_batch_says_its_accepted_records_are_the_sandpits_not_learners_live_ones() -> None:
    """README: everything from the Sandpit is marked; nothing from it reaches a learner's live record."""
    counts = {"total": 2, "accepted": 2, "rejected": 0, "warnings": 0, "no_ops": 0}
    shown = batch(status="completed", failure_reason=None, counts=counts)
    context = {"decided": True, "records": [], "total": 2, "codes": [], "threshold": 0.3, "status_filter": None}
    context |= {"code_filter": None, "statuses": RECORD_STATUSES, "sent_before": None, "page": 1, "last_page": 1}
    context |= {"on_records": "yes"}  # the projector confirmed it (`on_learners_records`)

    live = page("batch.html", batch=shown, **context)
    sandpit = page("batch.html", batch=shown, sandpit=True, base="/sandpit", **context)

    assert "The accepted records are on learners' records. Look a learner up" in live
    assert "Sandpit" not in live.split('data-table="records"', 1)[1]
    assert "The accepted records are on learners' records." not in sandpit
    assert (
        "The accepted records are on the Sandpit's learners' records only: nothing from the Sandpit reaches a"
        " learner's live record. Look a learner up on the Sandpit's" in sandpit
    )
    assert f'href="/sandpit/learners?after_batch={BATCH_ID}">learners page</a>' in sandpit


def _failed_batch_page(counts: dict[str, int], records: list[dict[str, Any]]) -> tuple[str, str]:
    """A failed (RS005) batch's page, and the batch list showing it."""
    failed = batch(status="failed", failure_code="RS005", failure_reason=None, counts=counts)
    html = page(
        "batch.html",
        batch=failed,
        rejected_share=rejected_share(failed),
        decided=True,
        records=records,
        total=counts["total"],
        codes=[],
        status_filter=None,
        code_filter=None,
        page=1,
        last_page=1,
        threshold=0.3,
        statuses=RECORD_STATUSES,
        sent_before=None,
    )
    return html, page("_batch_table.html", batches=[failed], caption="Recent batches")


def _record(line: int, status: str) -> dict[str, Any]:
    shown = {"line": line, "status": status, "errors": [], "warnings": [], "uln_masked": "******0043"}
    return shown | {"mis_identifier": f"MIS-{line}", "action": "Create"}


def test_a_failed_batchs_accepted_records_are_bracketed_and_said_to_be_added_nowhere() -> None:
    counts = {"total": 10, "accepted": 6, "rejected": 4, "warnings": 0, "no_ops": 1}
    html, listing = _failed_batch_page(counts, [_record(4, "accepted")])

    assert re.search(r'data-count="accepted">\(6\) passed their checks, but none was added[^<]*\(RS005\)</dd>', html)
    assert 'data-count="rejected">4</dd>' in html
    assert "not added: the batch failed" in html  # the record's own result too
    assert re.search(r'data-count="accepted">\(6\)<span class="govuk-visually-hidden"> passed their checks', listing)
    assert 'data-count="rejected">4</td>' in listing


def test_a_failed_batchs_unchanged_records_are_not_said_to_be_left_off_a_record_they_were_already_on() -> None:
    """A no-change record is never added: it was on its learner's record as sent, batch failed or not."""
    html, listing = _failed_batch_page(
        {"total": 10, "accepted": 0, "rejected": 4, "warnings": 0, "no_ops": 6}, [_record(5, "no_op")]
    )
    one, _ = _failed_batch_page({"total": 10, "accepted": 5, "rejected": 4, "warnings": 0, "no_ops": 1}, [])

    assert (
        'data-count="no_ops">(6) passed their checks in a batch that failed (RS005): each was on its learner&#39;s'
        " record already, unchanged</dd>" in html
    )
    assert (
        'data-count="no_ops">(1) passed its checks in a batch that failed (RS005): it was on its learner&#39;s'
        " record already, unchanged</dd>" in one
    )
    assert 'data-count="no_ops">(6)<span class="govuk-visually-hidden"> passed their checks in a batch' in listing
    for shown in (html, one, listing):
        counts = re.findall(r'data-count="no_ops">(.*?)</t?d', shown)
        assert counts and not any("added" in count for count in counts)
    assert "data-not-added" not in html  # nor the unchanged record's own result


def test_a_failed_batch_with_none_accepted_says_nothing_of_passing_checks_for_them() -> None:
    html, listing = _failed_batch_page({"total": 69, "accepted": 0, "rejected": 69, "warnings": 0, "no_ops": 0}, [])

    assert 'data-count="accepted">0</dd>' in html and 'data-count="no_ops">0</dd>' in html
    assert 'data-count="accepted">0</td>' in listing and 'data-count="no_ops">0</td>' in listing
    assert "passed" not in html.split('data-count="accepted">', 1)[1].split("</dl>", 1)[0]


def test_the_batch_list_has_a_no_change_column() -> None:
    counts = {"total": 5, "accepted": 3, "rejected": 0, "warnings": 0, "no_ops": 2}
    listing = page("_batch_table.html", batches=[batch(status="completed", counts=counts)], caption="Batches")

    assert ">Unchanged</th>" in listing
    assert 'data-count="no_ops">2</td>' in listing and 'data-count="accepted">3</td>' in listing


def test_a_refused_batchs_reason_says_its_title_and_detail_once() -> None:
    nothing = {"total": None, "accepted": None, "rejected": None, "warnings": None, "no_ops": None}
    no_records = {"code": "RS006", "title": "The file has no records", "line": None}
    malformed = {"code": "RS001", "title": "The file is malformed", "line": 4}

    empty = batch_page(
        batch(
            status="refused", refusal={**no_records, "detail": "the file has a header but no records"}, counts=nothing
        )
    )
    broken = batch_page(
        batch(status="refused", refusal={**malformed, "detail": "the file is not UTF-8"}, counts=nothing)
    )

    assert '<p class="govuk-body">The file has a header but no records.</p>' in empty
    assert "The file has no records:" not in empty
    assert "The file is malformed: the file is not UTF-8 (line 4)." in broken


def test_a_refused_batch_has_no_counts_and_says_why_rather_than_not_yet() -> None:
    nothing = {"total": None, "accepted": None, "rejected": None, "warnings": None, "no_ops": None}
    refusal = {"code": "RS001", "title": "The file is malformed", "detail": None, "line": None}
    refused = batch(status="refused", refusal=refusal, failure_reason=None, counts=nothing)
    html = batch_page(refused)
    listing = page("_batch_table.html", batches=[refused], caption="Recent batches")

    assert "not yet" not in html and "not yet" not in listing
    assert 'data-count="accepted">none (refused, RS001: no record was checked)</dd>' in html
    assert re.search(
        r'data-count="accepted"><span aria-hidden="true">\u2013</span><span[^>]*>none \(refused, RS001', listing
    )


def test_a_refused_file_s_job_type_is_not_said_to_be_final() -> None:
    """A refused file's header may never have been read (a Provisional file refused is no Final batch)."""
    nothing = {"total": None, "accepted": None, "rejected": None, "warnings": None, "no_ops": None}
    refusal = {"code": "RS001", "title": "The file is malformed", "detail": None, "line": None}
    refused = batch_page(batch(status="refused", refusal=refusal, job_type=None, counts=nothing))
    decided = batch_page(batch(status="completed", job_type=None))

    assert ">not read: the file was refused</dd>" in refused and ">Final</dd>" not in refused
    assert ">Final</dd>" in decided  # a decided batch without a job type in its view was a Final one


def test_a_batch_still_in_the_queue_has_its_counts_still_to_come() -> None:
    nothing = {"total": 3, "accepted": None, "rejected": None, "warnings": None, "no_ops": None}
    html = batch_page(batch(status="validating", failure_reason=None, counts=nothing))

    assert 'data-count="accepted">not yet</dd>' in html and 'data-count="total">3</dd>' in html


def test_the_batch_list_explains_its_brackets_and_dashes_to_everyone() -> None:
    counts = {"total": 10, "accepted": 6, "rejected": 4, "warnings": 0, "no_ops": 0}
    nothing = {"total": None, "accepted": None, "rejected": None, "warnings": None, "no_ops": None}
    refusal = {"code": "RS002", "title": "Too large", "detail": None, "line": None}
    failed = batch(status="failed", failure_code="RS005", failure_reason=None, counts=counts)
    refused = batch(status="refused", refusal=refusal, failure_reason=None, counts=nothing)
    completed = batch(status="completed", failure_reason=None, counts={**counts, "rejected": 0, "total": 6})

    both = page("_batch_table.html", batches=[failed, refused], caption="Batches")
    plain = page("_batch_table.html", batches=[completed], caption="Batches")

    assert "an accepted one was not added to its learner's record, and an unchanged one was on it already" in both
    assert "none of them was added" not in both and "A dash means none" in both
    assert "data-count-notes" not in plain


def _failed(total: int, rejected: int, **changes: Any) -> dict[str, Any]:
    counts = {"total": total, "accepted": total - rejected, "rejected": rejected, "warnings": 0, "no_ops": 0}
    return batch(status="failed", failure_code="RS005", failure_reason=None, counts=counts, **changes)


def test_a_failed_direct_entry_says_the_achievement_was_not_recorded_and_to_enter_it_again() -> None:
    entry = _failed(1, 1, format="json", batch_reference=entry_reference("3f2a9c1e-0000-4000-8000-000000000000"))

    html = batch_page(entry)

    assert is_direct_entry(entry)
    assert "The achievement was rejected, so it was not recorded (RS005)." in html
    assert "Nothing was added to the learner's record." in html
    assert f'href="/batches/{BATCH_ID}/records/1">read the reasons</a>' in html
    assert f'href="/direct-entry?batch={BATCH_ID}">enter it again</a>' in html  # filled in as sent: WCAG 3.3.7
    assert "upload the whole batch" not in html and "The whole batch failed" not in html


def test_a_failed_one_record_file_says_its_record_was_not_recorded() -> None:
    html = batch_page(_failed(1, 1, format="json"))

    assert "The record was rejected, so it was not recorded (RS005)." in html
    assert "upload the file again" in html and "upload the whole batch" not in html
    assert "1 of the batch's 1" not in html


def test_a_failed_batch_counts_its_records_in_the_singular_and_plural() -> None:
    assert "1 of the batch's 3 records was rejected" in batch_page(_failed(3, 1))
    assert "2 of the batch's 3 records were rejected" in batch_page(_failed(3, 2))
    assert "4 of the batch's 10 records were rejected" in batch_page(_failed(10, 4))
    assert "4 of the batch's 10 records were rejected\n    (40.0%)." in batch_page(_failed(10, 4))


def test_an_uploaded_json_batch_of_one_record_is_no_direct_entry() -> None:
    assert not is_direct_entry(_failed(1, 1, format="json", batch_reference="AO-2024-07"))
    assert not is_direct_entry(_failed(1, 1, format="csv", batch_reference="PORTAL-3F2A9C1E"))
    assert not is_direct_entry(_failed(2, 1, format="json", batch_reference="PORTAL-3F2A9C1E"))


def test_a_batch_held_by_a_maintenance_window_says_until_when_in_uk_time_as_the_banner_does() -> None:
    """Not ingest's "after 2026-07-01T12:00:00Z": in summer that is 13:00 on a clock in England."""
    held = batch(
        status="queued",
        decided_at=None,
        maintenance={
            "reason": "database upgrade",
            "until": "2026-07-01T12:00:00Z",
            "paused": False,
            "message": "will be processed after 2026-07-01T12:00:00Z",
        },
    )
    shown = batch_page(held)
    assert "this batch will be processed after 1 Jul 2026, 13:00 (UK time)." in shown
    assert "2026-07-01T12:00:00Z" not in shown
    assert "It waits in the queue until the maintenance ends" in shown
    assert "in the queue or being checked" not in shown  # not "being checked": nothing is, until the window ends


def test_a_batch_kafka_never_took_asks_for_the_file_again_and_stops_waiting() -> None:
    shown = batch(status="received", failure_reason=None, decided_at=None, not_published="Kafka did not take it.")
    html = batch_page(shown)
    assert 'data-decided="true"' in html  # its status changes only when the file is sent again: no polling
    assert "data-not-published" in html and 'href="/batches/new">Upload the same file again</a>' in html
    assert "in the queue or being checked" not in html

    in_flight = batch_page(batch(status="received", failure_reason=None, decided_at=None))
    assert 'data-decided="false"' in in_flight and "in the queue or being checked" in in_flight


def test_a_json_refusal_about_a_record_names_the_record_and_one_about_the_text_its_line() -> None:
    nothing = {"total": None, "accepted": None, "rejected": None, "warnings": None, "no_ops": None}
    about_a_record = {"code": "RS001", "title": "The file is malformed", "line": 3, "column": None}
    record = {**about_a_record, "detail": "record 3 has no field 'centreName'"}
    text = {**about_a_record, "detail": "malformed JSON: Expecting ',' delimiter", "column": 8}
    shown = batch_page(batch(status="refused", format="json", refusal=record, failure_reason=None, counts=nothing))
    assert "record 3 has no field &#39;centreName&#39;." in shown and "(line 3)" not in shown
    assert "(record 3)" not in shown  # the detail names it: said once
    unnamed = {**about_a_record, "detail": None}
    shown = batch_page(batch(status="refused", format="json", refusal=unnamed, failure_reason=None, counts=nothing))
    assert "(record 3)." in shown
    shown = batch_page(batch(status="refused", format="json", refusal=text, failure_reason=None, counts=nothing))
    assert "(line 3, column 8)." in shown
    shown = batch_page(batch(status="refused", format="csv", refusal=record, failure_reason=None, counts=nothing))
    assert "(line 3)." in shown
