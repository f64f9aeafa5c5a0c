"""What a value may hold: one rule set for CSV, XML and JSON, applied to every value as it is read.

A value that PostgreSQL cannot store, that has no UTF-8 form, or that would break an email header or a
one-line log refuses the whole file (RS001), naming the line and the field. Refused in any value:
- C0 control characters other than TAB (U+0000 to U+001F): NUL cannot be stored in PostgreSQL text;
- lone surrogates (U+D800 to U+DFFF), which have no UTF-8 form (only a JSON escape can make one);
- Unicode non-characters: U+FDD0 to U+FDEF and the last two code points of every plane (U+FFFE, ...);
- more than 1,024 characters once trimmed.
CR and LF may stand inside a record value, which every format can carry (a quoted CSV field, XML text,
a JSON escape), but never inside a header value: the batch reference becomes an email subject.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from lrs_contracts.codes import BatchCode
from lrs_domain.formats.errors import BatchRefused

MAX_VALUE_CHARACTERS = 1_024

_LINE_BREAKS = "\r\n"
_NON_CHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_REFUSED_ANYWHERE = f"\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff{_NON_CHARACTERS}"
_REFUSED_IN_RECORDS = re.compile(f"[{_REFUSED_ANYWHERE}]")
_REFUSED_IN_HEADER = re.compile(f"[{_REFUSED_ANYWHERE}{_LINE_BREAKS}]")


def value_fault(value: str, *, in_header: bool) -> str | None:
    """Why `value` (trimmed) cannot be stored or sent, or None when it can."""
    if len(value) > MAX_VALUE_CHARACTERS:
        return f"is {len(value):,} characters long; a value may have at most {MAX_VALUE_CHARACTERS:,}"
    found = (_REFUSED_IN_HEADER if in_header else _REFUSED_IN_RECORDS).search(value)
    if found is None:
        return None
    what, why = _refused_character(found.group())
    return f"holds {what} at character {found.start() + 1}{why}"


def _refused_character(character: str) -> tuple[str, str]:
    code_point = f"U+{ord(character):04X}"
    if character in _LINE_BREAKS:
        return f"a line break ({code_point})", ": a header value is one line"
    if unicodedata.category(character) == "Cs":
        return f"a lone surrogate ({code_point})", ", which has no UTF-8 form"
    if unicodedata.category(character) == "Cc":
        return f"the control character {code_point}", ""
    return f"the Unicode non-character {code_point}", ""


Where = Callable[[int], tuple[str, int | None, int | None]]


def refuse_unstorable(values: Sequence[str | None], where: Where, *, in_header: bool) -> None:
    """Raises BatchRefused (RS001) for the first of `values` (trimmed) that cannot be stored or sent.

    `where(index)` names the value's field as the file does (a CSV heading, an XML element, a JSON key)
    and gives its line and column; it is asked only about a refused value.
    """
    present = list(filter(None, values))
    joined = " ".join(present)
    # The common case in one pass over the record: short values, every character printable (a space
    # joins them without adding a refused character); anything else is looked at value by value.
    if len(joined) <= MAX_VALUE_CHARACTERS or max(map(len, present)) <= MAX_VALUE_CHARACTERS:
        pattern = _REFUSED_IN_HEADER if in_header else _REFUSED_IN_RECORDS
        if joined.isprintable() or pattern.search(joined) is None:
            return
    for index, value in enumerate(values):
        fault = value_fault(value, in_header=in_header) if value else None
        if fault is not None:
            field, line, column = where(index)
            raise BatchRefused(BatchCode.MALFORMED, f"{field} {fault}", line, column)
