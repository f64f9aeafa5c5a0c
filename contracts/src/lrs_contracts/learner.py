"""The learner registry's log, `lrs.learner.events.v1` (key: ULN).

These events carry personal data by necessity; they never reach a log line.
"""

from __future__ import annotations

from datetime import date
from enum import IntEnum
from typing import Literal

from pydantic import Field

from lrs_contracts.envelope import Contract


class AbilityToShare(IntEnum):
    NOT_SEEN = 0
    SHARES = 1
    UNABLE_TO_SHARE = 2


class LearnerRegistered(Contract):
    """lrs.learner.registered.v1 — registered, or details replaced (same ULN)."""

    event_type: Literal["lrs.learner.registered.v1"] = "lrs.learner.registered.v1"
    uln: str = Field(pattern=r"^[1-9][0-9]{9}$")
    given_name: str = Field(min_length=1, max_length=35)
    family_name: str = Field(min_length=1, max_length=35)
    date_of_birth: date | None = None
    gender: int = Field(default=0, description="0 not known, 1 male, 2 female, 9 not specified")
    ability_to_share: AbilityToShare = AbilityToShare.NOT_SEEN


class LearnerSharingChanged(Contract):
    """lrs.learner.sharing.changed.v1"""

    event_type: Literal["lrs.learner.sharing.changed.v1"] = "lrs.learner.sharing.changed.v1"
    uln: str = Field(pattern=r"^[1-9][0-9]{9}$")
    ability_to_share: AbilityToShare


class LearnersMerged(Contract):
    """lrs.learner.merged.v1 — `merged_uln` is now an alias of `master_uln`. Keyed by the master ULN."""

    event_type: Literal["lrs.learner.merged.v1"] = "lrs.learner.merged.v1"
    master_uln: str = Field(pattern=r"^[1-9][0-9]{9}$")
    merged_uln: str = Field(pattern=r"^[1-9][0-9]{9}$")


LEARNER_EVENTS = (LearnerRegistered, LearnerSharingChanged, LearnersMerged)
