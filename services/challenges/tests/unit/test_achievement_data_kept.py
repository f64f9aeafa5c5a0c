"""The rest of a challenged achievement's data (pathway, centre UKPRN, language for assessment, credits): read from
the PLR log alike on the fast path and by the validating decode, folded as the PLR folds it, kept by the challenge
and answered by the API; and challenges raised before it was kept take it once the record has read the log again."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest

from challenges.api import ChallengedAchievementPublic
from challenges.domain import AchievementOnRecord
from challenges.log_follower import PendingChallengeData
from challenges.plr_log import AchievementFacts, AchievementSoFar, record_changes
from lrs_contracts.envelope import Contract
from lrs_contracts.fast_match import achievement_fields
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.consumer import Message

ULN, AO, QAN, AWARDED = "1000000043", "RN5133", "6001166X", date(2024, 5, 20)
KEY = AchievementKey(ao_id=AO, uln=ULN, qualification_number=QAN, award_date=AWARDED)
ACHIEVEMENT = uuid.UUID("66666666-7777-4888-9999-000000000001")
PROVENANCE = Provenance(batch_id=uuid.UUID("11111111-2222-4333-8444-555555555555"), line=1)
DATA = AchievementData(pathway="Higher", grade="7", ukprn="10012345", language_for_assessment="Welsh", credits=12)


def _recorded(data: AchievementData = DATA) -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=ACHIEVEMENT,
        key=KEY,
        data=data,
        status=ResultStatus.FINAL,
        qualification=QualificationSummary(
            title="GCSE Mathematics",
            qualification_type="GCSE (9 to 1)",
            framework="RQF",
            kind="qualification",
            awarding_organisation_name="AQA",
        ),
        provenance=PROVENANCE,
    )


def _updated(data: AchievementData) -> AchievementUpdated:
    return AchievementUpdated(
        achievement_id=ACHIEVEMENT, key=KEY, data=data, status=ResultStatus.FINAL, provenance=PROVENANCE
    )


def _message(payload: Contract, offset: int, *, fast: bool) -> Message:
    value = encode(wrap(payload, source="tests", correlation_id="tests"))
    if fast:
        assert achievement_fields(value) is not None, "written as validation writes it: read on the fast path"
    else:  # the same event spelt otherwise: read by the validating decode
        value = json.dumps(json.loads(value), indent=1).encode()
        assert achievement_fields(value) is None
    return Message(PLR_EVENTS.name, 0, offset, ULN.encode(), value)


def _kept(
    *payloads: Contract, fast: bool, on_record: dict[uuid.UUID, AchievementSoFar] | None = None
) -> AchievementFacts:
    messages = [_message(payload, offset, fast=fast) for offset, payload in enumerate(payloads)]
    return record_changes(messages, on_record).achievements[ACHIEVEMENT]


@pytest.mark.parametrize("fast", [True, False])
def test_a_recording_keeps_the_pathway_centre_language_and_credits_on_either_path(fast: bool) -> None:
    facts = _kept(_recorded(), fast=fast)

    assert (facts.pathway, facts.grade, facts.ukprn, facts.language_for_assessment, facts.credits) == (
        "Higher",
        "7",
        "10012345",
        "Welsh",
        12,
    )
    none_given = _kept(_recorded(AchievementData(grade="7")), fast=fast)
    assert (none_given.pathway, none_given.ukprn, none_given.language_for_assessment, none_given.credits) == (
        (None,) * 4
    )


@pytest.mark.parametrize("fast", [True, False])
def test_an_update_of_the_centre_alone_is_kept_and_one_that_removes_it_too(fast: bool) -> None:
    """The grade is not all of the data: an update that changes only the UKPRN or language changes the record, as
    it changes the PLR (the fold compares the whole of the data)."""
    on_record = {
        ACHIEVEMENT: AchievementSoFar(ResultStatus.FINAL, False, "7", "Higher", "10012345", "Welsh", 12),
    }
    moved = DATA.model_copy(update={"ukprn": "10099999"})
    removed = DATA.model_copy(update={"ukprn": None, "language_for_assessment": None})

    assert _kept(_updated(moved), fast=fast, on_record=on_record).ukprn == "10099999"
    gone = _kept(_updated(removed), fast=fast, on_record=on_record)
    assert (gone.grade, gone.ukprn, gone.language_for_assessment, gone.pathway) == ("7", None, None, "Higher")
    # the same data again changes nothing
    assert not record_changes([_message(_updated(DATA), 0, fast=fast)], on_record).achievements


@pytest.mark.parametrize("fast", [True, False])
def test_a_withdrawal_leaves_the_data_as_it_was(fast: bool) -> None:
    withdrawal = AchievementWithdrawn(achievement_id=ACHIEVEMENT, key=KEY, provenance=PROVENANCE)

    same_poll = _kept(_recorded(), withdrawal, fast=fast)
    alone = _kept(withdrawal, fast=fast, on_record={ACHIEVEMENT: AchievementSoFar(ResultStatus.FINAL, False, "7")})

    assert (same_poll.withdrawn, same_poll.grade, same_poll.ukprn, same_poll.credits) == (True, "7", "10012345", 12)
    assert (alone.withdrawn, alone.grade, alone.pathway, alone.ukprn) == (True, None, None, None), "as it was"


def test_a_challenge_describes_the_data_and_the_api_names_the_centre_as_the_plr_does() -> None:
    on_record = AchievementOnRecord(
        ACHIEVEMENT, ULN, AO, False, QAN, AWARDED, "7", "GCSE Mathematics", ResultStatus.FINAL, "Higher", "10012345",
        "Welsh", 12,
    )  # fmt: skip

    described = on_record.described()
    assert described is not None
    shown = ChallengedAchievementPublic.of(described)

    assert shown is not None
    assert shown.model_dump(
        include={"pathway", "achievement_provider_ukprn", "language_for_assessment", "credits"}
    ) == {
        "pathway": "Higher",
        "achievement_provider_ukprn": "10012345",
        "language_for_assessment": "Welsh",
        "credits": 12,
    }


class _Record:
    def __init__(self, positions: dict[tuple[str, int], int], pending: bool = True) -> None:
        self.applied = positions
        self.pending = pending
        self.fills = 0

    async def challenges_data_pending(self) -> bool:
        return self.pending

    async def positions(self) -> dict[tuple[str, int], int]:
        return self.applied

    async def fill_challenges_data(self) -> int:
        self.fills += 1
        self.pending = False
        return 1


class _Ends:
    def __init__(self, ends: dict[tuple[str, int], int]) -> None:
        self.ends = ends
        self.asked = 0

    async def now(self) -> dict[tuple[str, int], int]:
        self.asked += 1
        return dict(self.ends)


async def test_challenges_raised_before_are_filled_once_the_record_has_read_the_log_as_it_was_at_the_start() -> None:
    record, ends = _Record({}), _Ends({(PLR_EVENTS.name, 0): 5})
    filler = PendingChallengeData(record, ends)  # type: ignore[arg-type]

    assert not await filler.fill_once()  # re-reading from the beginning: nothing applied yet
    record.applied = {(PLR_EVENTS.name, 0): 4}
    ends.ends = {(PLR_EVENTS.name, 0): 9}  # the log grew meanwhile: the log as it was at the start is the target
    assert not await filler.fill_once()
    record.applied = {(PLR_EVENTS.name, 0): 5}
    assert await filler.fill_once()
    assert await filler.fill_once()

    assert (record.fills, ends.asked) == (1, 1)


async def test_nothing_is_asked_of_the_log_when_no_challenge_waits() -> None:
    record, ends = _Record({}, pending=False), _Ends({(PLR_EVENTS.name, 0): 5})

    assert await PendingChallengeData(record, ends).fill_once()  # type: ignore[arg-type]
    assert (record.fills, ends.asked) == (0, 0)


def test_the_record_rows_carry_the_data_in_the_columns_of_migration_0012() -> None:
    facts = AchievementFacts(ACHIEVEMENT, ULN, AO, False, QAN, AWARDED, "7", "GCSE", "Higher", "10012345", "Welsh", 12)
    assert facts._fields[-4:] == ("pathway", "ukprn", "language_for_assessment", "credits")
    assert facts.data() == ("Higher", "7", "10012345", "Welsh", 12)
