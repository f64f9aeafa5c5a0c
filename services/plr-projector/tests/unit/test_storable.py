"""An event whose values the read model's columns cannot hold (an integer beyond `integer`, NUL or a
lone surrogate in text) is parked by the projection before anything is written, the same way on the
live paths and in the rebuild's fold, with words that name the field and never its value."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError
from tests.support.projector import summary

from lrs_contracts.challenge import (
    ChallengeAcknowledged,
    ChallengeRaised,
    ChallengeRaisedV1,
    ChallengeResolution,
    ChallengeResolved,
)
from lrs_contracts.envelope import Contract
from lrs_contracts.learner import (
    LearnerErased,
    LearnerProviderLinked,
    LearnerRegistered,
    LearnerRegisteredV1,
    LearnerSharingChanged,
    LearnersMerged,
)
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    CentreAchievementReported,
    Provenance,
    ResultStatus,
)
from lrs_contracts.registry import wrap
from lrs_contracts.sandpit import SandpitAchievementsErased
from plr_projector.projection import (
    CHALLENGE_TOPIC,
    LEARNER_TOPIC,
    PLR_TOPIC,
    BatchChanges,
    Decoded,
    Message,
    Snapshot,
    decode_message,
    decode_plain_achievements,
    project_batch,
    project_plain,
)
from plr_projector.rebuild import FoldState, Rows
from plr_projector.storable import INT4_MAX, INT4_MIN, why_unstorable

from .log_messages import T0, ULN, achievement_key, consumer_records, event_value, log_message, project, recorded

OTHER_ULN = "1026893096"
THIRD_ULN = "1000000051"
ACHIEVEMENT = uuid.uuid5(uuid.NAMESPACE_URL, ULN)
TOO_BIG = 2**40
LINE_REFUSED = "unstorable: provenance.line does not fit its column, a 32-bit integer"


def _messages(*events: tuple[str, Contract], topic: str = PLR_TOPIC) -> list[Message]:
    return [
        log_message(topic, uln, event_value(payload, offset), offset) for offset, (uln, payload) in enumerate(events)
    ]


# --- the check ----------------------------------------------------------------------------------


@pytest.mark.parametrize("credits", [INT4_MIN, -1, 0, INT4_MAX, None])
def test_credits_an_integer_column_holds_are_storable(credits: int | None) -> None:
    assert why_unstorable(recorded(credits=credits)) is None


@pytest.mark.parametrize("credits", [INT4_MAX + 1, INT4_MIN - 1, TOO_BIG, -TOO_BIG])
def test_credits_beyond_an_integer_column_are_not_and_the_reason_names_the_field_not_the_value(credits: int) -> None:
    reason = why_unstorable(recorded(credits=credits))
    assert reason == "unstorable: data.credits does not fit its column, a 32-bit integer"


def test_a_line_beyond_an_integer_column_is_not_storable() -> None:
    assert why_unstorable(recorded(line=INT4_MAX)) is None
    assert why_unstorable(recorded(line=INT4_MAX + 1)) == LINE_REFUSED
    withdrawn = AchievementWithdrawn(
        achievement_id=ACHIEVEMENT,
        key=achievement_key(),
        provenance=Provenance(batch_id=uuid.UUID(int=7), line=TOO_BIG),
    )
    assert why_unstorable(withdrawn) == LINE_REFUSED


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            recorded(grade="Smith\x00"),
            "unstorable: data.grade holds NUL (U+0000) at character 6, which a PostgreSQL text column cannot hold",
        ),
        (
            recorded(pathway="\udc80Jane"),
            "unstorable: data.pathway holds a lone surrogate (U+DC80) at character 1, which has no UTF-8 form",
        ),
        (
            AchievementRecorded(
                achievement_id=ACHIEVEMENT,
                key=achievement_key(),
                data=AchievementData(grade="7"),
                status=ResultStatus.FINAL,
                qualification=summary(title="GCSE\x00 Mathematics"),
                provenance=Provenance(batch_id=uuid.UUID(int=7), line=1),
            ),
            "unstorable: qualification.title holds NUL (U+0000) at character 5,"
            " which a PostgreSQL text column cannot hold",
        ),
        (
            AchievementUpdated(
                achievement_id=ACHIEVEMENT,
                key=AchievementKey(
                    ao_id="RN\x005133", uln=ULN, qualification_number="6001166X", award_date=date(2024, 5, 20)
                ),
                data=AchievementData(grade="7"),
                status=ResultStatus.FINAL,
                provenance=Provenance(batch_id=uuid.UUID(int=7), line=1),
            ),
            "unstorable: key.ao_id holds NUL (U+0000) at character 3, which a PostgreSQL text column cannot hold",
        ),
        (
            CentreAchievementReported(
                report_id=uuid.UUID(int=2),
                uln=ULN,
                provider_ukprn="10000001",
                qualification_number="6001166X",
                subject="Maths\x00",
            ),
            "unstorable: subject holds NUL (U+0000) at character 6, which a PostgreSQL text column cannot hold",
        ),
        (
            ChallengeAcknowledged(challenge_id=uuid.UUID(int=3), achievement_id=ACHIEVEMENT, ao_id="\x00"),
            "unstorable: ao_id holds NUL (U+0000) at character 1, which a PostgreSQL text column cannot hold",
        ),
    ],
)
def test_text_no_text_column_can_hold_is_not_storable_and_the_reason_quotes_none_of_it(
    event: Contract, reason: str
) -> None:
    assert why_unstorable(event) == reason
    for personal in ("Smith", "Jane", "Mathematics", "Maths"):
        assert personal not in reason


def test_values_the_projection_does_not_write_are_not_checked() -> None:
    mis = recorded().model_copy(
        update={"provenance": Provenance(batch_id=uuid.UUID(int=7), line=1, mis_identifier="MIS\x00")}
    )
    assert why_unstorable(mis) is None
    raised = ChallengeRaisedV1(
        challenge_id=uuid.UUID(int=3), achievement_id=ACHIEVEMENT, ao_id="RN5133", uln=ULN, reason="wrong\x00"
    )
    assert why_unstorable(raised) is None
    # other text: control characters other than NUL, non-characters: PostgreSQL holds them
    assert why_unstorable(recorded(grade="A\x01\ufffe\U0001f600")) is None


# --- every value the projection writes is checked: a property over every event it projects ----------


def _every_projected_event() -> list[tuple[str, Contract]]:
    ids = {"challenge_id": uuid.UUID(int=3), "achievement_id": ACHIEVEMENT, "ao_id": "RN5133"}
    data = AchievementData(grade="7", pathway="P", ukprn="10000001", language_for_assessment="English", credits=10)
    provenance = Provenance(batch_id=uuid.UUID(int=7), line=2, mis_identifier="MIS")
    return [
        (PLR_TOPIC, recorded(pathway="P", ukprn="10000001", language_for_assessment="English", credits=10)),
        (
            PLR_TOPIC,
            AchievementUpdated(
                achievement_id=ACHIEVEMENT,
                key=achievement_key(),
                data=data,
                status=ResultStatus.FINAL,
                provenance=provenance,
            ),
        ),
        (
            PLR_TOPIC,
            AchievementSuperseded(achievement_id=ACHIEVEMENT, key=achievement_key(), data=data, provenance=provenance),
        ),
        (PLR_TOPIC, AchievementWithdrawn(achievement_id=ACHIEVEMENT, key=achievement_key(), provenance=provenance)),
        (PLR_TOPIC, AchievementReinstated(achievement_id=ACHIEVEMENT, key=achievement_key(), provenance=provenance)),
        (
            PLR_TOPIC,
            CentreAchievementReported(
                report_id=uuid.UUID(int=2),
                uln=ULN,
                provider_ukprn="10000001",
                provider_name="College",
                qualification_number="6001166X",
                subject="Maths",
                grade="B",
                award_date=date(2024, 5, 20),
            ),
        ),
        (PLR_TOPIC, SandpitAchievementsErased(reset_id=uuid.UUID(int=5), ao_id="RN5133", uln=ULN)),
        (LEARNER_TOPIC, LearnerRegisteredV1(uln=ULN, given_name="Jane", family_name="Smith")),
        (LEARNER_TOPIC, LearnerRegistered(uln=ULN, personal="s1.sealed")),
        (LEARNER_TOPIC, LearnerSharingChanged(uln=ULN, ability_to_share=1)),
        (LEARNER_TOPIC, LearnersMerged(master_uln=OTHER_ULN, merged_uln=ULN)),
        (LEARNER_TOPIC, LearnerErased(uln=ULN, erasure_id=uuid.UUID(int=6), erased_by="operator:dpo", erased_at=T0)),
        (LEARNER_TOPIC, LearnerProviderLinked(uln=ULN, provider_ukprn="10000001")),
        (CHALLENGE_TOPIC, ChallengeRaisedV1(**ids, uln=ULN, reason="wrong grade")),
        (CHALLENGE_TOPIC, ChallengeRaised(**ids, uln=ULN, reason_sealed="s1.sealed")),
        (CHALLENGE_TOPIC, ChallengeAcknowledged(**ids)),
        (
            CHALLENGE_TOPIC,
            ChallengeResolved(**ids, resolution=ChallengeResolution.UPHELD, uln=ULN, note_sealed="s1.sealed"),
        ),
    ]


def _leaves(document: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(document, dict):
        for name, value in document.items():
            yield from _leaves(value, (*path, name))
    else:
        yield path, document


def _with(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = {**document}
    if len(path) == 1:
        changed[path[0]] = value
    else:
        changed[path[0]] = _with(document[path[0]], path[1:], value)
    return changed


def _written(changes: BatchChanges) -> Iterator[object]:
    """Every value the changes would write to the read model's tables."""
    for rows in (
        changes.achievements.values(),
        changes.history,
        changes.learners.values(),
        changes.links,
        changes.centre.values(),
        changes.challenges.values(),
    ):
        for row in rows:
            yield from dataclasses.astuple(row) if dataclasses.is_dataclass(row) else row
    yield from changes.erased_ulns
    for mark in changes.marks.values():
        yield from mark


