"""Files as an exams officer's office software writes them, checked in a real browser (office walk, findings 1 to 3):
an .xlsx is told it is a spreadsheet workbook and how to save the CSV; Notepad's "Unicode" saved as `results.txt`
(which the browser sends as text/plain) is told it is UTF-16; the template's example record left above the officer's
own records is a warning naming its line and masked ULN, and the file can still be submitted."""

from __future__ import annotations

import pytest
from playwright.async_api import FilePayload, Page, expect
from tests.portal.conftest import PortalSystem
from tests.portal.flows import SAMPLES, checked

from lrs_domain.formats.json_batch import TEMPLATE_EXAMPLE_MIS_IDENTIFIER

pytestmark = pytest.mark.integration


async def test_a_workbook_a_utf16_txt_and_the_templates_example_are_each_told_what_they_are(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    url = portal_system.url
    workbook = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    shown = await checked(ao_page, url, {"name": "results.xlsx", "mimeType": xlsx, "buffer": workbook})

    assert (
        "The whole file would be refused: RS001 The file is a spreadsheet workbook (.xlsx), not a batch file: open it"
        " in the spreadsheet and save it as CSV (in Excel, File > Save As > 'CSV UTF-8 (Comma delimited)'), then"
        " submit the .csv file." in shown
    )
    assert "malformed" not in shown

    sample = (SAMPLES / "sample-100.csv").read_text(encoding="utf-8")
    notepad: FilePayload = {"name": "results.txt", "mimeType": "text/plain", "buffer": sample.encode("utf-16")}

    shown = await checked(ao_page, url, notepad)

    assert "the file is UTF-16, not UTF-8: save it as UTF-8 (line 1, column 1)." in shown
    assert "not a batch file" not in shown

    lines = sample.splitlines()
    example = lines[3].replace("PE-2024-0001", TEMPLATE_EXAMPLE_MIS_IDENTIFIER)
    content = "\r\n".join([*lines[:3], example, *lines[4:6]]) + "\r\n"

    shown = await checked(ao_page, url, {"name": "left-in.csv", "mimeType": "text/csv", "buffer": content.encode()})

    assert "The check found nothing that would fail the whole batch." in shown
    assert (
        "Line 4 (ULN ******0043) is the template's example record (MISIdentifier EXAMPLE-DELETE-ME), not one of your"
        " learners: delete it, then check the file again." in shown
    )
    await expect(ao_page.get_by_role("button", name="Submit this batch")).to_be_visible()  # a warning only
