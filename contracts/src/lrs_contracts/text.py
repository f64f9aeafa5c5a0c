"""Text a service can store and send: one character rule for batch files and for every API's text.

Refused in any value:
- C0 control characters other than TAB, LF and CR (U+0000 to U+001F): PostgreSQL cannot store NUL,
  and the others are nothing a person typed;
- DEL (U+007F) and the C1 control characters (U+0080 to U+009F) but NEL: nothing a person typed either,
  and U+009B starts a terminal's escape sequence as ESC [ does; NEL (U+0085) is a line break, kept as CR
  and LF are in text over lines;
- lone surrogates (U+D800 to U+DFFF), which have no UTF-8 form (only a JSON escape can make one);
- Unicode non-characters: U+FDD0 to U+FDEF and the last two code points of every plane (U+FFFE, ...).
A one-line value (a name, a filter, an email address, a batch header) refuses line breaks too: CR and
LF, and NEL (U+0085), LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029), which Python's email
headers and `str.splitlines` also break lines at: it may become an email header or a log field; and the bidirectional embeddings, overrides and isolates
(U+202A to U+202E, U+2066 to U+2069, decision 0138) and the ARABIC LETTER MARK (U+061C, which makes the digits
after it Arabic numbers, so that a group of them reads reversed): shown in a list, a subject or a name, they could
make it read in another order than it was written. (Text over lines keeps them; where someone else
reads it, `with_bidi_controls_shown` names them instead.)

`StorableText` and `OneLineText` carry the rule into pydantic models and FastAPI parameters: a value
that breaks it is a 422 naming the field and the character, before anything is stored or sent.

`has_visible_text` is the one rule for text that must say something to whoever reads it (a challenge's reason
and note, an AO's challenge contact's names): a value of spaces and invisible characters alone shows as nothing.
`unseen_in_name` names what in a name a reader cannot see, or tell from one ordinary space (a no-break space, a run
of spaces, a zero-width space), and `lost_letter_in_name` a letter lost when the file was saved ('?' or U+FFFD): a
batch record's name holding one is RV021 naming it, and the learner registry refuses it. `characters_read` counts a
text as a reader does (a letter with its accents is one character), and every position a message names ("at character
5") is counted so.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_LINE_BREAKS = "\r\n\x85\u2028\u2029"
_NON_CHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_BIDI_CONTROL_RANGES = "\u061c\u202a-\u202e\u2066-\u2069"
_REFUSED_ANYWHERE = f"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff{_NON_CHARACTERS}"
REFUSED_IN_TEXT = re.compile(f"[{_REFUSED_ANYWHERE}]")
REFUSED_IN_ONE_LINE = re.compile(f"[{_REFUSED_ANYWHERE}{_LINE_BREAKS}{_BIDI_CONTROL_RANGES}]")
_BIDI_CONTROLS = re.compile(f"[{_BIDI_CONTROL_RANGES}]")


# The combining marks a letter carries as part of itself, as a reader counts it: a Yoruba "ẹ́" (a dot and an acute,
# with no composed form) or a pointed Hebrew letter. A mark past them, or one with no letter before it, counts as a
# character, so that no run of marks, however long, passes a limit of characters (a review of session 60).
MARKS_A_LETTER_CARRIES = 2


def characters_read(text: str, stop_after: int | None = None) -> int:
    """How many characters a reader counts in `text`: those of its composed form (NFC), each letter with up to
    `MARKS_A_LETTER_CARRIES` combining marks (`unicodedata.combining`) after it counted once, so that a letter with its
    accents is one character whichever Unicode form wrote it (decision 0167): "Siân" written composed or decomposed
    is 4, and so is a Yoruba "ẹ́" (a dotted e with an acute, which has no composed form). An ASCII text is its own
    length. Never more than the length of the composed form.

    With `stop_after`, counting stops once the count passes it: a text of more characters than `stop_after` counts
    `stop_after + 1`, so that judging a limit reads little further than the limit (a 6 MB value at the door, review 1,
    finding 3). A text of more than 12 code points for each of `stop_after`'s characters
    (`_CODE_POINTS_A_CHARACTER_STANDS_FOR`) is answered at once, composing nothing, whatever its script (a review of
    session 61's work, finding 2). A shorter one is composed a part at a time (`_PART`), each part ending before an
    ASCII character: one never composes with, nor is reordered past, what comes before it, and a mark after it is
    carried by it, so the parts' counts add up to the whole's."""
    if stop_after is not None and len(text) > _CODE_POINTS_A_CHARACTER_STANDS_FOR * stop_after:
        return stop_after + 1
    if text.isascii():
        return len(text) if stop_after is None or len(text) <= stop_after else stop_after + 1
    if stop_after is None:
        combining = unicodedata.combining
        count = 0
        carried = MARKS_A_LETTER_CARRIES  # a mark before any letter carries nothing: it counts
        for character in unicodedata.normalize("NFC", text):
            if not combining(character):
                count += 1
                carried = 0
            elif carried < MARKS_A_LETTER_CARRIES:
                carried += 1
            else:
                count += 1
        return count
    count = start = 0
    while True:
        found = _ASCII.search(text, start + _PART)
        end = len(text) if found is None else found.start()
        count += _counted(unicodedata.normalize("NFC", text[start:end]), stop_after - count)
        if count > stop_after or end == len(text):
            return count
        start = end


# The longest canonical decomposition of a code point (NFD): 4, U+1FAF (Ω with three marks); a Hangul syllable is 3.
LONGEST_DECOMPOSITION = 4
# At most how many code points of a text one character `characters_read` counts stands for, so that a text of more
# than this many times `stop_after` code points counts more than `stop_after` characters. A text's NFD form is no
# shorter than the text and is the NFD forms of its NFC form's code points, so NFC keeps at least one code point of
# every `LONGEST_DECOMPOSITION`; and of every 1 + `MARKS_A_LETTER_CARRIES` code points of the NFC form (a letter and
# the marks it carries), at least one is counted.
_CODE_POINTS_A_CHARACTER_STANDS_FOR = LONGEST_DECOMPOSITION * (1 + MARKS_A_LETTER_CARRIES)

# How many code points of a text `characters_read` composes at a time when it may stop: a part runs on to the next
# ASCII character
_PART = 4_096
_ASCII = re.compile("[\x00-\x7f]")


def _counted(composed: str, limit: int) -> int:
    """`characters_read` of a composed text, stopping once the count passes `limit` (`limit + 1`): its loop with a
    test of the count, which the count of a whole text goes without."""
    combining = unicodedata.combining
    count = 0
    carried = MARKS_A_LETTER_CARRIES  # a mark before any letter carries nothing: it counts
    for character in composed:
        if not combining(character):
            count += 1
            carried = 0
        elif carried < MARKS_A_LETTER_CARRIES:
            carried += 1
            continue
        else:
            count += 1
        if count > limit:
            break
    return count


def character_position(text: str, index: int) -> int:
    """The position (from 1) a message names of `text[index]`, as a reader counts (`characters_read`): the same
    character is "at character 5" in a name written composed and in the same name written decomposed."""
    return index + 1 if index < 1 or text.isascii() else characters_read(text[:index]) + 1


def refused_character(value: str, *, one_line: bool, one_line_is: str = "the value") -> str | None:
    """What in `value` cannot be stored or sent ("the control character U+0000 at character 3"), or None.
    A line break is said to break `one_line_is` ("a header value", say). The position is counted as a reader counts
    (`character_position`)."""
    found = (REFUSED_IN_ONE_LINE if one_line else REFUSED_IN_TEXT).search(value)
    if found is None:
        return None
    what, why = _described(found.group(), one_line_is)
    return f"{what} at character {character_position(value, found.start())}{why}"


def _described(character: str, one_line_is: str) -> tuple[str, str]:
    code_point = f"U+{ord(character):04X}"
    if character in _LINE_BREAKS:
        return f"a line break ({code_point})", f": {one_line_is} is one line"
    if _BIDI_CONTROLS.fullmatch(character):
        return f"the bidirectional control {code_point}", f" ({one_line_is} is shown as it is written)"
    if unicodedata.category(character) == "Cs":
        return f"a lone surrogate ({code_point})", ", which has no UTF-8 form"
    if unicodedata.category(character) == "Cc":
        return f"the control character {code_point}", ""
    return f"the Unicode non-character {code_point}", ""


def _checked(*, one_line: bool) -> Callable[[str], str]:
    def check(value: str) -> str:
        refused = refused_character(value, one_line=one_line)
        if refused is not None:
            raise ValueError(f"holds {refused}, which cannot be stored or sent")
        return value

    return check


def with_bidi_controls_shown(text: str) -> str:
    """`text` with each bidirectional embedding, override or isolate, and U+061C, shown as its code point ("[U+202E]"), for
    showing someone else's words (a learner's challenge reason to an AO): obeyed, they could make the reader
    see the words in another order than they were written. Stored text keeps them."""
    return _BIDI_CONTROLS.sub(lambda found: f"[U+{ord(found.group()):04X}]", text)


_NOT_SHOWN_ON_ONE_LINE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_LINE_BREAKS}{_BIDI_CONTROL_RANGES}]")


def shown_on_one_line(text: str) -> str:
    """`text` with each line break, control character but TAB and bidirectional control shown as its code point
    ("[U+2028]"), for a value that must stay one line where someone else reads it (an email subject): one accepted
    before they were refused (line breaks, then DEL and C1 controls) is still sent, not parked."""
    return _NOT_SHOWN_ON_ONE_LINE.sub(lambda found: f"[U+{ord(found.group()):04X}]", text)


# Characters that show as nothing though they are neither spaces nor format characters: the combining grapheme
# joiner, the Hangul fillers, the Khmer inherent vowels, the Mongolian variation selectors, the braille blank
# and the variation selectors (Unicode's Default_Ignorable_Code_Point, and U+2800).
_SHOWN_AS_NOTHING = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
    + "".join(chr(code) for code in range(0xFE00, 0xFE10))
    + "".join(chr(code) for code in range(0xE0100, 0xE01F0))
)


def has_visible_text(text: str | None) -> bool:
    """Whether `text` holds a character a reader sees: not only spaces and line breaks, control and format
    characters (Cf: a zero-width space, a joiner, a bidirectional control, a byte order mark) and the few others
    that show as nothing. A reason, a note or a name of those alone is empty to whoever reads it."""
    return text is not None and any(
        not character.isspace()
        and unicodedata.category(character) not in ("Cc", "Cf", "Zs", "Zl", "Zp")
        and character not in _SHOWN_AS_NOTHING
        for character in text
    )


# What a name's unseen characters are called where a message names one; any other is "an unusual space" (Zs) or
# "an invisible character".
_CHARACTER_NAMES = {
    "\t": "a tab",
    "\u00a0": "a no-break space",
    "\u2002": "an en space",
    "\u2003": "an em space",
    "\u2007": "a figure space",
    "\u2009": "a thin space",
    "\u200a": "a hair space",
    "\u202f": "a narrow no-break space",
    "\u3000": "an ideographic space",
    "\u00ad": "a soft hyphen",
    "\u034f": "a combining grapheme joiner",
    "\u200b": "a zero-width space",
    "\u200c": "a zero-width non-joiner",
    "\u200d": "a zero-width joiner",
    "\u200e": "a left-to-right mark",
    "\u200f": "a right-to-left mark",
    "\u2060": "a word joiner",
    "\u2800": "a braille blank",
    "\u3164": "a Hangul filler",
    "\ufeff": "a byte order mark",
}
# Kept in a name that holds a letter of a script other than Latin: they join, separate, direct or select the
# glyphs of its letters (a Persian name's non-joiner, an Arabic or Hebrew name's mark beside Latin text, decision
# 0138; a Japanese name's ideographic variation selector). Among Latin letters they do nothing a reader could see.
_KEPT_BESIDE_ANOTHER_SCRIPT = frozenset(
    "\u034f\u180b\u180c\u180d\u180e\u180f\u200c\u200d\u200e\u200f"
    + "".join(chr(code) for code in range(0xFE00, 0xFE10))
    + "".join(chr(code) for code in range(0xE0100, 0xE01F0))
)
# What a letter the file's encoding did not have is written as when the file is saved: '?' by Windows' "ANSI" code
# pages (Excel's "CSV (Comma delimited)", many MIS exports), U+FFFD by a decoder that met bytes it could not read.
_LOST_LETTER = re.compile("[?\ufffd]")
# A name that may hold what `unseen_in_name` or `lost_letter_in_name` names, beside one that is not printable
# (`str.isprintable`: a Zs space but U+0020, a TAB, a format character): a run of spaces, a printable character that
# shows as nothing, or a lost letter.
MAY_HOLD_UNSEEN = re.compile(" {2}|[?\ufffd" + "".join(sorted(_SHOWN_AS_NOTHING)) + "]")


def unseen_in_name(name: str) -> str | None:
    """What in a name a reader cannot see, or cannot tell from one ordinary space ("U+00A0 (a no-break space) at
    character 5: write an ordinary space"), or None: a space other than U+0020 (a no-break space, a TAB, any Zs), a
    run of spaces, or a character that shows as nothing (a format character, Cf: a soft hyphen, a zero-width space,
    a word joiner, a byte order mark, a tag character; and `has_visible_text`'s others). Such a name looks like the
    name without it, on every screen, but is another string: the first one, by position, is named. The joiners,
    marks and variation selectors stand in a name with a letter of another script than Latin (Arabic, Hebrew,
    Devanagari, CJK...), where they are written on purpose. Line breaks and bidirectional controls are
    `refused_character`'s (one line); a caller asks it first."""
    other_script: bool | None = None
    previous = ""
    for index, character in enumerate(name):
        if character == " ":
            if previous == " ":
                run = len(name[index - 1 :]) - len(name[index - 1 :].lstrip(" "))
                at = character_position(name, index - 1)
                return f"{run} spaces in a row at character {at}: separate the name's words with one space"
            previous = character
            continue
        previous = character
        if character.isascii() and character != "\t":
            continue
        category = unicodedata.category(character)
        if character == "\t" or category == "Zs":
            described = _CHARACTER_NAMES.get(character, "an unusual space")
            at = character_position(name, index)
            return f"U+{ord(character):04X} ({described}) at character {at}: write an ordinary space"
        if category != "Cf" and character not in _SHOWN_AS_NOTHING:
            continue
        if character in _KEPT_BESIDE_ANOTHER_SCRIPT:
            if other_script is None:
                other_script = any(
                    each.isalpha() and not unicodedata.name(each, "LATIN").startswith("LATIN") for each in name
                )
            if other_script:
                continue
        if 0xE0000 <= ord(character) <= 0xE007F:
            described = "a tag character"
        else:
            described = _CHARACTER_NAMES.get(character, "an invisible character")
        at = character_position(name, index)
        return f"U+{ord(character):04X} ({described}) at character {at}, which shows as nothing: delete it"
    return None


LOST_LETTER_ADVICE = 'save it again from the original as UTF-8 (in Excel, "CSV UTF-8 (Comma delimited)")'
"""What to do about a letter lost when the file was saved (`lost_letter_in_name`)."""


def lost_letter_in_name(name: str) -> str | None:
    """Where a letter of a name was lost when the file was saved ("'?' at character 3, where a letter was lost when
    the file was saved: save it again ... as UTF-8"), or None. A file saved in an encoding that has no such letter
    (Windows-1252, Excel's "CSV (Comma delimited)", has no Welsh ŵ or ŷ, no Polish ł, no Vietnamese ễ, no Chinese)
    holds '?' in its place, and one read with bytes that are not UTF-8 U+FFFD; a file with no other non-ASCII letter
    is plain ASCII, so it passes the door as UTF-8. No name is written with either character: such a name would
    only fail to match the learner (RV004, which cannot say why, decision 0157), or register a learner no batch
    could match. The first one, by position (counted as a reader counts), is named; the name never is."""
    found = _LOST_LETTER.search(name)
    if found is None:
        return None
    character = found.group()
    described = "'?'" if character == "?" else "U+FFFD (the replacement character)"
    at = character_position(name, found.start())
    return f"{described} at character {at}, where a letter was lost when the file was saved: {LOST_LETTER_ADVICE}"


# What a control character a file may end or be padded with is, where a message names it.
_CONTROL_NAMES = {
    "\x00": "a null character",
    "\x0c": "a form feed",
    "\x1a": "an end-of-file mark, Ctrl-Z",
    "\x1b": "an escape character",
    "\x7f": "a delete character",
}


def described_character(character: str) -> str:
    """A character no reader sees, as a message names it: "the control character U+001A (an end-of-file mark,
    Ctrl-Z)", "a lone surrogate (U+D800)", "U+200B (a zero-width space)"."""
    if REFUSED_IN_TEXT.fullmatch(character):
        what, _ = _described(character, "")
        named = _CONTROL_NAMES.get(character)
        return f"{what} ({named})" if named else what
    named = _CHARACTER_NAMES.get(character) or ("an unusual space" if character.isspace() else "an invisible character")
    return f"U+{ord(character):04X} ({named})"


def unseen_characters(text: str) -> list[int] | None:
    """Where `text` (a line, or what follows a document's end) holds a character a reader cannot see that is not
    white space (a control character but TAB, CR and LF; a format character; one `has_visible_text` counts as
    nothing), when it holds nothing a reader sees: the indexes of those characters, else None (nothing of the
    kind, or something visible besides)."""
    if has_visible_text(text):
        return None
    found = [
        index for index, character in enumerate(text) if not character.isspace() or REFUSED_IN_TEXT.match(character)
    ]
    return found or None


WHITE_SPACE = "".join(
    character
    for character in map(chr, range(0x3001))
    if character.isspace() and not REFUSED_IN_TEXT.fullmatch(character)
)
"""What a value is trimmed of: the white space `str.strip()` takes (space, TAB, CR, LF, NBSP, EM SPACE, ...; none past
U+3000), but for the C0 controls it counts as white space (U+000B, U+000C, U+001C to U+001F). Trimmed silently, such a
control at either end would pass where a value is stripped and be refused where it is kept (XML, a batch's CSV); kept,
it is refused as inside a value, whatever the way in."""


def _edges_checked(value: object) -> object:
    """A text's control characters at its ends refused before a model strips it (`str_strip_whitespace` takes U+000B,
    U+000C and U+001C to U+001F as white space): "Lily\x0b" is refused as "Li\x0bly" is, not stored as "Lily"."""
    if isinstance(value, str):
        trimmed = value.strip(WHITE_SPACE)
        if trimmed != value.strip() and (refused := refused_character(trimmed, one_line=False)) is not None:
            raise ValueError(f"holds {refused}, which cannot be stored or sent")
    return value


StorableText = Annotated[str, BeforeValidator(_edges_checked), AfterValidator(_checked(one_line=False))]
"""Text that may run over lines (a reason, a note): no other control character, lone surrogate or non-character."""

OneLineText = Annotated[str, BeforeValidator(_edges_checked), AfterValidator(_checked(one_line=True))]
"""A name, an address, a filter: `StorableText` without line breaks."""


_WRITTEN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A date written day first, the UK way (13/05/2007, 13.05.2007, 13-05-2007), or as the portal shows one (6 July
# 2010, 6 Jul 2010): what a spreadsheet set to UK dates writes back, and what a person copies from a page.
_DAY_FIRST = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})")
_DAY_MONTH_NAMED = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)? +([A-Za-z]+)\.?,? +([0-9]{4})")
# the months as a message names them, English whatever the process's locale (`strftime("%B")` follows it)
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTHS = {
    **{name.lower(): number for number, name in enumerate(MONTH_NAMES, start=1)},
    **{name[:3].lower(): number for number, name in enumerate(MONTH_NAMES, start=1)},
    "sept": 9,
}