def _mutants() -> Iterator[tuple[str, Contract]]:
    """Each projected event with NUL or a lone surrogate added to one of its texts, or one of its integers
    beyond `integer`: every such event its contract takes."""
    for topic, event in _every_projected_event():
        document = event.model_dump(mode="json")
        for path, value in _leaves(document):
            changed: list[Any]
            if isinstance(value, str):
                changed = [value + "\x00", "\ud800" + value]
            elif isinstance(value, int) and not isinstance(value, bool):
                changed = [TOO_BIG, -TOO_BIG]
            else:
                continue
            for bad in changed:
                try:
                    yield topic, type(event).model_validate(_with(document, path, bad))
                except ValidationError:
                    continue  # the contract refuses it (a ULN's pattern, an enum, a bound)


def _unwritable(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= character <= "\udfff" for character in value)
    return isinstance(value, int) and not isinstance(value, bool) and not INT4_MIN <= value <= INT4_MAX


def test_an_event_the_check_passes_writes_only_what_the_columns_hold() -> None:
    mutants = list(_mutants())
    assert len(mutants) > 50
    flagged = 0
    for topic, event in mutants:
        # the achievement it changes is there first (a provisional result), and withdrawn for a reinstatement
        before = [
            recorded(status=ResultStatus.PROVISIONAL, line=1, batch=8),
            AchievementWithdrawn(
                achievement_id=ACHIEVEMENT,
                key=achievement_key(),
                provenance=Provenance(batch_id=uuid.UUID(int=8), line=2),
            ),
        ][: 2 if isinstance(event, AchievementReinstated) else 1]
        decoded = [decode_message(message) for message in _messages(*((ULN, payload) for payload in before))]
        # the event itself, not through JSON (which cannot carry a lone surrogate)
        envelope = wrap(event, source="validation", correlation_id="c", event_id=uuid.UUID(int=5), occurred_at=T0)
        decoded.append(Decoded(Message(topic, 0, 5, ULN.encode(), b"{}", 0), envelope, event, None))
        changes = project_batch(Snapshot(), decoded)
        reason = why_unstorable(event)
        if reason is not None:
            flagged += 1
            assert [parked.error for parked in changes.parked] == [reason]
            continue
        unwritable = [value for value in _written(changes) if _unwritable(value)]
        assert not unwritable, f"{type(event).__name__} writes {unwritable!r} unchecked"
    assert flagged > 20


