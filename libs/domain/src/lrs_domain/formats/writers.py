"""Batch files from a parsed batch, in each format: for samples, benchmarks and round-trip tests.

Absent values are written as empty CSV fields and left out of XML and JSON, unless `every_field` (a template
names every field, an absent one empty); record lines are not written (they follow from the position). Output
is UTF-8 without a byte order mark.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from lrs_contracts.batch import BatchFormat, BatchHeader, SubmittedRecord
from lrs_domain.formats.limits import HEADER_FIELDS, RECORD_FIELDS, ParsedBatch
from lrs_domain.formats.xml_batch import HEADER, RECORD, RECORDS, ROOT

_JSON_KEY_BY_HEADING = {field.heading: field.json_key for field in (*HEADER_FIELDS, *RECORD_FIELDS)}


def write_csv(batch: ParsedBatch) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(field.heading for field in HEADER_FIELDS)
    writer.writerow(_header_value(batch.header, field.attribute) or "" for field in HEADER_FIELDS)
    writer.writerow(field.heading for field in RECORD_FIELDS)
    writer.writerows([getattr(record, field.attribute) or "" for field in RECORD_FIELDS] for record in batch.records)
    return text.getvalue().encode()


def write_xml(batch: ParsedBatch, *, every_field: bool = False) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<{ROOT}>",
        f"  <{HEADER}>",
        *(_xml_element(heading, value, "    ") for heading, value in _header_values(batch.header, every_field)),
        f"  </{HEADER}>",
        f"  <{RECORDS}>",
    ]
    for record in batch.records:
        lines.append(f"    <{RECORD}>")
        lines.extend(_xml_element(heading, value, "      ") for heading, value in _record_values(record, every_field))
        lines.append(f"    </{RECORD}>")
    lines.extend((f"  </{RECORDS}>", f"</{ROOT}>", ""))
    return "\n".join(lines).encode()


def write_json(batch: ParsedBatch, *, every_field: bool = False) -> bytes:
    document = {
        "header": {
            _JSON_KEY_BY_HEADING[heading]: value for heading, value in _header_values(batch.header, every_field)
        },
        "records": [
            {_JSON_KEY_BY_HEADING[heading]: value for heading, value in _record_values(record, every_field)}
            for record in batch.records
        ],
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


_WRITER_BY_FORMAT: dict[BatchFormat, Callable[[ParsedBatch], bytes]] = {
    BatchFormat.CSV: write_csv,
    BatchFormat.XML: write_xml,
    BatchFormat.JSON: write_json,
}


def write_batch(batch: ParsedBatch, fmt: BatchFormat) -> bytes:
    return _WRITER_BY_FORMAT[fmt](batch)


def _header_value(header: BatchHeader, attribute: str) -> str | None:
    value = getattr(header, attribute)
    return None if value is None else str(value)


def _header_values(header: BatchHeader, every_field: bool) -> list[tuple[str, str]]:
    values = ((field.heading, _header_value(header, field.attribute)) for field in HEADER_FIELDS)
    return [(heading, value or "") for heading, value in values if value is not None or every_field]


def _record_values(record: SubmittedRecord, every_field: bool) -> list[tuple[str, str]]:
    values = ((field.heading, getattr(record, field.attribute)) for field in RECORD_FIELDS)
    return [(heading, value or "") for heading, value in values if value is not None or every_field]


def _xml_element(name: str, value: str, indent: str) -> str:
    return f"{indent}<{name}>{_escape_xml_text(value)}</{name}>"


def _escape_xml_text(value: str) -> str:
    # a raw carriage return would be read back as a line feed
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
