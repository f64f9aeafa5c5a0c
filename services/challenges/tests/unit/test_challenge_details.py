"""What a challenge says of its achievement (decision 0183): whether its result was Provisional or Final when the
challenge was raised, as the service's copy of the PLR log had it; the learner's own list describes each achievement
as the AO's does; and an AO's filter of several ULNs learns their learners' ULNs in one statement."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Collection
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from challenges.api import ChallengedAchievementPublic, list_challenges
from challenges.domain import AchievementOnRecord, Challenge, ChallengeQuery, ChallengeState, evolve, raise_challenge
from challenges.plr_log import AchievementSoFar, record_changes
from challenges.record_store import PlrRecord
from challenges.service import ChallengeService
from lrs_contracts.challenge import ChallengedAchievement
from lrs_contracts.envelope import Contract
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.consumer import Message
from lrs_platform.identity import Principal
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey

LEARNER, OTHER_LEARNER, AO = "1000000043", "6936002314", "RN5133"
ACHIEVEMENT = uuid.UUID("66666666-7777-4888-9999-000000000000")
KEY = AchievementKey(ao_id=AO, uln=LEARNER, qualification_number="6001166X", award_date=date(2024, 5, 20))
PROVENANCE = Provenance(batch_id=uuid.UUID("11111111-2222-4333-8444-555555555555"), line=1)


def _recorded(status: ResultStatus) -> AchievementRecorded:
    summary = QualificationSummary(
        title="GCSE Mathematics",
        qualification_type="GCSE (9 to 1)",
        framework="RQF",
        kind="qualification",
        awarding_organisation_name="AQA",
    )
    data = AchievementData(grade="7")
    return AchievementRecorded(
        achievement_id=ACHIEVEMENT, key=KEY, data=data, status=status, qualification=summary, provenance=PROVENANCE
    )


def _message(payload: Contract, offset: int, *, as_validation_writes_it: bool = True) -> Message:
    value = encode(wrap(payload, source="tests", correlation_id="tests"))
    if not as_validation_writes_it:  # the same event spelt otherwise: read by the validating decode
        value = json.dumps(json.loads(value), indent=1).encode()
    return Message(PLR_EVENTS.name, 0, offset, LEARNER.encode(), value)


def _statuses(
    *payloads: Contract, as_validation_writes_it: bool = True, on_record: AchievementSoFar | None = None
) -> dict[uuid.UUID, str]:
    messages = [
        _message(payload, offset, as_validation_writes_it=as_validation_writes_it)
        for offset, payload in enumerate(payloads)
    ]
    return record_changes(messages, {ACHIEVEMENT: on_record} if on_record is not None else None).statuses


def test_the_record_keeps_each_achievements_status_as_the_latest_event_that_says_one() -> None:
    updated = AchievementUpdated(
        achievement_id=ACHIEVEMENT,
        key=KEY,
        data=AchievementData(grade="8"),
        status=ResultStatus.PROVISIONAL,
        provenance=PROVENANCE,
    )
    superseded = AchievementSuperseded(
        achievement_id=ACHIEVEMENT, key=KEY, data=AchievementData(grade="8"), provenance=PROVENANCE
    )
    withdrawn = AchievementWithdrawn(achievement_id=ACHIEVEMENT, key=KEY, provenance=PROVENANCE)
    reinstated = AchievementReinstated(achievement_id=ACHIEVEMENT, key=KEY, provenance=PROVENANCE)

    for fast in (True, False):
        assert _statuses(_recorded(ResultStatus.PROVISIONAL), as_validation_writes_it=fast) == {ACHIEVEMENT: "P"}
        assert _statuses(_recorded(ResultStatus.PROVISIONAL), updated, as_validation_writes_it=fast) == {
            ACHIEVEMENT: "P"
        }
        # a Provisional update of a Final result changes nothing (the domain's fold, DOMAIN rule 3)
        assert _statuses(_recorded(ResultStatus.FINAL), updated, as_validation_writes_it=fast) == {ACHIEVEMENT: "F"}
        # a Final result supersedes the Provisional one; a withdrawal and a reinstatement say no status
        provisional_then_final = (_recorded(ResultStatus.PROVISIONAL), superseded, withdrawn, reinstated)
        assert _statuses(*provisional_then_final, as_validation_writes_it=fast) == {ACHIEVEMENT: "F"}
        live = AchievementSoFar(ResultStatus.FINAL, withdrawn=False, grade="7")
        assert _statuses(withdrawn, reinstated, as_validation_writes_it=fast, on_record=live) == {}


def test_a_challenge_carries_the_status_its_achievement_had_when_it_was_raised_and_shows_it() -> None:
    recorded = AchievementOnRecord(
        ACHIEVEMENT,
        LEARNER,
        AO,
        False,
        "6001166X",
        date(2024, 5, 20),
        "7",
        "GCSE Mathematics",
        ResultStatus.PROVISIONAL,
    )
    key = LearnerKey(LEARNER, secrets.token_bytes(DATA_KEY_BYTES))

    event = raise_challenge(uuid.uuid4(), ACHIEVEMENT, AO, LEARNER, "wrong grade", key, recorded.described())
    shown = ChallengedAchievementPublic.of(evolve(None, event, datetime(2024, 9, 2, tzinfo=UTC), key).achievement)

    assert event.achievement is not None and event.achievement.status is ResultStatus.PROVISIONAL
    assert shown is not None and shown.status is ResultStatus.PROVISIONAL
    older = ChallengedAchievement.model_validate({"qualification_number": "6001166X", "award_date": "2024-08-22"})
    assert older.status is None  # an event written before the status was kept still reads
    assert ChallengedAchievementPublic.of(older) is not None


class _OwnRecord:
    """The challenges service's copy of the merges: every learner has one ULN here."""

    def __init__(self) -> None:
        self.asked: list[Collection[str]] = []

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        self.asked.append((uln,))
        return frozenset({uln})

    async def ulns_of_learners(self, ulns: Collection[str]) -> frozenset[str]:
        self.asked.append(sorted(ulns))
        return frozenset(ulns)

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        return frozenset()