# --- the projection parks such an event, live and in the rebuild -------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        recorded(credits=TOO_BIG, line=1),
        recorded(grade="A\x00", line=1),
        recorded(line=INT4_MAX + 1),
    ],
)
def test_the_full_path_parks_an_unstorable_event_and_holds_its_learner_behind_it(bad: AchievementRecorded) -> None:
    messages = _messages(
        (ULN, bad),
        (ULN, recorded(line=2, grade="8")),
        (OTHER_ULN, recorded(OTHER_ULN, line=3)),
    )
    changes = project(messages)
    assert [(parked.message.offset, parked.reason) for parked in changes.parked] == [(0, "error"), (1, "blocked")]
    assert (changes.parked[0].error or "").startswith("unstorable: ")
    assert changes.parked[0].event_type == "lrs.achievement.recorded.v1"
    assert {key[0] for key in changes.achievements} == {OTHER_ULN}
    assert not any(_unwritable(value) for value in _written(changes))


def test_the_live_plain_path_leaves_a_batch_with_an_unstorable_event_to_the_full_path() -> None:
    usual = _messages((ULN, recorded()))
    assert decode_plain_achievements(usual, {}, {}) is not None
    for bad in (
        recorded(credits=TOO_BIG),
        recorded(credits=-TOO_BIG),
        recorded(grade="\x00"),
        recorded(line=2**31),
    ):
        messages = [*usual, _messages((OTHER_ULN, bad))[0]._replace(offset=1)]
        assert decode_plain_achievements(messages, {}, {}) is None
    # another escape keeps the plain path; one that only looks like NUL's sends it the full way, which applies it
    assert decode_plain_achievements(_messages((ULN, recorded(grade='"7"\\\x01'))), {}, {}) is not None
    looks_like_nul = _messages((ULN, recorded(grade="\\u0000")))
    assert decode_plain_achievements(looks_like_nul, {}, {}) is None
    assert not project(looks_like_nul).parked
    plain = decode_plain_achievements(usual, {}, {})
    assert plain is not None
    assert project_plain(Snapshot(), plain) is not None


