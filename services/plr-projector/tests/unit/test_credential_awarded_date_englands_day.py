"""A nested credential's `awardedDate` is the start of the award day in England, the day the LRS judges award dates
by, with England's offset: in British Summer Time that is 23:00Z the day before. A credential exported in the first
hour of a summer award day is then never issued (`validFrom`) before a result inside it was awarded, and the date
part is the award date for a verifier reading only that."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from plr_projector.credentials import CredentialIssuer, plr_credential

from .credential_rows import achievement, schema_validator


def _awarded(award: date, issued_at: datetime) -> tuple[str, str]:
    document = plr_credential(
        CredentialIssuer.at("https://lrs.example"),
        "1000000043",
        [achievement(award=award)],
        credential_id=uuid.UUID(int=1),
        issued_at=issued_at,
    )
    schema_validator().validate(document)
    (nested,) = document["credentialSubject"]["verifiableCredential"]
    return nested["validFrom"], nested["awardedDate"]


@pytest.mark.parametrize(
    ("award", "start_of_day"),
    [
        (date(2026, 6, 15), "2026-06-15T00:00:00+01:00"),  # BST: midnight in England is 23:00 UTC the day before
        (date(2026, 12, 7), "2026-12-07T00:00:00+00:00"),  # GMT: midnight in England is midnight UTC
        (date(2026, 3, 29), "2026-03-29T00:00:00+00:00"),  # the clocks go forward at 01:00 GMT that day
        (date(2026, 10, 25), "2026-10-25T00:00:00+01:00"),  # the clocks go back at 02:00 BST that day
    ],
)
def test_the_award_date_is_written_as_the_start_of_englands_day_with_its_offset(award: date, start_of_day: str) -> None:
    _, awarded = _awarded(award, datetime(2026, 12, 7, 12, tzinfo=UTC))
    assert awarded == start_of_day


def test_an_export_in_the_first_hour_of_a_summer_award_day_is_not_issued_before_the_award() -> None:
    issued_at = datetime(2026, 6, 14, 23, 45, tzinfo=UTC)  # 00:45 BST on 15 June, the award day
    valid_from, awarded = _awarded(date(2026, 6, 15), issued_at)
    assert valid_from == "2026-06-14T23:45:00Z"
    assert datetime.fromisoformat(awarded) <= datetime.fromisoformat(valid_from)
