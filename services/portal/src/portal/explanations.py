"""Every code an AO can meet, in words: what it means (lrs_contracts' titles) and what to do about it.

Both come from `lrs_contracts.codes` (the one catalogue docs/rules.md and every service's /problems pages
are made from). A unit test fails if a code is added to the contracts without its fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lrs_contracts.codes import (
    BATCH_CODE_TITLES,
    CODE_EXPLANATIONS,
    RECORD_CODE_TITLES,
    WARNING_CODE_TITLES,
    BatchCode,
    RecordCode,
    WarningCode,
)


@dataclass(frozen=True)
class Explanation:
    code: str
    title: str
    advice: str

    @property
    def is_warning(self) -> bool:
        return self.code.startswith("WV")

    def advice_at(self, line: int | None, column: int | None) -> str:
        """The advice for a message that points at `line` and `column` (either may be None): a sentence about
        where the message points is said only of what it names."""
        if line is not None and column is not None:
            return self.advice
        kept = []
        for sentence in _SENTENCE_END.split(self.advice):
            if _POINTS_AT.search(sentence):
                if line is None:
                    continue
                # a JSON file's fault inside a record is said of "record N", no column: either may be meant
                sentence = _POINTS_AT.sub("The line or record in the message points at", sentence)
            kept.append(sentence)
        return " ".join(kept)


_SENTENCE_END = re.compile(r"(?<=\.) ")
_POINTS_AT = re.compile(r"The line and column in the message points? at")
# A page of the portal the contracts' advice names by its path: the portal links it (its Sandpit copy in the Sandpit),
# so the path, which is the live one's, is not printed.
_PORTAL_PATH = re.compile(r", /help/[a-z-]+,")


_TITLES: dict[str, str] = {
    code.value: title
    for titles in (BATCH_CODE_TITLES, RECORD_CODE_TITLES, WARNING_CODE_TITLES)
    for code, title in titles.items()
}

ALL_CODES: tuple[str, ...] = (
    *(code.value for code in BatchCode),
    *(code.value for code in RecordCode),
    *(code.value for code in WarningCode),
)


def explain(code: str) -> Explanation:
    known = CODE_EXPLANATIONS.get(code)
    return Explanation(code, _TITLES.get(code, "Unknown code"), _PORTAL_PATH.sub("", known.fix) if known else "")


def missing_advice() -> list[str]:
    return [code for code in ALL_CODES if code not in CODE_EXPLANATIONS or code not in _TITLES]