@lru_cache(maxsize=16_384)
def written_date(text: str) -> date | None:
    """The day `text` names when it is written `yyyy-mm-dd` and the calendar has it; None for anything else, the
    other ISO 8601 spellings `date.fromisoformat` reads (`20240604`, `2024-W23-2`) among them. Not trimmed here."""
    if not _WRITTEN_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@lru_cache(maxsize=16_384)
def day_first_date(text: str) -> date | None:
    """The day `text` names when it is written day first, the UK way (13/05/2007, 13.05.2007, 13-05-2007), or with
    the month's English name (6 July 2010, 6 Jul 2010): None for any other text, and for a day the calendar does not
    have. A day-first date is read as the UK writes it (06/07/2010 is 6 July); a message saying it as yyyy-mm-dd
    names the month too, so a writer who meant another order sees the difference."""
    stripped = text.strip()
    found = _DAY_FIRST.fullmatch(stripped)
    if found is not None:
        day, month, year = (int(part) for part in found.groups())
    else:
        found = _DAY_MONTH_NAMED.fullmatch(stripped)
        month_number = _MONTHS.get(found.group(2).lower()) if found is not None else None
        if found is None or month_number is None:
            return None
        day, month, year = int(found.group(1)), month_number, int(found.group(3))
    try:
        return date(year, month, day)
    except ValueError:
        return None


