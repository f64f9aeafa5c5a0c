"""RS005's reason, which AOs read in the batch view, the CLI and the email: its count said as English says it
(`1 of 1 record was rejected`, never `1 of 1 records were`), and with thousands separated as the email's are."""

from __future__ import annotations

import pytest
from libs.domain.tests.unit.domain_builders import CATALOGUE, TODAY, header, record

from lrs_domain.decision import check_batch_offline, rejected_of


def test_a_one_record_batch_that_fails_says_one_record_was_rejected() -> None:
    report = check_batch_offline(header(None), (record(uln="123"),), CATALOGUE, TODAY)

    assert report.failure is not None
    assert report.failure.reason.startswith("1 of 1 record was rejected, more than the 30% allowed: ")


@pytest.mark.parametrize(
    ("rejected", "total", "said"),
    [
        (1, 1, "1 of 1 record was rejected"),
        (1, 3, "1 of 3 records was rejected"),
        (2, 3, "2 of 3 records were rejected"),
        (3_001, 10_000, "3,001 of 10,000 records were rejected"),
    ],
)
def test_the_count_is_said_with_its_number(rejected: int, total: int, said: str) -> None:
    assert rejected_of(rejected, total) == said
    assert rejected_of(rejected, total, would=True) == said.replace(" was ", " would be ").replace(
        " were ", " would be "
    )