def test_the_rebuilds_fold_parks_what_the_live_projection_parks() -> None:
    messages = _messages(
        (ULN, recorded(credits=TOO_BIG, line=1)),
        (ULN, recorded(line=2, grade="8")),
        (OTHER_ULN, recorded(OTHER_ULN, grade="A\x00", line=3)),
        (THIRD_ULN, recorded(THIRD_ULN, line=INT4_MAX + 1)),
        ("1000000078", recorded("1000000078", line=5, credits=INT4_MAX)),
    )
    live = project(messages)
    state = FoldState({})
    rows = Rows()
    state.fold(consumer_records(messages), rows)
    assert [row[:3] for row in rows.tables["parked"]] == [(PLR_TOPIC, 0, offset) for offset in (0, 1, 2, 3)]
    assert [(row[4], row[5]) for row in rows.tables["parked"]] == [
        (parked.reason, parked.error) for parked in live.parked
    ]
    assert set(state.blocked) == {(PLR_TOPIC, uln) for uln in (ULN, OTHER_ULN, THIRD_ULN)}
    assert (
        list(state.achievements) == list(live.achievements) == [("1000000078", "RN5133", "6001166X", date(2024, 5, 20))]
    )
    assert [tuple(map(str, row)) for row in rows.history] == [tuple(map(str, entry)) for entry in live.history]