# How a spreadsheet writes a date it read as one: the number of days after 30 December 1899 (a date column formatted
# as General or Number; 46234 is 31 July 2026) when it is from 1 January 1950 to 31 December 2099, five digits; a
# date and a time (a date-time cell: "2026-07-31 00:00:00", "31/07/2026 00:00"); a two-digit year (dd-mmm-yy,
# "31-Jul-26", or "31/07/26"), which Excel reads as 19xx from 30 and as 20xx below.
_SERIAL = re.compile(r"[0-9]{5}")
_SERIAL_DAYS = (18_264, 73_050)
_SERIAL_EPOCH = date(1899, 12, 30)
_DATE_AND_TIME = re.compile(r"(\S+)[T ]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?: ?[AaPp][Mm])?Z?")
# A short year is read day first only as a UK spreadsheet writes it: 31/07/26, or with the month named (31-Jul-26);
# 24-08-22 may be a short ISO date (year first), so it is not read.
_TWO_DIGIT_YEAR = re.compile(r"([0-9]{1,2})(?:/([0-9]{1,2})/|[/.\- ]([A-Za-z]{3,9})[/.\- ])([0-9]{2})")
_MONTH_NAMED_WITH_HYPHENS = re.compile(r"([0-9]{1,2})-([A-Za-z]{3,9})-([0-9]{4})")


