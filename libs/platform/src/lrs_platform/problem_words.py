"""A problem said in words for a person: pure text helpers, without the web stack `lrs_platform.problems` brings
(FastAPI), so that the `lrs` command line, which only reads problems, starts without it."""

from __future__ import annotations

import re


def said_once(title: str, detail: str | None) -> str:
    """A problem in one sentence for a person: "Title: detail", or the detail alone when it says the title already
    (it holds every word of it: "the file has a header but no records" says "The file has no records"). The
    detail's first letter is lowered after the title, unless its first word is a name (`NotificationEmail`, `ULN`).
    """
    detail = (detail or "").strip().rstrip(".")
    if not detail:
        return title
    if detail.lower().startswith(title.lower()) or _words(title) <= _words(detail):
        return detail[:1].upper() + detail[1:]
    first_word = re.match(r"[\w-]+", detail)  # a hyphenated name too: `Idempotency-Key`
    if first_word and any(character.isupper() for character in first_word.group(0)[1:]):
        return f"{title}: {detail}"
    return f"{title}: {detail[:1].lower()}{detail[1:]}"


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))
