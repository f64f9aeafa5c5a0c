"""Every code an AO can meet, in words: what it means (lrs_contracts' titles) and what to do about it.

Both come from `lrs_contracts.codes` (the one catalogue docs/rules.md and every service's /problems pages
are made from). A unit test fails if a code is added to the contracts without its fix.
"""

from __future__ import annotations

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
    return Explanation(code, _TITLES.get(code, "Unknown code"), known.fix if known else "")


def missing_advice() -> list[str]:
    return [code for code in ALL_CODES if code not in CODE_EXPLANATIONS or code not in _TITLES]
