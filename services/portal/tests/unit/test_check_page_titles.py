"""The check of an upload is titled "Error: …" whenever it stops the file being submitted, as the upload page is
when it refuses one: a screen reader's first words on the page say so."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.test_file_check_field_names import _checked, _csv, _json


@pytest.mark.parametrize(
    ("filename", "content", "content_type"),
    [
        ("notes.txt", b"not a batch", "text/plain"),  # refused as a whole (RS001)
        ("batch.csv", _csv(GivenName=""), "text/csv"),  # its one record rejected: the batch would fail (RS005)
        ("batch.json", _json({"awardingOrganisation": "RN5133"}), "application/json"),  # BATCH_OF_ANOTHER_AO
    ],
)
def test_a_check_that_stops_the_file_is_titled_as_an_error(filename: str, content: bytes, content_type: str) -> None:
    page = _checked(filename, content, content_type)

    assert f"<title>Error: Check of {filename} \u2013 LRS Organisation Portal</title>" in page
    assert "Submit this batch" not in page


def test_a_check_that_found_nothing_to_stop_the_file_is_titled_plainly() -> None:
    page = _checked("batch.csv", _csv(), "text/csv")

    assert "<title>Check of batch.csv \u2013 LRS Organisation Portal</title>" in page
    assert "Submit this batch" in page
