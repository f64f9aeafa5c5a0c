"""What a decided batch's page says to do next (onboarding walk, findings 6 and 14).

A batch failed by RS005 said one way out, "Fix the rejected records listed below, then upload the whole batch again",
even when only the service desk can fix a record (an RV004 whose learner's registration waits to be corrected): a batch
is judged as a whole and need not hold every record, so the page now says such a record can be left out and sent
later. A batch of one record, and a direct entry, have nothing to leave out. A completed batch with rejected records
said nothing of what to do next (only its email did): it now says to correct them and send them in a new batch, and
what sending the whole corrected file again does (its accepted Creates and Updates come back "no change", its
Withdraws and Reinstates are rejected with RV015, `lrs_domain.rules.judge_against_state`)."""

from __future__ import annotations

from typing import Any

import pytest
from services.portal.tests.unit.test_batch_pages import batch, batch_page

from portal.direct_entry import entry_reference

LEAVE_OUT = (
    "A record you cannot correct yet (an RV004 waiting for the learner's registration to be corrected through the LRS"
    " service desk, say) can be left out of the file and sent in a later batch, once it is corrected."
)


def _counts(total: int, accepted: int, rejected: int, no_ops: int = 0) -> dict[str, int]:
    return {"total": total, "accepted": accepted, "rejected": rejected, "no_ops": no_ops, "warnings": 0}


def _page(**changes: Any) -> str:
    return " ".join(batch_page(batch(failure_reason=None, **changes)).split())


def _failed(total: int, rejected: int, **changes: Any) -> str:
    return _page(status="failed", failure_code="RS005", counts=_counts(total, total - rejected, rejected), **changes)


def test_a_failed_batch_says_a_record_that_cannot_be_corrected_yet_can_be_left_out() -> None:
    html = _failed(7, 3)
    assert "Correct the rejected records listed below, then upload the whole batch again." in html
    assert f'<p class="govuk-body" data-leave-out>{LEAVE_OUT}</p>' in html
    assert "Fix the rejected records" not in html
    assert 'data-explains="rejected"' not in html  # a failed batch's records changed nothing: no "send them" advice


def test_a_failed_one_record_batch_is_told_to_correct_its_record_not_to_leave_it_out() -> None:
    html = _failed(1, 1)
    assert "Correct the record, then upload the file again." in html
    assert "left out" not in html and "data-leave-out" not in html


def test_a_rejected_direct_entry_is_told_to_enter_it_again_not_to_leave_it_out() -> None:
    html = _failed(1, 1, batch_reference=entry_reference("c23b9543-0d1e-4f5a-8b6c-7d8e9f0a1b2c"), format="json")
    assert "Correct the achievement and" in html and "enter it again</a>" in html
    assert "left out" not in html and "whole batch" not in html


@pytest.mark.parametrize(
    ("counts", "said"),
    [
        (_counts(4, 3, 1), "1 of the batch's 4 records was rejected, so it changed nothing."),
        (
            _counts(2_003, 1_500, 3, no_ops=500),
            "3 of the batch's 2,003 records were rejected, so they changed nothing.",
        ),
    ],
)
def test_a_completed_batch_with_rejected_records_says_what_to_do_next(counts: dict[str, int], said: str) -> None:
    html = _page(status="completed", counts=counts)
    assert 'data-explains="rejected"' in html
    assert said in html
    assert "The rest of the batch is done: its other records need not be sent again." in html
    one = counts["rejected"] == 1
    assert (
        f"Correct the rejected {'record' if one else 'records'} listed below (each record's page says what was wrong)"
        f" and send {'it' if one else 'them'} in a new batch." in html
    )
    assert "can be sent in a later batch, once it is corrected." in html
    assert (
        "If you send the whole corrected file again instead, its accepted records that created or updated an"
        " achievement come back as “unchanged”: nothing is recorded twice. But a withdrawal or reinstatement sent"
        " again is rejected (RV015), and rejections count towards the 30% limit that fails a whole batch (RS005),"
        " so take those out of the file first." in html
    )


@pytest.mark.parametrize("status", ["completed", "received", "validating"])
def test_a_batch_without_rejected_records_has_no_such_advice(status: str) -> None:
    counts = _counts(4, 4, 0) if status == "completed" else _counts(4, 0, 0)
    html = _page(status=status, counts=counts)
    assert 'data-explains="rejected"' not in html and "send them in a new batch" not in html
