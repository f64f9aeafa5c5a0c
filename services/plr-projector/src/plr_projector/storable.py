"""Whether the read model's columns can hold an event's values: a pure check, no I/O.

The PLR log's contracts allow values that PostgreSQL refuses in the columns the projection writes
them to (`migrations/0001_plr.sql`, `0003_applied_lines.sql`): an `int` is unbounded, but `credits`
and a history's or a mark's `line` are `integer` columns (-2**31 to 2**31 - 1); a `str` may hold NUL
(U+0000), which no `text` column holds, or a lone surrogate (U+D800 to U+DFFF), which has no UTF-8
form to send (the JSON decoders refuse one already; checked all the same). Such an event would fail
its batch's write. `project_batch` parks it instead, before anything is written, with
`why_unstorable`'s words (which field and why, never its value), so the live projection and a
rebuild park the same event the same way. The decision depends on the event alone, whatever the
achievement it meets: one that would change nothing is parked all the same.

Only the values the projection writes are checked: the challenge topic's `reason`, a centre report's
qualification number as sent (the normalised one is written) or a record's `mis_identifier` are
not. The learner topic's written values are ULNs and UKPRNs, digits by their contracts' patterns,
and an enum: nothing to check.

The plain paths (the live `decode_plain_achievements`, the rebuild's `_fold_plain`) check the
integers themselves and leave to `project_batch` every record whose JSON may spell NUL or a
surrogate (`may_spell_unstorable`): only an escape can (a raw control character is not JSON, and the
decoders refuse it), and an escape is rare in what validation writes (UTF-8 as it is).
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from typing import Any

from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeRaisedV1, ChallengeResolved
from lrs_contracts.envelope import Contract
from lrs_contracts.plr import (
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    CentreAchievementReported,
)

INT4_MIN = -(2**31)
INT4_MAX = 2**31 - 1
ESCAPE = b"\\"  # in a record's JSON: the only way to spell what a text column cannot hold

_REFUSED_IN_TEXT = re.compile("[\x00\ud800-\udfff]")

_KEY = ("key.ao_id", "key.uln", "key.qualification_number")
_DATA = ("data.pathway", "data.grade", "data.ukprn", "data.language_for_assessment")
_QUALIFICATION = tuple(
    f"qualification.{name}"
    for name in ("title", "qualification_type", "level", "framework", "kind", "awarding_organisation_name")
)

# Per event type: the text fields and the integer fields the projection writes to the read model.
_WRITTEN: dict[type[Contract], tuple[tuple[str, ...], tuple[str, ...]]] = {
    AchievementRecorded: ((*_KEY, *_DATA, *_QUALIFICATION), ("data.credits", "provenance.line")),
    AchievementUpdated: ((*_KEY, *_DATA), ("data.credits", "provenance.line")),
    AchievementSuperseded: ((*_KEY, *_DATA), ("data.credits", "provenance.line")),
    AchievementWithdrawn: (_KEY, ("provenance.line",)),
    AchievementReinstated: (_KEY, ("provenance.line",)),
    CentreAchievementReported: (("uln", "provider_ukprn", "provider_name", "subject", "grade"), ()),
    ChallengeRaisedV1: (("ao_id",), ()),
    ChallengeRaised: (("ao_id",), ()),
    ChallengeAcknowledged: (("ao_id",), ()),
    ChallengeResolved: (("ao_id",), ()),
}

_Getters = tuple[tuple[str, Callable[[Contract], Any]], ...]
_GETTERS: dict[type[Contract], tuple[_Getters, _Getters]] = {
    model: (
        tuple((name, operator.attrgetter(name)) for name in texts),
        tuple((name, operator.attrgetter(name)) for name in integers),
    )
    for model, (texts, integers) in _WRITTEN.items()
}


def may_spell_unstorable(raw: bytes) -> bool:
    """Whether a record's JSON holding a backslash (`ESCAPE`, which the plain paths look for first: one
    search of the bytes) may spell NUL or a surrogate: a \\u0000 or \\uD800-\\uDFFF escape."""
    return b"\\u0000" in raw or b"\\ud" in raw or b"\\uD" in raw


def refused_in_text(value: str) -> str | None:
    """What in `value` no text column can hold ("NUL (U+0000) at character 2"), or None."""
    found = _REFUSED_IN_TEXT.search(value)
    if found is None:
        return None
    character = found.group()
    if character == "\x00":
        return f"NUL (U+0000) at character {found.start() + 1}, which a PostgreSQL text column cannot hold"
    return f"a lone surrogate (U+{ord(character):04X}) at character {found.start() + 1}, which has no UTF-8 form"


def why_unstorable(payload: Contract) -> str | None:
    """Why the read model cannot hold what `payload` would write to it, naming the field (never its
    value), or None when it can."""
    found = _first_unstorable(payload)
    return None if found is None else found[1]


def unstorable_field(payload: Contract) -> str | None:
    """The field (`provenance.line`, `key.ao_id`) `why_unstorable` names, or None: what an operator's corrected
    copy of the parked event may mend, though its contract accepted it."""
    found = _first_unstorable(payload)
    return None if found is None else found[0]


def refused_anywhere(document: object) -> str | None:
    """Where in any text of `document` (a message read as JSON: names, values, the envelope's and the payload's,
    written to the read model or not, such as a record's `mis_identifier`) is what no text column holds, naming the
    field ("data.provenance.mis_identifier holds NUL (U+0000) at character 4, ...") or None. An operator's corrected
    copy is kept for good and read back as PostgreSQL's `jsonb`, which refuses a `\\u0000` escape and a lone
    surrogate as a text column does, so a copy must hold neither anywhere."""
    return _refused_in(document, ())


def repeated_name(value: bytes) -> str | None:
    """A name an object of the JSON `value` gives twice (the first such), or None. Python keeps the last of them and
    PostgreSQL's `jsonb` the last too, but `jsonb` reads every one first: a NUL in the one Python dropped would make
    the stored copy unreadable to PostgreSQL all the same."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        names = [name for name, _ in items]
        repeated.extend(name for index, name in enumerate(names) if name in names[:index])
        return dict(items)

    json.loads(value, object_pairs_hook=pairs)
    return repeated[0] if repeated else None


def _refused_in(value: object, path: tuple[str, ...]) -> str | None:
    if isinstance(value, str):
        refused = refused_in_text(value)
        return None if refused is None else f"{'.'.join(path)} holds {refused}"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for name, item in items:
        if (found := _refused_in(str(name), (*path, "(a name)"))) is not None:
            return found
        if (found := _refused_in(item, (*path, str(name)))) is not None:
            return found
    return None


def _first_unstorable(payload: Contract) -> tuple[str, str] | None:
    getters = _GETTERS.get(type(payload))
    if getters is None:
        return None
    texts, integers = getters
    for name, get in integers:
        number = get(payload)
        if number is not None and not INT4_MIN <= number <= INT4_MAX:
            # (no bounds quoted: ten digits read as a ULN to the logs' masking)
            return name, f"unstorable: {name} does not fit its column, a 32-bit integer"
    for name, get in texts:
        text = get(payload)
        if text is not None and (refused := refused_in_text(text)) is not None:
            return name, f"unstorable: {name} holds {refused}"
    return None
