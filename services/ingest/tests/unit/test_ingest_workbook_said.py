"""A spreadsheet workbook sent for a batch file (office walk, finding 3) is refused (RS001) as one, with how to save
the CSV, in the words the portal's check and `lrs` use (`lrs_domain.formats.detect.refuse_workbook`): whatever its
Content-Type or file name, as a workbook named .csv, or labelled as Windows labels an .xls, is no CSV either."""

from __future__ import annotations

import pytest

from ingest.submission import resolve_format
from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused

ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256))
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256))
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SAVE_AS_CSV = (
    "open it in the spreadsheet and save it as CSV (in Excel, File > Save As > 'CSV UTF-8 (Comma delimited)'), then"
    " submit the .csv file"
)


@pytest.mark.parametrize(
    ("requested", "content_type", "disposition", "content", "kind"),
    [
        (None, "application/octet-stream", None, ZIP, ".xlsx, .ods or .numbers"),
        (None, XLSX_TYPE, 'attachment; filename="results.xlsx"', ZIP, ".xlsx"),
        (None, "text/csv", None, ZIP, ".xlsx, .ods or .numbers"),
        (None, "application/vnd.ms-excel", None, OLE, ".xls"),
        (None, None, 'attachment; filename="results.csv"', OLE, ".xls"),
        (BatchFormat.CSV, None, None, ZIP, ".xlsx, .ods or .numbers"),
    ],
)
def test_a_workbook_is_refused_as_one_whatever_it_is_labelled(
    requested: BatchFormat | None, content_type: str | None, disposition: str | None, content: bytes, kind: str
) -> None:
    with pytest.raises(BatchRefused) as refused:
        resolve_format(requested, content_type, disposition, content)

    assert refused.value.code is BatchCode.MALFORMED
    assert refused.value.detail == f"the file is a spreadsheet workbook ({kind}), not a batch file: {SAVE_AS_CSV}"
    assert (refused.value.line, refused.value.column) == (None, None)


def test_a_csv_named_xlsx_by_mistake_is_still_read_as_csv() -> None:
    """A workbook's name alone is no workbook: a CSV file under it is told from its first bytes."""
    content = b"FileVersion,AwardingOrganisation,JobType\r\n"

    assert resolve_format(None, None, 'attachment; filename="results.xlsx"', content) is BatchFormat.CSV
