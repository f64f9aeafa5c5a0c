"""The one error a batch file can raise: the whole file is refused with a batch-level code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lrs_contracts.codes import BatchCode


class BatchRefused(Exception):
    """The file is refused as a whole (RS001 to RS004, RS006, RS007); no record of it is judged.

    `line` is 1-based: the physical line of the file, except for a fault inside a JSON record found once the file is
    read (one without a column), where it is the record's position (its `line` in DOMAIN.md §7 terms).
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


QUOTED_CHARACTERS = 60


def quoted(text: str) -> str:
    """A piece of the file as a refusal says it back: in quotes, cut as `cut` cuts it."""
    return repr(cut(text))


def cut(text: str) -> str:
    """A piece of the file cut to its first 60 characters and an ellipsis: a refusal is kept and shown, and a
    five-megabyte heading is no message."""
    return text if len(text) <= QUOTED_CHARACTERS else text[:QUOTED_CHARACTERS] + "…"


_OTHER_BYTE_ORDER_MARKS = {  # UTF-32's first: UTF-32LE's mark starts as UTF-16LE's does
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\xfe\xff": "UTF-16",
    b"\xff\xfe": "UTF-16",
}


def refuse_other_encodings(content: bytes, advice: str = "") -> None:
    """RS001 for a file that starts with a UTF-16 or UTF-32 byte order mark, or that has none but whose first
    bytes are interleaved with zero bytes as UTF-16 or UTF-32 writes ASCII, named as such (a byte it starts with
    "is not UTF-8", or a first heading read with a zero byte after each letter, says less); `advice`: how to save
    it as UTF-8. Looks at the first bytes only. A file that starts with two UTF-8 byte order marks is refused too
    (`refuse_second_byte_order_mark`)."""
    refuse_second_byte_order_mark(content)
    for mark, encoding in _OTHER_BYTE_ORDER_MARKS.items():
        if content.startswith(mark):
            raise BatchRefused(
                BatchCode.MALFORMED, f"the file is {encoding}, not UTF-8{advice or ': save it as UTF-8'}", 1, 1
            )
    sample = content[:_SAMPLE_BYTES]
    if b"\x00" in sample and (look_alike := _zero_interleaved_encoding(sample)):
        raise BatchRefused(
            BatchCode.MALFORMED,
            f"the file looks like {look_alike} without a byte order mark, not UTF-8{advice or ': save it as UTF-8'}",
            1,
            1,
        )


_SAMPLE_BYTES = 256

BYTE_ORDER_MARK = b"\xef\xbb\xbf"  # UTF-8's: a file may start with one, which is read as no character
SECOND_BYTE_ORDER_MARK = "the file starts with a second byte order mark (an invisible character): save it as UTF-8 once"


def refuse_second_byte_order_mark(content: bytes) -> None:
    """RS001 for a file that starts with two UTF-8 byte order marks, as a program that adds one to a file that has one
    saves it: said in the same words in CSV, XML and JSON (the second reads as an invisible character before the
    first heading, as "not well-formed" in XML, and as Python's "decode using utf-8-sig" in JSON)."""
    if content.startswith(BYTE_ORDER_MARK * 2):
        raise BatchRefused(BatchCode.MALFORMED, SECOND_BYTE_ORDER_MARK, 1, 1)


def _zero_interleaved_encoding(sample: bytes) -> str | None:
    """UTF-16 or UTF-32 when the sample's bytes are zero in the places those encodings leave zero in ASCII text
    (either byte order), else None. A UTF-8 batch has no zero byte at all (a value holding one is refused)."""
    for encoding, width in (("UTF-32", 4), ("UTF-16", 2)):
        usable = len(sample) - len(sample) % width
        if usable < 2 * width:
            continue
        places = [sample[place:usable:width] for place in range(width)]
        for text_place in (0, width - 1):  # little-endian, big-endian
            zeros = [place for place in range(width) if place != text_place]
            if all(places[place].count(0) == len(places[place]) for place in zeros) and (
                places[text_place].count(0) == 0
            ):
                return encoding
    return None
