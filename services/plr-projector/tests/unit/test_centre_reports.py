"""What makes two centre reports sent with one Idempotency-Key the same report."""

from __future__ import annotations

import uuid
from datetime import date

from lrs_contracts.plr import CentreAchievementReported
from plr_projector.centre_reports import report_sha256


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
