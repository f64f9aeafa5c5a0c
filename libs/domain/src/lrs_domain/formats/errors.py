"""The one error a batch file can raise: the whole file is refused with a batch-level code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lrs_contracts.codes import BatchCode


class BatchRefused(Exception):
    """The file is refused as a whole (RS001 to RS004, RS006, RS007); no record of it is judged.

    `line` is 1-based: the physical line of the file, except for a fault inside a JSON record, where it
    is the record's position (its `line` in DOMAIN.md §7 terms).
    `column` is 1-based: a field number in CSV, a character position in XML and JSON.
    `batch_reference`: the header's BatchReference, when the header was read before the fault, so that the AO
    can tell its refused files apart (`naming_batch`).
    """

    def __init__(self, code: BatchCode, detail: str, line: int | None = None, column: int | None = None):
        super().__init__(code, detail, line, column)
        self.code = code
        self.detail = detail
        self.line = line
        self.column = column
        self.batch_reference: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f" at line {self.line}" + (f", column {self.column}" if self.column is not None else "")
        return f"{self.code.value}{where}: {self.detail}"


@contextmanager
def naming_batch(batch_reference: str | None) -> Iterator[None]:
    """A refusal raised within names the batch by `batch_reference` (its header's, once read)."""
    try:
        yield
    except BatchRefused as refusal:
        if refusal.batch_reference is None:
            refusal.batch_reference = batch_reference
        raise


_OTHER_BYTE_ORDER_MARKS = {  # UTF-32's first: UTF-32LE's mark starts as UTF-16LE's does
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\xfe\xff": "UTF-16",
    b"\xff\xfe": "UTF-16",
}


def refuse_other_byte_order_marks(content: bytes, advice: str = "") -> None:
    """RS001 for a file that starts with a UTF-16 or UTF-32 byte order mark, named as such (a byte it starts with
    "is not UTF-8" says less); `advice`: how to save it as UTF-8."""
    for mark, encoding in _OTHER_BYTE_ORDER_MARKS.items():
        if content.startswith(mark):
            raise BatchRefused(BatchCode.MALFORMED, f"the file is {encoding}, not UTF-8{advice}", 1, 1)
