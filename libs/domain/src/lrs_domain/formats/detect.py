"""Which format an upload is in: the declared content type, else the file name, else the first bytes."""

from __future__ import annotations

import re

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats.errors import BatchRefused
from lrs_domain.formats.limits import HEADER_HEADINGS

_FORMAT_BY_CONTENT_TYPE: dict[str, BatchFormat] = {
    "application/json": BatchFormat.JSON,
    "text/json": BatchFormat.JSON,
    "application/xml": BatchFormat.XML,
    "text/xml": BatchFormat.XML,
    "text/csv": BatchFormat.CSV,
    "application/csv": BatchFormat.CSV,
    "text/comma-separated-values": BatchFormat.CSV,
    # what browsers on Windows send for a .csv file when spreadsheet software is installed
    "application/vnd.ms-excel": BatchFormat.CSV,
}

# Types that say nothing of the format: the file name, then the first bytes, tell it
GENERIC_CONTENT_TYPES = frozenset({"text/plain", "application/octet-stream"})

_FORMAT_BY_EXTENSION: dict[str, BatchFormat] = {
    ".json": BatchFormat.JSON,
    ".xml": BatchFormat.XML,
    ".csv": BatchFormat.CSV,
}

_BYTE_ORDER_MARKS = re.compile(rb"(?:\xef\xbb\xbf)*")  # matches always, maybe nothing: one pass, in C
_CSV_FIRST_HEADING = HEADER_HEADINGS[0].encode()


def detect_format(content_type: str | None, filename: str | None, first_bytes: bytes) -> BatchFormat | None:
    """None when nothing says which format it is; generic types such as application/octet-stream or
    text/plain defer to the file name and content."""
    return _from_content_type(content_type) or _from_filename(filename) or _from_content(first_bytes)


def media_type_of(content_type: str) -> str:
    """`text/csv` of `Text/CSV; charset=utf-8`."""
    return content_type.split(";", 1)[0].strip().lower()


def names_no_batch_format(content_type: str | None) -> bool:
    """Whether a declared type is of something else than a batch file (`image/png`, a multipart form): neither a
    batch format's type nor a generic one that leaves the format to the file name and content. A type that is
    empty (no header, an empty one, or parameters alone: `;;;;`, `; charset=utf-8`) declares nothing, as no header."""
    media_type = media_type_of(content_type or "")
    if not media_type:
        return False
    return media_type not in GENERIC_CONTENT_TYPES and _from_content_type(content_type) is None


def _from_content_type(content_type: str | None) -> BatchFormat | None:
    if not content_type:
        return None
    media_type = media_type_of(content_type)
    if media_type.endswith("+json"):
        return BatchFormat.JSON
    if media_type.endswith("+xml"):
        return BatchFormat.XML
    return _FORMAT_BY_CONTENT_TYPE.get(media_type)


def _from_filename(filename: str | None) -> BatchFormat | None:
    if not filename or "." not in filename:
        return None
    return _FORMAT_BY_EXTENSION.get(filename[filename.rindex(".") :].lower())


def _from_content(first_bytes: bytes) -> BatchFormat | None:
    """The format the first bytes plainly are, after any byte order marks: a file saved with two (a program that adds
    one to a file that has one) is told so by its format's parser, not that it is no recognisable format."""
    marks = _BYTE_ORDER_MARKS.match(first_bytes)
    start = first_bytes[marks.end() if marks else 0 :].lstrip()
    if start.startswith(b"<"):
        return BatchFormat.XML
    if start.startswith((b"{", b"[")):
        return BatchFormat.JSON
    if start.startswith((_CSV_FIRST_HEADING, b'"' + _CSV_FIRST_HEADING)):
        return BatchFormat.CSV
    return None


# A spreadsheet's own file, sent by mistake for the CSV saved from it: named by its extension, or by its first bytes,
# a ZIP archive (.xlsx, .ods, .numbers) or an OLE compound file (Excel 97-2003's .xls). No batch file starts so: both
# start with control characters, which a batch file's first line never holds.
SPREADSHEET_EXTENSIONS = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".numbers")
_ZIP_START = b"PK\x03\x04"
_OLE_START = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SAVE_WORKBOOK_AS_CSV = (
    "open it in the spreadsheet and save it as CSV (in Excel, File > Save As > 'CSV UTF-8 (Comma delimited)'), then"
    " submit the .csv file"
)


class NotABatchFile(BatchRefused):
    """RS001 for a file that is no batch file in any format (a spreadsheet workbook): its message says what the file
    is, not that it is "malformed"."""


def spreadsheet_workbook(filename: str | None, first_bytes: bytes) -> str | None:
    """The kind of spreadsheet workbook a file is, as its message names it (`.xlsx`), or None when it is none: one
    whose first bytes are a workbook's, or one named as a workbook whose first bytes say no batch format."""
    extension = filename[filename.rindex(".") :].lower() if filename and "." in filename else ""
    named = extension if extension in SPREADSHEET_EXTENSIONS else None
    if first_bytes.startswith(_ZIP_START):
        return named or ".xlsx, .ods or .numbers"
    if first_bytes.startswith(_OLE_START):
        return named or ".xls"
    return named if named and _from_content(first_bytes) is None else None


def refuse_workbook(filename: str | None, first_bytes: bytes) -> None:
    """RS001 (NotABatchFile) for a spreadsheet workbook sent for a batch file, saying what it is and how to save the
    batch from it, in the same words in the API, the portal's check and `lrs`: before its format is guessed from its
    name or type (a workbook named .csv, or sent as application/vnd.ms-excel, is no CSV either)."""
    if kind := spreadsheet_workbook(filename, first_bytes):
        raise NotABatchFile(
            BatchCode.MALFORMED,
            f"the file is a spreadsheet workbook ({kind}), not a batch file: {SAVE_WORKBOOK_AS_CSV}",
        )