def _day(year: int, month: int | str, day: int) -> date | None:
    number = month if isinstance(month, int) else _MONTHS.get(month.lower())
    if number is None:
        return None
    try:
        return date(year, number, day)
    except ValueError:
        return None


@lru_cache(maxsize=16_384)
def spreadsheet_date(text: str) -> tuple[date | None, str] | None:
    """The day a text names when it is written as a spreadsheet writes a date it read as one, and how: ("serial", a
    date turned into a number), ("date and time", the day when its date part is readable), ("short year", dd-mmm-yy or
    dd/mm/yy), or None for any other text. Not trimmed here."""
    if _SERIAL.fullmatch(text) and _SERIAL_DAYS[0] <= (days := int(text)) <= _SERIAL_DAYS[1]:
        return _SERIAL_EPOCH + timedelta(days=days), "serial"
    if (found := _DATE_AND_TIME.fullmatch(text)) is not None:
        part = found.group(1)
        return written_date(part) or day_first_date(part) or _short_year_date(part), "date and time"
    if (day := _short_year_date(text)) is not None:
        return day, "short year"
    return None


def _short_year_date(text: str) -> date | None:
    found = _TWO_DIGIT_YEAR.fullmatch(text)
    if found is not None:
        year = int(found.group(4))
        month = found.group(2) or found.group(3)
        return _day(
            year + (1900 if year >= 30 else 2000), int(month) if month.isdigit() else month, int(found.group(1))
        )
    found = _MONTH_NAMED_WITH_HYPHENS.fullmatch(text)
    return None if found is None else _day(int(found.group(3)), found.group(2), int(found.group(1)))


