"""How a person's name compares and counts (DOMAIN.md §7: trimmed, and case-insensitively), whatever Unicode form
the sender's system wrote it in (decision 0167): "Siân" saved on a Mac (an `a` and a combining circumflex) and on
Windows (one `â`) are the same name, of four characters."""

from __future__ import annotations

import re
import unicodedata

from lrs_contracts.text import characters_read


def comparable_name(name: str) -> str:
    """The trimmed name in its canonical caseless form (Unicode §3.13, D145): two names are the same when these are
    equal. Only canonical equivalents meet: a curly apostrophe is not a straight one, nor a full-width letter a
    letter."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name.strip()).casefold())


def name_length(name: str) -> int:
    """A name's characters as a reader counts them (`lrs_contracts.text.characters_read`): those of its composed form
    (NFC), a letter's first two combining marks counted with it, so that an accent is no character of its own, even
    on a letter Unicode has no composed form for (a Yoruba ẹ́ or ọ̀, a Lithuanian ė̃: a letter and two marks, decision
    0167). An ASCII name is its own length (`characters_read` tests for it first)."""
    return characters_read(name)


def name_too_long(name: str | None, limit: int) -> bool:
    """Whether `name` has more than `limit` characters as `name_length` counts them: the one gate every check of a
    name's length (or an MIS identifier's) asks first, a batch record's, the learner registry's and a learner file's,
    before counting to say how long it is. An ASCII name is its own length; any other is counted in its composed form
    (NFC), which may be shorter (a combining accent) or, for a few characters, longer (U+0F43 and the other Tibetan
    letters NFC writes as two). The composed form's length, taken in C, is asked first: `name_length` never passes
    it, so a name no longer than the limit composed is never too long, and only a longer one is counted in Python."""
    return name is not None and (
        len(name) > limit
        if name.isascii()
        else len(unicodedata.normalize("NFC", name)) > limit and name_length(name) > limit
    )


# What word processors ("smart quotes"), macOS and some MIS exports write for the apostrophe and the hyphen on a
# keyboard, with the keyboard's character each stands for: another character, so a name holding one is not the name
# registered with the keyboard's (decision 0167), and RV004 cannot say which detail differs (decision 0157).
_KEYBOARD_CHARACTER = {
    "\u2018": "'",  # LEFT SINGLE QUOTATION MARK
    "\u2019": "'",  # RIGHT SINGLE QUOTATION MARK, the "smart" apostrophe
    "\u02bc": "'",  # MODIFIER LETTER APOSTROPHE
    "`": "'",  # GRAVE ACCENT
    "\u00b4": "'",  # ACUTE ACCENT
    "\u2010": "-",  # HYPHEN
    "\u2011": "-",  # NON-BREAKING HYPHEN
    "\u2013": "-",  # EN DASH
}
_NOT_ON_A_KEYBOARD = re.compile("[" + "".join(_KEYBOARD_CHARACTER) + "]")


def typographic_in_name(label: str, name: str | None) -> str | None:
    """What `label` ("The family name") says of a name written with a typographic apostrophe or hyphen instead of the
    keyboard's ("The family name is written with <U+2019> (U+2019), not the ' on a keyboard: if the learner is registered
    with ', write that."), or None for a name with none. Said from the name alone, whatever the registry holds:
    it reveals nothing of the learner registered (decision 0157)."""
    if name is None or _NOT_ON_A_KEYBOARD.search(name) is None:
        return None
    written = list(dict.fromkeys(_NOT_ON_A_KEYBOARD.findall(name)))
    keys = list(dict.fromkeys(_KEYBOARD_CHARACTER[character] for character in written))
    shown = " and ".join(f"{character} (U+{ord(character):04X})" for character in written)
    meant = " and ".join(keys)
    return (
        f"{label} is written with {shown}, not the {meant} on a keyboard: if the learner is registered with {meant},"
        f" write {'that' if len(keys) == 1 else 'those'}."
    )


# What a UTF-8 file opened as Windows-1252 shows for a letter of two bytes (Siân as SiÃ¢n, Zoë as ZoÃ«, Ó as Ã“)
# or of three (U+2019 as â€ and a third character): Ã or Â before the character Windows-1252 has for the letter's second byte (U+0080-U+00BF,
# or its punctuation and letters at 0x80-0x9F), or â€. Saved again as UTF-8, such a name is valid text, and no name.
_READ_AS_WINDOWS_1252 = re.compile(
    "[\u00c2\u00c3][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018"
    "\u2019\u201a\u201c\u201d\u201e\u2020\u2021\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]|\u00e2\u20ac"
)


def garbled_in_name(label: str, name: str | None) -> str | None:
    """What `label` ("The family name") says of a name whose letters look garbled by a UTF-8 file opened as
    Windows-1252 (Excel opens a CSV file without a byte order mark so), or None. Said from the name alone, which it
    never repeats (decision 0157)."""
    if name is None or name.isascii() or _READ_AS_WINDOWS_1252.search(name) is None:
        return None
    return (
        f"{label} looks like a UTF-8 file opened as Windows-1252 (Siân shown as SiÃ¢n): open the original file in"
        " Excel with Data > From Text/CSV, File origin '65001: Unicode (UTF-8)', then save it as CSV UTF-8."
    )
