"""How a person's name compares and counts (DOMAIN.md §7: trimmed, and case-insensitively), whatever Unicode form
the sender's system wrote it in (decision 0167): "Siân" saved on a Mac (an `a` and a combining circumflex) and on
Windows (one `â`) are the same name, of four characters."""

from __future__ import annotations

import unicodedata


def comparable_name(name: str) -> str:
    """The trimmed name in its canonical caseless form (Unicode §3.13, D145): two names are the same when these are
    equal. Only canonical equivalents meet: a curly apostrophe is not a straight one, nor a full-width letter a
    letter."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name.strip()).casefold())


def name_length(name: str) -> int:
    """A name's characters as a reader counts them: those of its composed form (NFC), so that a combining accent is
    no character of its own."""
    return len(unicodedata.normalize("NFC", name))
