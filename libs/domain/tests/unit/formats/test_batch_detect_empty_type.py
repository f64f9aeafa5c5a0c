"""A Content-Type whose media type is empty (`;;;;`, `; charset=utf-8`) declares nothing, as no Content-Type: the
file name or the first bytes tell the format. It was taken for a type of something else than a batch file, and the
refusal said "the body is labelled , which is no batch file's type" (a review of the ingest door found it)."""

import pytest

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import detect_format, names_no_batch_format

CSV_START = b"FileVersion,AwardingOrganisation,JobType"


@pytest.mark.parametrize("content_type", [None, "", "   ", ";", ";;;;", " ; ;", "; charset=utf-8", ";boundary=x"])
def test_an_empty_media_type_names_no_other_format(content_type: str | None) -> None:
    assert not names_no_batch_format(content_type)
    assert detect_format(content_type, None, CSV_START) is BatchFormat.CSV
    assert detect_format(content_type, "june.json", CSV_START) is BatchFormat.JSON  # the name, then the bytes


@pytest.mark.parametrize("content_type", ["image/png", "image/png;", "multipart/form-data; boundary=x", "x"])
def test_a_media_type_of_something_else_still_names_no_batch_format(content_type: str) -> None:
    assert names_no_batch_format(content_type)