def _said(day: date) -> str:
    return f"{day.isoformat()} ({day.day} {MONTH_NAMES[day.month - 1]} {day.year})"


@lru_cache(maxsize=16_384)
def why_not_a_date(text: str, *, suggest: bool = False, spreadsheet: bool = False) -> str:
    """What is wrong with a text `written_date` refused, after its subject ("Award date '…' " + this), decision 0176:
    a day the calendar does not have is written as asked, and a look-alike character (a non-breaking hyphen,
    full-width digits) looks as asked, so "expected yyyy-mm-dd" alone would not tell the writer what to change.

    `suggest`: a date written day first (`day_first_date`: what a spreadsheet set to UK dates writes) or as a
    spreadsheet writes one (`spreadsheet_date`: a serial number, a date and time, a two-digit year) is told as it
    should be written ("...: write it as 2024-08-22 (22 August 2024)"). Not for a date the message must not repeat
    (a date of birth in a batch's results: personal data): `spreadsheet` says what a spreadsheet did to it without
    the day it names."""
    if _WRITTEN_DATE.fullmatch(text):
        return "is written yyyy-mm-dd, but the calendar has no such day"
    if suggest and (day := day_first_date(text)) is not None:
        return f"is not a date written yyyy-mm-dd: write it as {_said(day)}"
    found = spreadsheet_date(text) if suggest or spreadsheet else None
    if found is not None:
        day, how = found
        if how == "serial":
            named = f" ({text} is {day.day} {MONTH_NAMES[day.month - 1]} {day.year})" if suggest and day else ""
            write = day.isoformat() if suggest and day else "the date as yyyy-mm-dd"
            return (
                f"is not a date written yyyy-mm-dd: it looks like a date a spreadsheet turned into a number{named}:"
                f" format the column as Text and write {write}"
            )
        if how == "date and time":
            alone = f", {_said(day)}" if suggest and day else ""
            return f"is not a date written yyyy-mm-dd: it is a date and a time; write the date alone{alone}"
        if suggest and day:
            return f"is not a date written yyyy-mm-dd: write it as {_said(day)}"
    if not text.isascii():
        return "is not a date written yyyy-mm-dd: it holds a character other than the digits 0-9 and '-'"
    return "is not a date written yyyy-mm-dd"


def _written_date(value: object) -> object:
    """A date as the batch files write it, trimmed: not the other forms pydantic reads as a date (a number of
    seconds, `20240604`, a time of day and zone), which a person reading the answer would not recognise. A text
    refused is told why in the batch files' words (decision 0176), the value not repeated (it may be a date of
    birth)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("expected a date written yyyy-mm-dd")
    stripped = value.strip()
    written = written_date(stripped)
    if written is None:
        why = why_not_a_date(stripped)
        not_written = why.removeprefix("is not a date written yyyy-mm-dd")
        # "body.award_date: expected a date written yyyy-mm-dd: it holds a character other than ...", or
        # "body.award_date: the date is written yyyy-mm-dd, but the calendar has no such day"
        raise ValueError(
            f"expected a date written yyyy-mm-dd{not_written}" if not_written != why else f"the date {why}"
        )
    return written


WrittenDate = Annotated[date, BeforeValidator(_written_date)]
"""A date in an API's body: `yyyy-mm-dd` (surrounding spaces trimmed), a day of the calendar (decision 0176)."""
