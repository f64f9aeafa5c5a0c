"""The learner registry's log, `lrs.learner.events.v1` (key: ULN).

A learner's personal data (names, date of birth, gender) travels sealed under that learner's key
(`lrs_platform.keyring`, decision 0080): erasing the learner destroys the key, and every copy of these
events, in any segment or backup, is then unreadable. Only `LearnerRegisteredV1`, written before
sealing existed, carries them in clear.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import IntEnum
from typing import Literal

from pydantic import Field

from lrs_contracts.envelope import Contract
from lrs_contracts.identifiers import UKPRN_PATTERN, ULN_PATTERN


class AbilityToShare(IntEnum):
    """Whether the learner lets their PLR be shared: 0 privacy notice not seen, 1 seen and shares, 2 seen and unable
    to share (a provider's read is refused; the learner and the AO that uploaded an achievement still see it)."""

    NOT_SEEN = 0
    SHARES = 1
    UNABLE_TO_SHARE = 2


class LearnerRegisteredV1(Contract):
    """lrs.learner.registered.v1 — registered, or details replaced (same ULN); personal data in clear.

    No longer written (`LearnerRegistered` replaced it); read so that an older log still replays.
    """

    event_type: Literal["lrs.learner.registered.v1"] = "lrs.learner.registered.v1"
    uln: str = Field(pattern=ULN_PATTERN)
    given_name: str = Field(min_length=1, max_length=35)
    family_name: str = Field(min_length=1, max_length=35)
    date_of_birth: date | None = None
    gender: int = Field(default=0, description="0 not known, 1 male, 2 female, 9 not specified")
    ability_to_share: AbilityToShare = AbilityToShare.NOT_SEEN


class LearnerRegistered(Contract):
    """lrs.learner.registered.v2 — registered, or details replaced (same ULN).

    `personal` is the sealed JSON object {given_name, family_name, date_of_birth (ISO date or null),
    gender}, under this learner's key with the purpose `learner-registration`.
    """

    event_type: Literal["lrs.learner.registered.v2"] = "lrs.learner.registered.v2"
    uln: str = Field(pattern=ULN_PATTERN)
    personal: str = Field(description="sealed personal details (lrs_platform.keyring), unreadable once erased")
    ability_to_share: AbilityToShare = AbilityToShare.NOT_SEEN


class LearnerErased(Contract):
    """lrs.learner.erased.v1 — the learner's key was destroyed: every projection forgets their personal data.

    The reason stays in the registry's audit, not on the log (it may itself name the learner). A reader drops
    `subject` and `provider_name` of the learner's centre reports (`lrs.centre.achievement.reported.v1` with this
    `uln`), as the PLR does.
    """

    event_type: Literal["lrs.learner.erased.v1"] = "lrs.learner.erased.v1"
    uln: str = Field(pattern=ULN_PATTERN)
    erasure_id: uuid.UUID
    erased_by: str = Field(description="the operator principal, e.g. operator:dpo")
    erased_at: datetime


class LearnerSharingChanged(Contract):
    """lrs.learner.sharing.changed.v1 — a learner's ability to share changed (the learner, a linked provider or an
    operator changed it).
    """

    event_type: Literal["lrs.learner.sharing.changed.v1"] = "lrs.learner.sharing.changed.v1"
    uln: str = Field(pattern=ULN_PATTERN)
    ability_to_share: AbilityToShare


class LearnersMerged(Contract):
    """lrs.learner.merged.v1 — `merged_uln` is now an alias of `master_uln`. Keyed by the master ULN."""

    event_type: Literal["lrs.learner.merged.v1"] = "lrs.learner.merged.v1"
    master_uln: str = Field(pattern=ULN_PATTERN)
    merged_uln: str = Field(pattern=ULN_PATTERN)


class LearnerProviderLinked(Contract):
    """lrs.learner.provider.linked.v1 — a learning provider is linked to the learner (decision 0121).

    A provider is linked when it registers the learner or an operator links it (announced again when an
    operator links it again). A linked provider reads the learner's PLR while they share, reports centre
    achievements for them and changes their ability to share. A link ends only as `LearnerProviderUnlinked` says.
    """

    event_type: Literal["lrs.learner.provider.linked.v1"] = "lrs.learner.provider.linked.v1"
    uln: str = Field(pattern=ULN_PATTERN)
    provider_ukprn: str = Field(pattern=UKPRN_PATTERN)


class LearnerProviderUnlinked(Contract):
    """lrs.learner.provider.unlinked.v1 — a provider's link to the learner under this ULN ended (decision 0121 and
    its later notes).

    A link ends in one of two ways. An operator ended it (`lrs learners unlink`), whoever made it: the provider's
    links under every ULN of the learner end, each announced by one of these. Or the link was made by the provider's
    own registration of the ULN, and an operator's learner file has since replaced the names or date of birth it
    registered, or an operator merged the ULN into a learner registered under other details: the ULN is the learner
    the register names, perhaps not the one the provider registered (links an operator made are not ended this way).
    Either way the provider no longer reads the learner's PLR, changes their sharing or reports for them, and the
    centre reports it made for them (under any of their ULNs) are no longer shown on their PLR while it is linked to
    none of their ULNs. An operator links the provider again (`LearnerProviderLinked`) if the learner is truly
    theirs, and its reports are shown again.
    """

    event_type: Literal["lrs.learner.provider.unlinked.v1"] = "lrs.learner.provider.unlinked.v1"
    uln: str = Field(pattern=ULN_PATTERN)
    provider_ukprn: str = Field(pattern=UKPRN_PATTERN)


LEARNER_EVENTS = (
    LearnerRegisteredV1,
    LearnerRegistered,
    LearnerSharingChanged,
    LearnersMerged,
    LearnerErased,
    LearnerProviderLinked,
    LearnerProviderUnlinked,
)
