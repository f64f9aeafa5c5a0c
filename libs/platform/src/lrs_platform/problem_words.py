"""A problem said in words for a person: pure text helpers, without the web stack `lrs_platform.problems` brings
(FastAPI), so that the `lrs` command line, which only reads problems, starts without it."""

from __future__ import annotations

import re


def said_once(title: str, detail: str | None) -> str:
    """A problem in one sentence for a person: "Title: detail", or the detail alone when it says the title already
    (it holds every word of it: "the file has a header but no records" says "The file has no records"). The
    detail's first letter is lowered after the title, unless its first word is a name: one with a capital after its
    first letter (`NotificationEmail`, `PostgreSQL`, `ULN`, `AO`, `Idempotency-Key`) or one of `PROPER_NAMES`
    ("Kafka did not take the batch" stays so; "The file …", "A batch …", "Nothing …" are lowered).
    """
    detail = (detail or "").strip().rstrip(".")
    if not detail:
        return title
    if detail.lower().startswith(title.lower()) or _words(title) <= _words(detail):
        return detail[:1].upper() + detail[1:]
    first_word = re.match(r"[\w-]+", detail)  # a hyphenated name too: `Idempotency-Key`
    if first_word and _is_a_name(first_word.group(0)):
        return f"{title}: {detail}"
    return f"{title}: {detail[:1].lower()}{detail[1:]}"


PROPER_NAMES = frozenset(
    {"Kafka", "Ofqual", "Sandpit", "Python", "England", "Wales", "Scotland", "Northern", "English", "Welsh"}
)
"""Names written with a capital and no other (the broker, the regulator, the test service, the nations and languages
a learner's record may name), which a problem's detail may begin with: their capital is kept after a title."""


def _is_a_name(word: str) -> bool:
    return word in PROPER_NAMES or any(character.isupper() for character in word[1:])


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))
