"""The portal's CSV format: header names, header values, record headings, then one row per record.

Rows are numbered as physical lines (a quoted value spanning lines counts every line); blank rows,
including rows of nothing but commas and spaces, are skipped but keep their numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from itertools import chain, compress, count, filterfalse, repeat

from lrs_contracts.batch import BatchFormat, SubmittedRecord
from lrs_contracts.codes import MAX_BATCH_BYTES, BatchCode
from lrs_domain.formats.errors import BatchRefused, naming_batch, quoted, refuse_other_encodings
from lrs_domain.formats.limits import (
    HEADER_FIELDS,
    HEADER_HEADINGS,
    RECORD_FIELDS,
    RECORD_HEADINGS,
    ParsedBatch,
    batch_of,
    header_from,
    refuse_too_many_records,
)
from lrs_domain.formats.values import Where, refuse_unstorable, refused_in_line, trimmed_value, unseen_line_fault

_HEADER_ATTRIBUTES = tuple(field.attribute for field in HEADER_FIELDS)
_RECORD_ATTRIBUTES = tuple(field.attribute for field in RECORD_FIELDS)

# The csv module refuses fields over 128 KiB with an error of its own; let the rule shared by the three
# formats (`values`) answer for over-long values instead. No field can be longer than a whole file.
csv.field_size_limit(max(csv.field_size_limit(), MAX_BATCH_BYTES))


def parse_csv(content: bytes, *, received_on: date | None = None) -> ParsedBatch:
    rows: Iterator[tuple[int, list[str]]] = _non_blank_rows(_decode(content))
    names_line = _expect_headings(rows, HEADER_HEADINGS, "header names")
    header_line, header_row = _expect_row(rows, len(HEADER_HEADINGS), "header values", names_line=names_line)
    header_values = _trimmed(header_row)
    refuse_unstorable(header_values, _fields_of_row(HEADER_HEADINGS, header_line), in_header=True)
    header = header_from(dict(zip(_HEADER_ATTRIBUTES, header_values, strict=True)), received_on)
    records: list[SubmittedRecord] = []
    with naming_batch(header.batch_reference):
        if (record_headings := next(rows, None)) is None:  # the header and nothing after it: RS006, as in XML and JSON
            return batch_of(header, (), BatchFormat.CSV)
        rows = chain([record_headings], rows)
        _expect_headings(rows, RECORD_HEADINGS, "record headings")
        for line, row in rows:
            refuse_too_many_records(len(records) + 1, line)
            _refuse_wrong_field_count(
                line,
                row,
                len(RECORD_HEADINGS),
                "record",
                padded=lambda width: None if records else _padded_alike(rows, width),
                value_headings=RECORD_HEADINGS,
                joined=lambda at, found: _joined_header_lines(at, found, rows),
            )
            values = _trimmed(row)
            refuse_unstorable(values, _fields_of_row(RECORD_HEADINGS, line), in_header=False)
            records.append(SubmittedRecord(line=line, **dict(zip(_RECORD_ATTRIBUTES, values, strict=True))))
    return batch_of(header, tuple(records), BatchFormat.CSV)


def _trimmed(row: list[str]) -> list[str | None]:
    """Values are trimmed, and an empty value is no value (DOMAIN.md §7); a control character at either end stays,
    to be refused (`trimmed_value`)."""
    return [trimmed_value(value) for value in row]


def _fields_of_row(headings: tuple[str, ...], line: int) -> Where:
    return lambda index: (headings[index], line, index + 1)


def _decode(content: bytes) -> str:
    refuse_other_encodings(content, _SAVE_AS_UTF8)
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line, column = _field_position(content, error.start)
        raise BatchRefused(
            BatchCode.MALFORMED, f"byte 0x{content[error.start]:02X} is not UTF-8{_SAVE_AS_UTF8}", line, column
        ) from None


_SAVE_AS_UTF8 = ": save the file as CSV UTF-8 (in Excel, 'CSV UTF-8 (Comma delimited)')"


def _field_position(content: bytes, offset: int) -> tuple[int, int]:
    """The line and field number of a byte, for pointing at a non-UTF-8 byte in a spreadsheet.
    Lines end as a spreadsheet may end them: CR LF, LF or a lone CR."""
    before = content[:offset].decode("utf-8", errors="replace")
    line_before = before[max(before.rfind("\r"), before.rfind("\n")) + 1 :]
    try:
        fields_before = next(csv.reader([line_before]), [""])
    except csv.Error:  # an open quote on that line: count the separators instead
        fields_before = line_before.split(",")
    return _line_breaks(before, 0, len(before)) + 1, max(len(fields_before), 1)


def _line_breaks(text: str, start: int, end: int) -> int:
    """How many line breaks (CR LF, LF or a lone CR, as the csv module reads them) end in `text[start:end]`: a CR LF
    whose LF is at `end` ends after it. Counted in C: a file of millions of lines is no loop over each."""
    crlf_cut = end > start and text.startswith("\r\n", end - 1)
    return text.count("\n", start, end) + text.count("\r", start, end) - text.count("\r\n", start, end) - crlf_cut


def _line_start(text: str, line: int) -> int:
    """Where line `line` (from 1) of `text` starts, or the text's end when it has fewer lines. The lines are counted a
    block at a time, then the block where the line starts is halved until the start is found."""
    wanted, start = line - 1, 0
    while wanted > 0 and start < len(text):
        end = min(start + _BLOCK, len(text))
        found = _line_breaks(text, start, end)
        if found < wanted:
            wanted -= found
            start = end
            continue
        low, high = start + 1, end  # the first offset after the end of the `wanted`th line break of the block
        while low < high:
            middle = (low + high) // 2
            if _line_breaks(text, start, middle) < wanted:
                low = middle + 1
            else:
                high = middle
        return low
    return start


_BLOCK = 1 << 16


def _non_blank_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    row_start = 1
    rows_read = 0
    try:
        for row in reader:
            # A row of a control character is no blank row. Empty fields are skipped before `trimmed_value`, as
            # a hostile row may hold millions of them.
            if row and any(map(trimmed_value, filter(None, row))):
                yield row_start, row
                rows_read += 1
            row_start = reader.line_num + 1
    except csv.Error as error:
        if str(error) == _END_IN_QUOTES:  # the quote opened in the row that started on `row_start`
            raise BatchRefused(
                BatchCode.MALFORMED,
                f"a quoted field in the row that starts on line {row_start} is never closed: the file ends before"
                ' its closing quote ("). A quote inside a quoted value is written twice ("")',
                row_start,
            ) from None
        if (undoubled := _undoubled_quote(text, row_start)) is not None:
            line, field = undoubled
            raise BatchRefused(
                BatchCode.MALFORMED,
                f'{_field_named(rows_read, field)} holds a quote (") inside its quoted value that is not doubled: a'
                ' quote inside a quoted value is written twice (""), so double it, or remove it',
                line,
                field,
            ) from None
        raise BatchRefused(BatchCode.MALFORMED, f"unreadable CSV: {error}", reader.line_num) from None


_END_IN_QUOTES = "unexpected end of data"  # the csv module's words for a file that ends in a quoted field


def _undoubled_quote(text: str, row_start: int) -> tuple[int, int] | None:
    """The line and field number of the row starting on line `row_start` where a quoted value holds a quote that is
    not doubled (`"Ev"ie`: the csv module says only "',' expected after '\"'"), or None when the row has none.
    Read only for a file the csv module refused, from the row's start, as the csv module reads it: a match of the
    row's well-formed fields stops after the quote that is not doubled, or at the row's end. Each step is in C, so a
    row of millions of line breaks, quotes or commas costs as much as reading it (a loop over each character of a
    6 MB file took seconds)."""
    row = _line_start(text, row_start)
    fields = _WELL_FORMED_FIELDS.match(text, row)  # never None: no field is a match too
    end = fields.end() if fields else row
    if end == len(text) or text[end] in '\r\n"':  # the row's end; or a quoted value the file ends in
        return None
    # `end` is just after a quoted value's closing quote that is followed by neither a comma nor the row's end: the
    # quote is not doubled. Its line: the row's first, and a line for each line break in the quoted values before it.
    # Its field: one more than the commas of the row before it, but for those inside quoted values.
    commas = _QUOTED_VALUE.sub("", text[row:end]).count(",")
    return row_start + _line_breaks(text, row, end - 1), commas + 1


# A row's fields up to the first fault, as the csv module reads them: each a quoted value (any quote inside it
# doubled), a value that starts with no quote, or nothing. Possessive, so a failed match never backtracks.
_QUOTED = r'"[^"]*+(?:""[^"]*+)*+"'
_FIELD = rf'(?:{_QUOTED}|[^",\r\n][^,\r\n]*+)?+'
_WELL_FORMED_FIELDS = re.compile(rf"{_FIELD}(?:,{_FIELD})*+")
# a quoted value where a field starts: at the row's start or after a comma (after no character but a comma)
_QUOTED_VALUE = re.compile(rf"(?<![^,]){_QUOTED}")


def _field_named(rows_read: int, field: int) -> str:
    """A field of the `rows_read`+1th non-blank row, by its heading where the row is one of values."""
    headings = HEADER_HEADINGS if rows_read == 1 else RECORD_HEADINGS if rows_read >= 3 else ()
    return f"{headings[field - 1]} (field {field})" if field <= len(headings) else f"field {field}"


def _expect_row(
    rows: Iterator[tuple[int, list[str]]],
    field_count: int,
    what: str,
    headings: tuple[str, ...] = (),
    *,
    names_line: int | None = None,
) -> tuple[int, list[str]]:
    """The next row, refused unless it is `field_count` fields long (`headings`: those it is to hold). `names_line`:
    for the header values row, the line of the header names above it."""
    try:
        line, row = next(rows)
    except StopIteration:
        raise BatchRefused(BatchCode.MALFORMED, f"the file ends before its {what} row") from None
    if names_line is not None and _are_record_headings(row):
        # the values row left empty (a template never filled in; a blank row is skipped) or left out: the record
        # headings were read as the header values, and said to have a comma too many
        raise BatchRefused(
            BatchCode.MALFORMED,
            f"line {names_line + 1}, the header values, is empty or missing: under the header names write their"
            " values (AwardingOrganisation and NotificationEmail at least); the record headings come after them",
            names_line + 1,
        )
    if headings and row[0].lstrip("\ufeff ").lower().startswith(_EXCEL_SEPARATOR_LINE):
        raise BatchRefused(
            BatchCode.MALFORMED,
            f"the line {quoted(','.join(row))}, which Excel adds to name the file's separator, is no part of a batch:"
            f" delete it, so that the {what} row comes first",
            line,
        )
    if headings == HEADER_HEADINGS and _are_record_headings(row):
        raise BatchRefused(
            BatchCode.MALFORMED,
            f"the file starts with the record headings, and its two header lines are missing: line 1 holds the header"
            f" names ({','.join(HEADER_HEADINGS)}), line 2 their values, and the record headings come third",
            line,
        )
    # a headings row that is padded is the first of the rows a spreadsheet padded: the rest are named with it; so is a
    # header values row whose fields past the last are all empty, whatever its header names row was (mended first)
    later_widths = (len(HEADER_HEADINGS), len(RECORD_HEADINGS)) if headings == HEADER_HEADINGS else (len(headings),)
    if not headings:
        later_widths = (len(RECORD_HEADINGS),)

    def padded(width: int) -> list[tuple[int, int]] | None:
        later = _padded_lines(rows, later_widths)
        # a header values row is padded as a spreadsheet pads it, to the record rows' width or with rows after it; one
        # empty field too many else is a stray comma (a BatchReference `Summer, 2026` before an empty date)
        return later if headings or later or width == len(RECORD_HEADINGS) else None

    _refuse_wrong_field_count(
        line, row, field_count, f"{what} row", headings, padded, value_headings=() if headings else HEADER_HEADINGS
    )
    return line, row


def _are_record_headings(row: list[str]) -> bool:
    """Whether a row meant to be the header names is the record headings, maybe not all of them or not exactly:
    no header name, and half its fields or more record headings in any case."""
    if len(row) > 2 * len(RECORD_HEADINGS):  # it cannot be half record headings (a hostile row is millions long)
        return False
    names = {value.strip().lower() for value in row}
    return not names & _HEADER_HEADINGS_IN_LOWER_CASE and 2 * len(names & _RECORD_HEADINGS_IN_LOWER_CASE) >= len(row)


_RECORD_HEADINGS_IN_LOWER_CASE = frozenset(heading.lower() for heading in RECORD_HEADINGS)
_HEADER_HEADINGS_IN_LOWER_CASE = frozenset(heading.lower() for heading in HEADER_HEADINGS)


def _expect_headings(rows: Iterator[tuple[int, list[str]]], headings: tuple[str, ...], what: str) -> int:
    """The line of the headings row, refused unless it holds `headings` exactly, in their order."""
    line, row = _expect_row(rows, len(headings), what, headings)
    for column, (found, expected) in enumerate(zip(row, headings, strict=True), start=1):
        if found != expected:
            raise BatchRefused(
                BatchCode.MALFORMED,
                f"{what}: expected {expected!r}, found {quoted(found)}"
                + _heading_difference(found, expected, headings, first_in_file=column == 1 and what == "header names"),
                line,
                column,
            )
    return line


def _heading_difference(found: str, expected: str, headings: tuple[str, ...], first_in_file: bool) -> str:
    """What differs between the heading found and the one expected in its place, said as what to do."""
    if "\ufeff" in found and found.replace("\ufeff", "").strip() == expected:
        if first_in_file:  # one byte order mark is read as one; a second is what a program added when saving again
            return ": the file starts with a second byte order mark (an invisible character); save it as UTF-8 once"
        return ": delete the invisible byte order mark (U+FEFF) in it"
    if found.strip() == expected:
        return ": remove the spaces around it"
    if "".join(found.split()) == expected:
        return ": remove the spaces in it"
    if found.strip().lower() == expected.lower():
        return " (headings are case-sensitive)"
    if found.strip() in headings:
        return f": the headings are in the wrong order, which is {','.join(headings)}"
    return ""


def _runs_on(row: list[str], headings: tuple[str, ...]) -> bool:
    """The next row runs on where the headings end (`...,LastHeadingFirstValue,...`): the line breaks were lost."""
    last = len(headings) - 1
    return (
        len(row) > len(headings)
        and row[:last] == list(headings[:last])
        and row[last] != headings[last]
        and row[last].startswith(headings[last])
    )


_EXCEL_SEPARATOR_LINE = "sep="
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _refuse_wrong_field_count(
    line: int,
    row: list[str],
    expected: int,
    what: str,
    headings: tuple[str, ...] = (),
    padded: Callable[[int], list[tuple[int, int]] | None] = lambda _width: None,
    *,
    value_headings: tuple[str, ...] = (),
    joined: Callable[[int, list[str]], list[int] | None] = lambda _line, _row: None,
) -> None:
    """`padded(width)`: when a row with empty fields past the last is one of rows a spreadsheet padded, the lines
    after it padded too, each with how many commas it has too many, else None (asked only then). A headings row so
    is taken as padded: it is the first a spreadsheet pads, and the header names row, shorter than the record rows,
    is the usual one; so is the header values row (all its fields past the sixth empty); a record row only when
    every record row is padded alike. `value_headings`: the headings of a row of values, whose values are in their
    places when each looks like its heading's (`_in_place`). `joined(line, row)`: for a record row that is the header
    names, the lines of the header a second file brought (asked only then)."""
    if len(row) == expected:
        return
    # the row as its line reads (but for quotes): a line of nothing a reader sees but a Ctrl-Z end-of-file mark, NUL
    # padding or a zero-width space is named by that character, not by its one field
    written = ",".join(row)
    if (unseen := unseen_line_fault(written, line, 1)) is not None:
        raise BatchRefused(BatchCode.MALFORMED, unseen, line)
    found = f"{len(row)} field{'' if len(row) == 1 else 's'}"
    detail = f"the {what} has {found}; {expected} are expected"
    if len(row) == 1 and _pasted_in_one_column(row[0], headings, value_headings):
        detail += (
            ": each line of the file is in one cell, as when lines are pasted into a spreadsheet without being split;"
            " in Excel select column A, then Data > Text to Columns > Delimited > Comma, and save the file again"
        )
    elif len(row) == 1 and (separator := _other_separator(row[0], expected)):
        detail += (
            f": its fields seem to be separated by {separator}, and a batch's by commas. Excel writes your computer's"
            " list separator: in Excel, untick File > Options > Advanced > 'Use system separators' and set the"
            " decimal separator to '.', then save as 'CSV UTF-8 (Comma delimited)'; in LibreOffice, tick 'Edit filter"
            " settings' when saving and choose ',' as the field delimiter"
        )
    elif headings and _runs_on(row, headings):
        detail += (
            ": the rows after the headings run on in the same line, as when the line breaks were stripped"
            " (`curl -d @file` strips them: send the file with `--data-binary @file`)"
        )
    elif value_headings == RECORD_HEADINGS and _header_names_again(row):
        lines = joined(line, row) or [line]
        detail += (
            f": line {line} holds the header names again, as when two files are joined: a batch has one header; delete"
            f" {_lines_named(lines)}"
        )
        if row[0].startswith("\ufeff"):
            detail += f" (and the invisible byte order mark at the start of line {line})"
    elif len(row) > expected and not any(map(str.strip, row[expected:])) and (later := padded(len(row))) is not None:
        empty = len(row) - expected
        detail = (
            f"the {what} has {found}, the last {'one' if empty == 1 else empty} empty: a spreadsheet pads the shorter"
            f" rows with empty fields when it saves rows of different lengths (the header rows have"
            f" {len(HEADER_HEADINGS)} fields, the record rows {len(RECORD_HEADINGS)}); in a text editor,"
            f" {_commas_to_delete([(line, empty), *later])} (a line keeps the comma before an empty last value)"
        )
    elif headings:
        named = what.removesuffix(" row")
        detail += f": {_headings_difference(row, headings)}; the {named} are, in this order, {','.join(headings)}"
    elif (
        len(row) > expected
        and value_headings == RECORD_HEADINGS  # a header has no column to type a note beside
        and any(map(str.strip, row[expected:]))
        and _in_place(row[:expected], value_headings)
    ):
        # the values are where their headings are, so the fields past the last hold something typed beside the table;
        # the value is not said back (it may be a learner's)
        extra = next(compress(count(expected + 1), map(str.strip, row[expected:])))  # in C: a row may be millions long
        detail += (
            f": field {extra}, right of {value_headings[-1]}, holds a value: delete that column in the spreadsheet,"
            " or the value"
        )
    elif len(row) > expected:
        # one value's empty Credits after a stray comma looks like padding, and deleting the commas at the end would
        # leave every value after the stray comma one field too far on
        detail += ": a value holds a comma that is not in quotes, or there is a comma too many"
    elif value_headings and len(row) >= len(value_headings) - _EMPTY_AT_THE_END and _in_place(row, value_headings):
        missing = value_headings[len(row) :]
        detail += (
            f": it ends after {value_headings[len(row) - 1]}. An empty value at the end of a row still needs its"
            f" comma: a row whose {' and '.join(missing)} {_is_or_are(list(missing))} empty ends in"
            f" {quoted(',' * len(missing))}"
        )
    if (refused := refused_in_line(written, line)) is not None:
        detail += f"; {refused}"
    raise BatchRefused(BatchCode.MALFORMED, detail, line)


# At most how many fields a row short only at its end is told it lacks (an empty ResultsIssuedDate; an empty Credits,
# or LanguageForAssessment and Credits): a row shorter than that lost more than empty values' commas.
_EMPTY_AT_THE_END = 2

# What a value looks like under its heading, for telling whether a row's values are in their places: a row with a
# field too few or too many in its middle has a value of another heading under one of these.
_LOOKS_LIKE = {
    "FileVersion": re.compile(r"[0-9.]+"),
    "NotificationEmail": re.compile(r"[^@]+@[^@]+"),
    "Action": re.compile(r"(?i:create|update|withdraw|reinstate)"),
    "ULN": re.compile(r"[0-9][0-9 .E+]{4,}"),
    # five characters at least: a date as a spreadsheet writes it (46234, 1/1/24), never a grade such as 9 shifted on
    "DateOfBirth": re.compile(r"[0-9][0-9A-Za-z /.:-]{4,}"),
    "QualificationNumber": re.compile(r"[0-9]{3}/?[0-9]{4}/?[0-9A-Za-z]"),
    "AwardDate": re.compile(r"[0-9][0-9A-Za-z /.:-]{4,}"),
    "CentreUKPRN": re.compile(r"[0-9][0-9.E+]{4,}"),
    "LanguageForAssessment": re.compile(r"(?i:english|welsh|irish)"),
    "Credits": re.compile(r"[0-9.]+"),
}


def _in_place(values: list[str], headings: tuple[str, ...]) -> bool:
    """Whether each of `values` that is not empty looks like a value of its heading (`_LOOKS_LIKE`), and two at least
    of those its headings tell by do: values in their places, none shifted by a field missing or too many."""
    judged = [
        pattern.fullmatch(value.strip().lstrip("\ufeff"))
        for value, heading in zip(values, headings, strict=False)
        if value.strip() and (pattern := _LOOKS_LIKE.get(heading)) is not None
    ]
    return len(judged) >= 2 and all(judged)


def _header_names_again(row: list[str]) -> bool:
    """Whether a record row is the header names again (a byte order mark before them, padding after them)."""
    if len(row) > len(RECORD_HEADINGS):
        return False
    written = tuple(value.strip().lstrip("\ufeff").strip() for value in row)
    return written[: len(HEADER_HEADINGS)] == HEADER_HEADINGS and not any(written[len(HEADER_HEADINGS) :])


def _joined_header_lines(line: int, row: list[str], rows: Iterator[tuple[int, list[str]]]) -> list[int] | None:
    """The lines of a second file's header, from a record row that is its header names (line `line`): that line, the
    header values under it, and the record headings after them when they are there. Read only for a file refused."""
    if not _header_names_again(row):
        return None
    lines = [line]
    try:
        for next_line, next_row in rows:
            if _are_record_headings(next_row):
                lines.append(next_line)
                break
            if len(lines) > 1:
                break
            lines.append(next_line)
    except BatchRefused:
        pass
    return lines


def _pasted_in_one_column(text: str, headings: tuple[str, ...], value_headings: tuple[str, ...]) -> bool:
    """Whether the one field of a row holds the whole row written with commas: its line was pasted into one
    spreadsheet cell and saved as one quoted value. A headings row so holds its headings; a values row as many
    commas as it has fields, less one."""
    expected = headings or value_headings
    if not expected or text.count(",") != len(expected) - 1:
        return False
    return not headings or tuple(field.strip().lstrip("\ufeff").strip() for field in text.split(",")) == headings


def _commas_to_delete(padded: list[tuple[int, int]]) -> str:
    """ "delete the last 8 commas of lines 1 and 2", or of each group of lines with as many too many commas."""
    counts: dict[int, list[int]] = {}
    for line, commas in padded:
        counts.setdefault(commas, []).append(line)
    parts = [
        f"the last {'comma' if commas == 1 else f'{commas} commas'} of {_lines_named(lines)}"
        for commas, lines in counts.items()
    ]
    return "delete " + ", and ".join(parts)


def _padded_alike(rows: Iterator[tuple[int, list[str]]], width: int) -> list[tuple[int, int]] | None:
    """The lines of every record row after the first, which is `width` fields wide with empty fields past the last,
    when each is as wide and as empty there, each with its commas too many: a file of rows padded alike, not a row
    with a comma too many (else None). Read only for a file refused for its first record row."""
    expected = len(RECORD_HEADINGS)
    lines = []
    try:
        for line, row in rows:
            if len(row) != width or any(map(str.strip, row[expected:])):
                return None
            lines.append((line, width - expected))
    except BatchRefused:  # a later row the csv module cannot read: no file of rows padded alike
        return None
    return lines


def _padded_lines(rows: Iterator[tuple[int, list[str]]], widths: tuple[int, ...]) -> list[tuple[int, int]]:
    """The lines of the rows left in a file refused for a padded header row that are padded too: wider than the
    row's own width (`widths` in turn, the last for every row after), with nothing past it; each with its commas too
    many."""
    lines = []
    try:
        for (line, row), width in zip(rows, chain(widths, repeat(widths[-1])), strict=False):
            if len(row) > width and not any(map(str.strip, row[width:])):
                lines.append((line, len(row) - width))
    except BatchRefused:  # a later row the csv module cannot read: the padded lines before it are named
        pass
    return lines


_LINES_NAMED = 4  # at most, each a line or a run of lines: a file of thousands of padded lines is said in a few words


def _lines_named(lines: list[int]) -> str:
    """ "line 4", "lines 1 and 2", "lines 1-500", "lines 1, 2, 4-9 and 11", or the first few and how many more."""
    runs: list[list[int]] = []
    for line in lines:
        if runs and line == runs[-1][-1] + 1:
            runs[-1].append(line)
        else:
            runs.append([line])
    parts: list[tuple[str, int]] = []  # each names a line, or a run of three lines or more by its ends: how many
    for run in runs:
        parts += [(f"{run[0]}-{run[-1]}", len(run))] if len(run) > 2 else [(str(line), 1) for line in run]
    if len(parts) > _LINES_NAMED:
        shown = parts[: _LINES_NAMED - 1]
        parts = [*shown, (f"{len(lines) - sum(count for _, count in shown)} more", 0)]
    named = [name for name, _ in parts]
    return f"line {named[0]}" if len(lines) == 1 else f"lines {_listed(named)}"


def _headings_difference(row: list[str], headings: tuple[str, ...]) -> str:
    """The headings a row of too few or too many has not, has as well, or has twice, each named (a heading that
    differs from one missing only in its case or its spaces is named as a change to that one)."""
    # A hostile row may hold millions of fields: every pass over all of them is one of the C loops below, and
    # only the first few fields that are not headings are paired with the missing headings (each pairing is a
    # Python loop over the missing ones; a headings row holds at most a few misspelt headings).
    found = list(map(str.strip, row))
    is_heading = frozenset(headings).__contains__
    counts = Counter(filter(is_heading, found))
    missing = [heading for heading in headings if heading not in counts]
    others = list(filterfalse(is_heading, found))
    differences = []
    for other in others[:_OTHERS_PAIRED] if missing else ():
        meant = next((heading for heading in missing if _loosely(heading) == _loosely(other)), None)
        if meant is not None:
            differences.append(f"{quoted(other)} is to be {meant!r}{_loose_difference(other, meant)}")
            missing.remove(meant)
            others.remove(other)
    if missing:
        differences.append(f"{_listed([repr(heading) for heading in missing])} {_is_or_are(missing)} missing")
    if others and len(others) * 2 > len(found):  # a record's values, maybe a learner's, are never said back
        differences.append(
            "most of its fields are not headings: it looks like a record's row where the headings belong"
        )
    elif others:  # the first few misspelt headings
        named = [quoted(other) if other else "an empty heading" for other in others[:_OTHERS_NAMED]]
        if len(others) > _OTHERS_NAMED:
            named.append(f"{len(others) - _OTHERS_NAMED} more")
        differences.append(f"{_listed(named)} {'is not a heading' if len(others) == 1 else 'are not headings'}")
    repeated = [heading for heading in headings if counts[heading] > 1]
    if repeated:
        differences.append(f"{_listed([repr(heading) for heading in repeated])} {_is_or_are(repeated)} there twice")
    return ", ".join(differences)


_OTHERS_NAMED = 3
_OTHERS_PAIRED = 50


def _loosely(heading: str) -> str:
    return "".join(heading.replace("\ufeff", "").split()).lower()


def _loose_difference(found: str, expected: str) -> str:
    if "\ufeff" in found:
        return " (without the invisible byte order mark, U+FEFF)"
    if found.lower() == expected.lower():
        return " (headings are case-sensitive)"
    in_case = "" if "".join(found.split()) == expected else ", and headings are case-sensitive"
    return f" (without spaces{in_case})"


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _is_or_are(names: list[str]) -> str:
    return "is" if len(names) == 1 else "are"


def _other_separator(text: str, expected: int) -> str | None:
    """The name of the separator a one-field row seems to use instead of commas (a spreadsheet set to another
    locale's list separator), or None."""
    return next(
        (name for separator, name in _OTHER_SEPARATORS.items() if text.count(separator) >= min(expected - 1, 2)),
        None,
    )
