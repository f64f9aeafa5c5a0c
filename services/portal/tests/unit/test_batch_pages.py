"""A batch page as the AO reads it, rendered from the batch view's JSON."""

from __future__ import annotations

from typing import Any

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
    }
    return TEMPLATES.get_template(template).render({**common, **context})


def batch_page(shown: dict[str, Any]) -> str:
    return page(
        "batch.html",
        batch=shown,
        decided=shown["status"] in DECIDED,
        records=[],
        total=0,
        codes=[],
        status_filter=None,
        code_filter=None,
        page=1,
        last_page=1,
        threshold=0.3,
        statuses=RECORD_STATUSES,
        sent_before=None,
    )


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
    common = {"decided": True, "records": [record], "total": 77, "codes": [], "threshold": 0.3}
    filtered = {"status_filter": "rejected", "code_filter": None, "statuses": RECORD_STATUSES, "sent_before": None}
    for base in ("", "/sandpit"):
        html = page("batch.html", base=base, batch=shown, page=1, last_page=2, **common, **filtered)
        listing = page("batches.html", base=base, batches=[shown], page=1, last_page=3)

        assert f'href="{base}/batches/{BATCH_ID}?status=rejected&amp;page=2"' in html
        assert f'href="{base}/learners">learners page</a>' in html
        assert f'href="{base}/batches?page=2"' in listing
