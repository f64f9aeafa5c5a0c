"""A refused file's reason in one sentence (lrs_platform.problems.said_once): the title, then the detail, unless the
detail says everything the title does, when it is said alone, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal

from lrs_platform.problems import said_once

SAMPLES = Path(__file__).parents[4] / "samples"


@pytest.mark.parametrize(
    ("title", "detail", "said"),
    [
        # RS006: the detail holds every word of the title
        ("The file has no records", "the file has a header but no records", "The file has a header but no records"),
        # RS003: the detail is the title
        (
            "The file has more than 10,000 records",
            "the file has more than 10,000 records",
            "The file has more than 10,000 records",
        ),
        ("The file is malformed", "the file is not UTF-8", "The file is malformed: the file is not UTF-8"),
        (
            "The file is larger than 6 MB",
            "the file is 7,000,000 bytes",
            "The file is larger than 6 MB: the file is 7,000,000 bytes",
        ),
        ("The file is malformed", None, "The file is malformed"),
        # a detail that starts with a name keeps its capital, a hyphenated one too
        ("Invalid request", "ULN 1000000043 is not yours", "Invalid request: ULN 1000000043 is not yours"),
        (
            "Invalid Idempotency-Key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters (e.g. a UUID).",
            "Invalid Idempotency-Key: Idempotency-Key must be 1 to 255 visible ASCII characters (e.g. a UUID)",
        ),
    ],
)
def test_a_refusal_says_its_title_and_detail_once(title: str, detail: str | None, said: str) -> None:
    assert said_once(title, detail) == said


def test_checking_a_file_with_a_header_and_no_records_says_so_once() -> None:
    lines = (SAMPLES / "sample-100.csv").read_text().splitlines()
    header_only = ("\r\n".join(lines[:3]) + "\r\n").encode()  # the header, its values and the records' headings
    portal = stubbed_portal()
    client, person = portal.signed_in()

    answer = client.post(
        "/batches/check", data=form(person), files={"batch_file": ("batch.csv", header_only, "text/csv")}
    )

    assert answer.status_code == 200, answer.text
    assert "RS006" in answer.text
    assert "The file has a header but no records" in answer.text
    assert "The file has no records: the file has a header but no records" not in answer.text