class _Store:
    """Filters as `ChallengeStore` does: the AO, then any ULN raising (or, as recorded, recording) it."""

    def __init__(self, challenges: list[Challenge]) -> None:
        self.challenges = challenges

    async def list(
        self, *, ao_id: str | None = None, ulns: Collection[str] | None = None, ulns_as_recorded: bool = False, **_: Any
    ) -> list[Challenge]:
        def recorded(challenge: Challenge) -> str | None:
            return challenge.achievement.uln if challenge.achievement else None

        return [
            challenge
            for challenge in self.challenges
            if (ao_id is None or challenge.ao_id == ao_id)
            and (ulns is None or challenge.uln in ulns or (ulns_as_recorded and recorded(challenge) in ulns))
        ]

    async def open_counts(self, **filters: Any) -> dict[ChallengeState, int]:
        return {ChallengeState.RAISED: len(await self.list(**filters))}


def _challenge(uln: str, status: ResultStatus) -> Challenge:
    achievement = ChallengedAchievement(
        qualification_number="6001166X",
        title="GCSE Mathematics",
        award_date=date(2024, 8, 22),
        grade="4",
        uln=uln,
        status=status,
    )
    return Challenge(
        uuid.uuid4(),
        uuid.uuid4(),
        AO,
        uln,
        "wrong grade",
        ChallengeState.RAISED,
        datetime.now(UTC),
        achievement=achievement,
    )


async def _held_not_asked(ulns: Collection[str]) -> bool:
    raise AssertionError("only raising a challenge asks whether the learner's events are held")


async def _unused() -> bool:
    raise AssertionError("listing never waits for the record")


async def _listed(service: ChallengeService, principal: Principal) -> list[dict[str, Any]]:
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(challenges=service)))
    page = await list_challenges(principal, request, state=None, ao_id=None, uln=None, after=None, limit=100)  # type: ignore[arg-type]
    return [item.model_dump(mode="json") for item in page.items]


async def test_a_learners_own_list_describes_each_achievement_as_the_aos_does_and_shows_no_one_elses() -> None:
    mine, someone_elses = _challenge(LEARNER, ResultStatus.PROVISIONAL), _challenge(OTHER_LEARNER, ResultStatus.FINAL)
    service = ChallengeService(_Store([mine, someone_elses]), _OwnRecord(), None, _unused, held=_held_not_asked)  # type: ignore[arg-type]

    learners = await _listed(service, Principal.parse(f"learner:{LEARNER}"))
    aos = await _listed(service, Principal.parse(f"ao:{AO}"))

    [item] = learners
    assert item["challenge_id"] == str(mine.challenge_id)
    assert item["achievement"] == {
        "qualification_number": "6001166X",
        "subject_code": "600/1166/X",
        "title": "GCSE Mathematics",
        "award_date": "2024-08-22",
        "grade": "4",
        "uln": LEARNER,
        "status": "P",
        "pathway": None,
        "achievement_provider_ukprn": None,
        "language_for_assessment": None,
        "credits": None,
    }
    [as_the_ao_reads_it] = [shown for shown in aos if shown["challenge_id"] == str(mine.challenge_id)]
    assert item["achievement"] == as_the_ao_reads_it["achievement"]


async def test_an_aos_filter_of_several_ulns_asks_the_record_once() -> None:
    asked = {f"10000000{n:02d}" for n in range(50)}
    record = _OwnRecord()
    service = ChallengeService(_Store([]), record, None, _unused, held=_held_not_asked)  # type: ignore[arg-type]

    await service.list(Principal.parse(f"ao:{AO}"), ChallengeQuery(ulns=frozenset(asked)))
    await service.open_counts(Principal.parse(f"ao:{AO}"), ChallengeQuery(ulns=frozenset(asked)))

    assert record.asked == [sorted(asked), sorted(asked)]


class _CountingPool:
    """A pool that answers each statement with `rows` and counts the statements."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows
        self.statements: list[tuple[str, tuple[object, ...]]] = []

    async def fetch(self, sql: str, *arguments: object) -> list[dict[str, str]]:
        self.statements.append((sql, arguments))
        return self.rows


async def test_the_ulns_of_several_learners_are_read_in_one_statement() -> None:
    asked = {f"10000000{n:02d}" for n in range(50)}
    pool = _CountingPool([{"uln": uln} for uln in (*asked, OTHER_LEARNER)])

    found = await PlrRecord(pool).ulns_of_learners(asked)

    assert found == {*asked, OTHER_LEARNER}
    [(sql, arguments)] = pool.statements
    assert "unnest($1::text[])" in sql and arguments[0] == sorted(asked)
