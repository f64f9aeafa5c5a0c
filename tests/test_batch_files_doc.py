"""docs/batch-files.md says what the code reads: its CSV heading lines are the parser's, and its field tables are
the ones the portal's "Batch file formats" page shows (`portal.batch_files`)."""

from __future__ import annotations

from pathlib import Path

from lrs_domain.formats import HEADER_FIELDS, RECORD_FIELDS
from portal.batch_files import LIMITS, markdown_tables

DOC = Path(__file__).resolve().parents[1] / "docs" / "batch-files.md"
GENERATED_START = "<!-- generated: portal.batch_files.markdown_tables() -->\n"
GENERATED_END = "\n<!-- end of generated -->"
REGENERATE = (
    "replace the generated part of docs/batch-files.md with the output of"
    " `.venv/bin/python -c 'from portal.batch_files import markdown_tables; print(markdown_tables())'`"
)


def test_the_docs_csv_headings_are_the_parsers() -> None:
    lines = DOC.read_text(encoding="utf-8").splitlines()

    assert ",".join(field.heading for field in HEADER_FIELDS) in lines
    assert ",".join(field.heading for field in RECORD_FIELDS) in lines


def test_the_docs_field_tables_are_the_portal_pages() -> None:
    text = DOC.read_text(encoding="utf-8")
    generated = text.split(GENERATED_START, 1)[1].split(GENERATED_END, 1)[0]

    assert generated == markdown_tables(), REGENERATE


def test_every_field_has_a_row_in_the_docs_tables() -> None:
    text = DOC.read_text(encoding="utf-8")

    for field in (*HEADER_FIELDS, *RECORD_FIELDS):
        assert f"| `{field.heading}` | `{field.json_key}` |" in text


def test_the_docs_limits_are_the_portal_pages() -> None:
    assert LIMITS in DOC.read_text(encoding="utf-8")
