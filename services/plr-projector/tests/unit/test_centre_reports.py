"""A centre report's Idempotency-Key and what makes two requests the same report."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from lrs_contracts.plr import CentreAchievementReported
from plr_projector.centre_reports import InvalidIdempotencyKey, idempotency_key_of, report_sha256


@pytest.mark.parametrize(
    ("sent", "key"),
    [(None, None), ("run-1", "run-1"), (' "run-1" ', "run-1"), ("x" * 255, "x" * 255)],
)
def test_a_key_is_taken_as_sent_or_from_its_quotes(sent: str | None, key: str | None) -> None:
    assert idempotency_key_of(sent) == key


@pytest.mark.parametrize("sent", ["", "   ", '""', "has space", "caf\u00e9", "x" * 256])
def test_a_key_that_could_not_be_stored_as_sent_is_refused(sent: str) -> None:
    with pytest.raises(InvalidIdempotencyKey):
        idempotency_key_of(sent)


def _report(**changes: object) -> CentreAchievementReported:
    values: dict[str, object] = {
        "report_id": uuid.uuid4(),
        "uln": "1000000043",
        "provider_ukprn": "10005555",
        "qualification_number": "6001166X",
        "subject": "Maths",
        "award_date": date(2024, 6, 30),
    }
    return CentreAchievementReported.model_validate(values | changes)


def test_the_same_report_has_one_digest_whatever_its_report_id_and_another_report_another() -> None:
    assert report_sha256(_report()) == report_sha256(_report())
    assert report_sha256(_report()) != report_sha256(_report(grade="B"))
    assert report_sha256(_report()) != report_sha256(_report(uln="1026893096"))
