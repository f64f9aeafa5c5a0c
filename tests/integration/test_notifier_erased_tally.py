"""A batch email says "cannot be corrected, leave it out" under RV004 only when a record's RV004 says the learner's
record was erased (onboarding walk, finding 8). The notifier learns it from the decided chunks, as it learns the
codes: their rejected records whose finding says so are tallied beside the codes in PostgreSQL until the batch's email
is composed. This follows two chunks through the tallies to the email."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from tests.support.databases import migrated_connection

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, Finding, RecordOutcome, RecordStatus
from lrs_domain.rules import details_do_not_match
from lrs_platform.database import create_pool
from notifier.emails import batch_run_email, count_record_codes, split_warnings, top_rejections, unlisted_rejections
from notifier.store import RejectionTallies
from validation.personal import ERASED_LEARNER

pytestmark = pytest.mark.integration

NOTE = "A record whose RV004 says the learner's record was erased cannot be corrected"


def _rejected(line: int, message: str) -> RecordOutcome:
    finding = Finding(code="RV004", field="uln", message=message)
    return RecordOutcome(line=line, status=RecordStatus.REJECTED, errors=(finding,))


async def _email_text(tallies: RejectionTallies, batch_id: uuid.UUID) -> str:
    totals, warnings = split_warnings(await tallies.totals(batch_id))
    rejections = top_rejections(totals)
    decided = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    outcome = BatchCompleted(
        batch_id=batch_id,
        ao_id="RN9093",
        job_type=JobType.FINAL,
        batch_reference="DEC-ERASED",
        notification_email="results@ao.example",
        counts=BatchCounts(total=20, accepted=17, rejected=3, no_ops=0, warnings=0),
        submitted_at=decided,
        decided_at=decided,
    )
    email = batch_run_email(
        uuid.uuid4(),
        outcome,
        public_base_url="https://portal.lrs.example",
        rejections=rejections,
        unlisted=unlisted_rejections(totals, rejections),
        warnings=warnings,
    )
    return email.text


async def test_an_erased_learners_rv004_is_tallied_across_chunks_and_said_under_rv004(fresh_database_url: str) -> None:
    async with migrated_connection(fresh_database_url, "notifier", "notifier.migrations"):
        pass
    pool = await create_pool(fresh_database_url)
    try:
        tallies = RejectionTallies(pool)
        erased, typed_wrong = uuid.uuid4(), uuid.uuid4()
        chunks = [
            (
                erased,
                0,
                count_record_codes([_rejected(4, ERASED_LEARNER), _rejected(5, details_do_not_match("1000000043"))]),
            ),
            (erased, 1, count_record_codes([_rejected(9, details_do_not_match("1000000050"))])),
            (typed_wrong, 0, count_record_codes([_rejected(4, details_do_not_match("1000000043"))])),
        ]
        await tallies.add_chunks(chunks)
        await tallies.add_chunks(chunks[:1])  # a chunk redelivered adds nothing

        text = await _email_text(tallies, erased)
        assert "  RV004       3 records" in text and NOTE in text and "(but see RV004 above)" in text
        assert "more code" not in text  # the tally is no code of its own

        text = await _email_text(tallies, typed_wrong)
        assert "  RV004       1 record " in text and "erased" not in text and "see RV004" not in text
    finally:
        await pool.close()
