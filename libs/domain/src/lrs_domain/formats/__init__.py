"""Batch files in the three formats AOs submit (DOMAIN.md §6-7): CSV, XML and JSON.

`parse_batch` turns a whole file into a header and its records, or refuses the file with a batch-level
code; judging the records is validation's job.
"""

from __future__ import annotations

from datetime import date

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats.csv_batch import parse_csv
from lrs_domain.formats.detect import detect_format, media_type_of, names_no_batch_format
from lrs_domain.formats.errors import BatchRefused
from lrs_domain.formats.json_batch import JsonBatch, JsonBatchHeader, JsonBatchRecord, parse_json
from lrs_domain.formats.limits import (
    HEADER_FIELDS,
    RECORD_FIELDS,
    FieldName,
    ParsedBatch,
    file_field_name,
    in_file_words,
    is_plausible_email,
    read_limited,
    refuse_if_too_large,
)
from lrs_domain.formats.writers import write_batch, write_csv, write_json, write_xml
from lrs_domain.formats.xml_batch import SCHEMA_PATH, parse_xml

_PARSER_BY_FORMAT = {BatchFormat.CSV: parse_csv, BatchFormat.XML: parse_xml, BatchFormat.JSON: parse_json}


def parse_batch(content: bytes, fmt: BatchFormat, *, received_on: date | None = None) -> ParsedBatch:
    """Raises BatchRefused: RS002 for more than 6 MB, then as `limits` describes. `received_on`: the day in England
    the file was received (a ResultsIssuedDate may be at most a year after it); None leaves that unchecked."""
    refuse_if_too_large(len(content))
    return _PARSER_BY_FORMAT[fmt](content, received_on=received_on)


__all__ = [
    "HEADER_FIELDS",
    "RECORD_FIELDS",
    "SCHEMA_PATH",
    "BatchRefused",
    "FieldName",
    "JsonBatch",
    "JsonBatchHeader",
    "JsonBatchRecord",
    "ParsedBatch",
    "detect_format",
    "file_field_name",
    "in_file_words",
    "is_plausible_email",
    "media_type_of",
    "names_no_batch_format",
    "parse_batch",
    "read_limited",
    "refuse_if_too_large",
    "write_batch",
    "write_csv",
    "write_json",
    "write_xml",
]
