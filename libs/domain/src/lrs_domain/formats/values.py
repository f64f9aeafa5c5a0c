"""What a value may hold: one rule set for CSV, XML and JSON, applied to every value as it is read.

A value that PostgreSQL cannot store, that has no UTF-8 form, or that would break an email header or a
one-line log refuses the whole file (RS001), naming the line and the field: the character rule every
API's text shares (`lrs_contracts.text`: C0 controls but TAB, LF and CR, DEL and C1 controls but NEL, lone
surrogates, non-characters), and more than 1,024 characters once trimmed. CR and LF may stand inside a record value, which every
format can carry (a quoted CSV field, XML text, a JSON escape), but never inside a header value: the
batch reference becomes an email subject.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lrs_contracts.codes import BatchCode
from lrs_contracts.text import (
    REFUSED_IN_ONE_LINE,
    REFUSED_IN_TEXT,
    WHITE_SPACE,
    characters_read,
    described_character,
    refused_character,
    unseen_characters,
)
from lrs_domain.formats.errors import BatchRefused

MAX_VALUE_CHARACTERS = 1_024
# How far a value's characters are counted to say how long a value over the limit is (`value_fault`)
COUNTED_UP_TO = 10_000


def trimmed_value(value: str) -> str | None:
    """The value trimmed of white space, and None when nothing is left (DOMAIN.md §7). A control character other
    than TAB, CR and LF is not white space here: it stays, for `refuse_unstorable` to refuse."""
    return value.strip(WHITE_SPACE) or None


def value_fault(value: str, *, in_header: bool) -> str | None:
    """Why `value` (trimmed) cannot be stored or sent, or None when it can. Its characters are counted as a reader
    counts them, as a name's are (`characters_read`: in its composed form, a letter's first two combining marks
    counted with it; decision 0167), so that the Unicode form an accent is written in does not change the verdict: 600 letters with an accent
    are 600 characters written composed or decomposed (1,200 code points). A value of at most 1,024 code points is
    never too long (the fast readings of a file rely on it), nor is an ASCII one of at most 1,024 characters.

    An ASCII value's length is said whatever it is; any other is counted only up to `COUNTED_UP_TO` (a Python loop,
    on the parse thread: a 6 MB value took half a second counted in full, review 1, finding 3), and one longer is
    said to be "more than 10,000 characters long"."""
    if len(value) > MAX_VALUE_CHARACTERS:
        if value.isascii():
            said: str | None = f"{len(value):,}"
        else:
            length = characters_read(value, stop_after=COUNTED_UP_TO)
            said = (
                None
                if length <= MAX_VALUE_CHARACTERS
                else f"more than {COUNTED_UP_TO:,}"
                if length > COUNTED_UP_TO
                else f"{length:,}"
            )
        if said is not None:
            return f"is {said} characters long; a value may have at most {MAX_VALUE_CHARACTERS:,}"
    refused = refused_character(value, one_line=in_header, one_line_is="a header value")
    return None if refused is None else f"holds {refused}"


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
        pattern = REFUSED_IN_ONE_LINE if in_header else REFUSED_IN_TEXT
        if joined.isprintable() or pattern.search(joined) is None:
            return
    for index, value in enumerate(values):
        fault = value_fault(value, in_header=in_header) if value else None
        if fault is not None:
            field, line, column = where(index)
            raise BatchRefused(BatchCode.MALFORMED, f"{field} {fault}", line, column)


def unseen_line_fault(text: str, line: int, column: int) -> str | None:
    """Why a line, or what follows a document's end, could not be read, when it holds nothing a reader sees but a
    character that is not white space (`unseen_characters`: a Ctrl-Z end-of-file mark, NUL padding, a zero-width
    space): "line 5 holds the control character U+001A (an end-of-file mark, Ctrl-Z) at character 1: delete it",
    said alike in CSV, XML, JSON and a learner file; else None. `column` is where `text` starts on line `line`
    (from 1), which no line break in `text` before its first such character moves."""
    found = unseen_characters(text)
    if found is None:
        return None
    first = found[0]
    more = len(found) - 1
    said = f"line {line} holds {described_character(text[first])} at character {column + first}"
    if more:
        return f"{said}, and {more} more character{'s' if more > 1 else ''} a reader cannot see: delete them"
    return f"{said}: delete it"


def refused_in_line(text: str, line: int) -> str | None:
    """The first character of a line (`text`) that no value may hold, for a row refused for another fault: "line 5
    also holds the control character U+0000 (a null character) at character 8, which cannot be stored: delete
    it", else None."""
    found = REFUSED_IN_TEXT.search(text)
    if found is None:
        return None
    return (
        f"line {line} also holds {described_character(found.group())} at character {found.start() + 1}, which cannot"
        " be stored: delete it"
    )
