"""Event Data Challenges: a state machine, pure but for sealing. `decide` functions return events; `evolve` applies
them.

A challenge reports a data error on a PLR achievement (DOMAIN.md §5 rule 13); it is not an appeal
against a result. raised → acknowledged → resolved, or raised → resolved; resolved is final. The learner who raised
it may withdraw it while it is open (`withdraw`): it is resolved `withdrawn`, a resolution the AO never gives
(decision 0194). A learner challenges only an achievement the PLR log puts on their own record, and the AO is the
one that recorded it (`challenge_target`). A challenge resolved as corrected names the batch that corrected it:
one that put an event of the same learner's achievement of the same qualification on the log after the
challenge was raised (`correction`, decision 0142). One resolved as upheld (the data is right) or rejected
(not a data error) says why in a note the learner reads (`resolve`): they are told nothing else. An erased learner's
challenge needs none: no note is kept for them, and no one would read it.

The learner's reason and the AO's note may name the learner: on the log they are sealed under the
learner's key (decision 0080), and a challenge row keeps them in clear only until the learner is
erased (`erased`). An erased learner raises nothing more.

Sealing is what is not pure here: `raise_challenge` and `resolve` seal the text with the learner's key
(`lrs_platform.keyring.LearnerKey.seal_text`) and a random nonce, so the same command twice gives events whose
`reason_sealed`/`note_sealed` differ (everything else is the same). The key is looked up at the edge and passed in:
nothing here reads a clock or a database, or sends anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from lrs_contracts.challenge import (
    CHALLENGE_EVENTS,
    ChallengeAcknowledged,
    ChallengedAchievement,
    ChallengeRaised,
    ChallengeResolution,
    ChallengeResolved,
)
from lrs_contracts.envelope import deterministic_id
from lrs_contracts.plr import ResultStatus
from lrs_contracts.registry import event_type_of
from lrs_contracts.text import has_visible_text
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.keyring import Erased, LearnerKey, Purpose
from lrs_platform.paging import PagePosition, split_page

ChallengeEvent = ChallengeRaised | ChallengeAcknowledged | ChallengeResolved


class ChallengeState(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class InvalidTransition(Exception):
    def __init__(self, state: ChallengeState, action: str) -> None:
        article = "an" if state.value[0] in "aeiou" else "a"
        super().__init__(f"{article.capitalize()} {state.value} challenge cannot be {action}.")
        self.state = state
        self.action = action


@dataclass(frozen=True)
class Challenge:
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str
    uln: str
    reason: str | None  # None once the learner's personal data is erased
    state: ChallengeState
    raised_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    acknowledged_by: str | None = None  # the principal that acknowledged it: the AO, or an operator for it
    resolved_by: str | None = None
    # the id of the API key each of them used (`Principal.key_id`; a portal user's: their session key), as a batch
    # keeps `submitted_with_key`: None when unknown (before this was kept, or restored from the log, which has no key)
    acknowledged_with_key: str | None = None
    resolved_with_key: str | None = None
    resolution: ChallengeResolution | None = None
    note: str | None = None
    personal_data_erased: bool = False
    achievement: ChallengedAchievement | None = None  # None: raised before the record kept these facts
    correcting_batch_id: uuid.UUID | None = None


OPEN_STATES = frozenset((ChallengeState.RAISED, ChallengeState.ACKNOWLEDGED))


@dataclass(frozen=True)
class ChallengeQuery:
    """Which challenges to list: each filter given narrows the list (any of its values matches), and a
    page holds at most `limit`, newest first, starting after `after`. `ulns` are the ULNs of the learner who
    raised them; with `ulns_as_recorded` too those the challenged achievements were recorded under (an AO
    knows an achievement by the ULN it recorded it under, which a merge does not change: decision 0162)."""

    states: frozenset[ChallengeState] | None = None
    ao_id: str | None = None
    ulns: frozenset[str] | None = None
    ulns_as_recorded: bool = False
    after: PagePosition | None = None
    limit: int = 100


@dataclass(frozen=True)
class ChallengePage:
    challenges: list[Challenge]
    next: PagePosition | None  # where the next page starts; None when this page is the list's last

    @staticmethod
    def of(found: list[Challenge], limit: int) -> ChallengePage:
        """The first `limit` of `found`, read one beyond a page to tell whether another follows."""
        return ChallengePage(*split_page(found, limit, lambda last: PagePosition(last.raised_at, last.challenge_id)))


def within_reach(
    query: ChallengeQuery, principal: Principal, learner_ulns: Collection[str] = ()
) -> ChallengeQuery | None:
    """The query narrowed to what the principal may see: an AO its own achievements' challenges, a learner
    the ones they raised under any of their ULNs (`learner_ulns`: a merged learner is one person, so any of
    their ULNs asked for means all of them), an operator anyone's; None when a filter asks for what it may not
    see. An AO's ULNs find a challenge by the ULN it recorded the achievement under as well as by the one that
    raised it, and so does any other ULN of the learners they name (`learner_ulns`, for an AO): a challenge keeps
    the ULNs it was raised and recorded under when their learner is merged later (decision 0162). It finds only
    its own challenges, on achievements it recorded, so it learns of a merge only where it recorded something, as
    on the PLR."""
    if principal.kind is PrincipalKind.AO:
        if query.ao_id not in (None, principal.id):
            return None
        if query.ulns is None:
            return replace(query, ao_id=principal.id)
        return replace(query, ao_id=principal.id, ulns=query.ulns | frozenset(learner_ulns), ulns_as_recorded=True)
    if principal.kind is PrincipalKind.LEARNER:
        own = frozenset((principal.id, *learner_ulns))
        if query.ulns is not None and not query.ulns <= own:
            return None
        return replace(query, ulns=own)
    return query


@dataclass(frozen=True)
class AchievementOnRecord:
    """An achievement as the PLR log has it: the ULN it was recorded under and the AO that recorded it."""

    achievement_id: uuid.UUID
    uln: str
    ao_id: str
    withdrawn: bool
    qualification_number: str | None = None
    award_date: date | None = None
    grade: str | None = None
    title: str | None = None
    status: ResultStatus | None = None  # None: the record has seen no status of it
    pathway: str | None = None
    ukprn: str | None = None  # the centre's, as the PLR event holds it
    language_for_assessment: str | None = None
    credits: int | None = None

    def described(self) -> ChallengedAchievement | None:
        """What a person recognises it by, when the record knows it (Provisional or Final, pathway, centre, language
        for assessment and credits too), and the ULN its AO knows it by."""
        if self.qualification_number is None or self.award_date is None:
            return None
        return ChallengedAchievement(
            qualification_number=self.qualification_number,
            title=self.title,
            award_date=self.award_date,
            grade=self.grade,
            uln=self.uln,
            status=self.status,
            pathway=self.pathway,
            ukprn=self.ukprn,
            language_for_assessment=self.language_for_assessment,
            credits=self.credits,
        )


@dataclass(frozen=True)
class BatchOnRecord:
    """A batch that put an event of an achievement on the PLR log, and when it was decided (its events
    reached the log then: a batch's events are on the log only once it completed)."""

    batch_id: uuid.UUID
    decided_at: datetime


class NoteRequired(Exception):
    """An upheld or rejected resolution without a note that says anything: the learner would not be told why."""

    def __init__(self, resolution: ChallengeResolution) -> None:
        super().__init__(f"a challenge resolved as {resolution.value} says why in its note")
        self.resolution = resolution


class OnlyTheLearnerWithdraws(Exception):
    """The AO (or an operator answering for it) resolving a challenge as `withdrawn`: only the learner who raised it
    withdraws it (`withdraw`)."""


class CorrectingBatchRequired(Exception):
    """A corrected resolution without the batch that corrected the data, or a batch named with another one."""


class CorrectingBatchDoesNotFit(Exception):
    """The batch named did not correct the challenged achievement after the challenge was raised."""

    def __init__(self, batch_id: uuid.UUID, reason: str) -> None:
        super().__init__(f"batch {batch_id}: {reason}")
        self.batch_id = batch_id
        self.reason = reason  # not_for_this_achievement | before_the_challenge


class AchievementNotFound(Exception):
    """Not on the log, or not on the caller's PLR: the two are indistinguishable on purpose."""


class AchievementIsWithdrawn(Exception):
    """The AO withdrew the achievement: it is no longer on the PLR to be challenged. `ao_id`: the AO that withdrew
    it, the one a learner who thinks it wrong turns to; `ao_name`: its name, where the service knows it."""

    def __init__(self, achievement_id: str, ao_id: str, ao_name: str | None = None) -> None:
        super().__init__(achievement_id)
        self.achievement_id = achievement_id
        self.ao_id = ao_id
        self.ao_name = ao_name


class AwardingOrganisationMismatch(Exception):
    """The caller named another AO than the one that recorded the achievement."""


@dataclass(frozen=True)
class RaiseLimit:
    """How often one achievement may be challenged: at most `raises` times within any `window` (its learner, under
    any of their ULNs, is the only one who raises on it), withdrawn challenges included. A learner who raises and
    withdraws in a loop would otherwise send the AO's challenge contact two emails a turn, and add one a turn to the
    AO's MI count of challenges raised (walk report "challenges", finding 1)."""

    raises: int = 3
    window: timedelta = timedelta(hours=24)


class RaisedTooOften(Exception):
    """The achievement was challenged `limit.raises` times within `limit.window` already: no more until `until`, when
    the oldest of those raises leaves the window."""

    def __init__(self, achievement_id: uuid.UUID, limit: RaiseLimit, until: datetime) -> None:
        super().__init__(f"achievement {achievement_id} challenged {limit.raises} times within {limit.window}")
        self.achievement_id = achievement_id
        self.limit = limit
        self.until = until


def raise_allowed(achievement_id: uuid.UUID, limit: RaiseLimit, recent: Collection[datetime], at: datetime) -> None:
    """Whether the achievement may be challenged `at`, given when it was raised before (`recent`: at least the newest
    `limit.raises` of them, any older ones too): RaisedTooOften when `limit.raises` of them fall within the window
    ending `at`, `until` the moment the oldest of those leaves it."""
    within = sorted((raised for raised in recent if raised > at - limit.window), reverse=True)
    if len(within) >= limit.raises:
        raise RaisedTooOften(achievement_id, limit, within[limit.raises - 1] + limit.window)


class LearnerDataErased(Exception):
    """The learner was erased: nothing they say can be kept, so they raise no challenge."""


def challenge_target(
    achievement: AchievementOnRecord | None, learner_ulns: Collection[str], claimed_ao_id: str | None
) -> AchievementOnRecord:
    """The achievement a learner may challenge: on the PLR of one of their ULNs (a merged learner's PLR
    holds every ULN merged into it), not withdrawn, and recorded by the AO they name, if they name one."""
    if achievement is None or achievement.uln not in learner_ulns:
        raise AchievementNotFound(str(achievement.achievement_id) if achievement else "unknown")
    if achievement.withdrawn:
        raise AchievementIsWithdrawn(str(achievement.achievement_id), achievement.ao_id)
    if claimed_ao_id is not None and claimed_ao_id != achievement.ao_id:
        raise AwardingOrganisationMismatch(claimed_ao_id)
    return achievement


def raise_challenge(
    challenge_id: uuid.UUID,
    achievement_id: uuid.UUID,
    ao_id: str,
    uln: str,
    reason: str,
    key: LearnerKey | Erased,
    achievement: ChallengedAchievement | None = None,
) -> ChallengeRaised:
    """`key` is the learner's (`Keyring.issue`): the reason travels sealed under it. `achievement`: what it is,
    as the record has it (for the AO's email and pages)."""
    if not isinstance(key, LearnerKey):
        raise LearnerDataErased(uln)
    return ChallengeRaised(
        challenge_id=challenge_id,
        achievement_id=achievement_id,
        ao_id=ao_id,
        uln=uln,
        reason_sealed=key.seal_text(Purpose.CHALLENGE_REASON, reason),
        achievement=achievement,
    )


def acknowledge(challenge: Challenge) -> ChallengeAcknowledged:
    if challenge.state is not ChallengeState.RAISED:
        raise InvalidTransition(challenge.state, "acknowledged")
    return ChallengeAcknowledged(
        challenge_id=challenge.challenge_id, achievement_id=challenge.achievement_id, ao_id=challenge.ao_id
    )


def correction(
    challenge: Challenge,
    resolution: ChallengeResolution,
    batch_id: uuid.UUID | None,
    touching: BatchOnRecord | None,
) -> uuid.UUID | None:
    """The batch that corrected the challenged data, for a corrected resolution (None for the others).
    `touching`: the named batch as the record knows it to have touched the challenged achievement — an event
    on the log for the same learner (any of their ULNs), AO and qualification — None if it did not. The
    award date may differ: a wrong date is put right by a withdrawal and a new achievement."""
    if resolution is not ChallengeResolution.CORRECTED:
        if batch_id is not None:
            raise CorrectingBatchRequired("only a challenge resolved as corrected names a correcting batch")
        return None
    if batch_id is None:
        raise CorrectingBatchRequired("a challenge resolved as corrected names the batch that corrected the data")
    if touching is None or touching.batch_id != batch_id:
        raise CorrectingBatchDoesNotFit(batch_id, "not_for_this_achievement")
    if touching.decided_at < challenge.raised_at:
        raise CorrectingBatchDoesNotFit(batch_id, "before_the_challenge")
    return batch_id


NOTE_REQUIRED_FOR = frozenset({ChallengeResolution.UPHELD, ChallengeResolution.REJECTED})
"""The resolutions that change nothing on the PLR: the note is all the learner is told of why."""


def resolve(
    challenge: Challenge,
    resolution: ChallengeResolution,
    note: str | None,
    key: LearnerKey | Erased | None = None,
    correcting_batch_id: uuid.UUID | None = None,
) -> ChallengeResolved:
    """The note travels sealed under the learner's `key` (needed with a note); an erased learner's
    challenge is resolved without it. Upheld or rejected needs a note with something in it (`NoteRequired`): it
    is the learner's only answer. Not for an erased learner: their keys are gone, so no note is kept or read.
    `correcting_batch_id`: what `correction` found, for the log's readers. Not `withdrawn`: only the learner
    withdraws (`withdraw`; `OnlyTheLearnerWithdraws`)."""
    if resolution is ChallengeResolution.WITHDRAWN:
        raise OnlyTheLearnerWithdraws(str(challenge.challenge_id))
    if challenge.state is ChallengeState.RESOLVED:
        raise InvalidTransition(challenge.state, "resolved")
    if resolution in NOTE_REQUIRED_FOR and not challenge.personal_data_erased and not has_visible_text(note):
        raise NoteRequired(resolution)
    sealed = None
    if note is not None and isinstance(key, LearnerKey) and not challenge.personal_data_erased:
        sealed = key.seal_text(Purpose.CHALLENGE_NOTE, note)
    return ChallengeResolved(
        challenge_id=challenge.challenge_id,
        achievement_id=challenge.achievement_id,
        ao_id=challenge.ao_id,
        resolution=resolution,
        uln=challenge.uln,
        note_sealed=sealed,
        correcting_batch_id=correcting_batch_id,
    )


def withdraw(challenge: Challenge) -> ChallengeResolved:
    """The learner who raised it takes back an open challenge (raised by mistake, or an appeal sent as a data error):
    it ends as `withdrawn`, with no note (nothing is told the learner that they did not say themselves) and no batch,
    and the achievement may be challenged again (decision 0194). A resolved one, withdrawn already included, is not
    withdrawn again."""
    if challenge.state is ChallengeState.RESOLVED:
        raise InvalidTransition(challenge.state, "withdrawn")
    return ChallengeResolved(
        challenge_id=challenge.challenge_id,
        achievement_id=challenge.achievement_id,
        ao_id=challenge.ao_id,
        resolution=ChallengeResolution.WITHDRAWN,
        uln=challenge.uln,
    )


def evolve(
    challenge: Challenge | None, event: ChallengeEvent, at: datetime, key: LearnerKey | Erased | None = None
) -> Challenge:
    """`key` opens the texts a raise or a resolution carries sealed (the learner's, from the keyring)."""
    if isinstance(event, ChallengeRaised):
        if not isinstance(key, LearnerKey):
            raise LearnerDataErased(event.uln)
        return Challenge(
            challenge_id=event.challenge_id,
            achievement_id=event.achievement_id,
            ao_id=event.ao_id,
            uln=event.uln,
            reason=key.open_text(Purpose.CHALLENGE_REASON, event.reason_sealed),
            state=ChallengeState.RAISED,
            raised_at=at,
            achievement=event.achievement,
        )
    assert challenge is not None, "only a raise starts a challenge"
    if isinstance(event, ChallengeAcknowledged):
        return replace(challenge, state=ChallengeState.ACKNOWLEDGED, acknowledged_at=at)
    note = (
        key.open_text(Purpose.CHALLENGE_NOTE, event.note_sealed)
        if event.note_sealed is not None and isinstance(key, LearnerKey) and not challenge.personal_data_erased
        else None
    )
    return replace(
        challenge,
        state=ChallengeState.RESOLVED,
        resolved_at=at,
        resolution=event.resolution,
        note=note,
        correcting_batch_id=event.correcting_batch_id,
    )


def event_id_of(event: ChallengeEvent) -> uuid.UUID:
    """Each challenge has at most one event of each type, so (challenge, type) names it for good."""
    return deterministic_id("lrs.challenge", event.challenge_id, event.event_type)


def event_ids_of(challenge_id: uuid.UUID) -> list[uuid.UUID]:
    """The ids of every event a challenge may have written, in any version of the contracts."""
    return [deterministic_id("lrs.challenge", challenge_id, event_type_of(model)) for model in CHALLENGE_EVENTS]


def visible_to(challenge: Challenge, principal: Principal, learner_ulns: Collection[str] = ()) -> bool:
    """`learner_ulns`: every ULN of a learner principal (a merged learner sees what any of them raised)."""
    if principal.kind is PrincipalKind.OPERATOR:
        return True
    if principal.kind is PrincipalKind.AO:
        return principal.id == challenge.ao_id
    if principal.kind is PrincipalKind.LEARNER:
        return challenge.uln == principal.id or challenge.uln in learner_ulns
    return False


def may_withdraw(challenge: Challenge, principal: Principal, learner_ulns: Collection[str] = ()) -> bool:
    """The learner who raised it, under any of their ULNs (`learner_ulns`, as `visible_to` reads), and an operator
    acting for them; never the AO, whose answers are resolutions."""
    if principal.kind is PrincipalKind.AO:
        return False
    return visible_to(challenge, principal, learner_ulns)


def may_manage(challenge: Challenge, principal: Principal) -> bool:
    """Only the AO that owns the achievement (or an operator) acknowledges and resolves."""
    if principal.kind is PrincipalKind.OPERATOR:
        return True
    return principal.kind is PrincipalKind.AO and principal.id == challenge.ao_id
