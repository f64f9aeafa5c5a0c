"""Event Data Challenges: a pure state machine. `decide` functions return events; `evolve` applies them.

A challenge reports a data error on a PLR achievement (DOMAIN.md §5 rule 13); it is not an appeal
against a result. raised → acknowledged → resolved, or raised → resolved; resolved is final. A learner
challenges only an achievement the PLR log puts on their own record, and the AO is the one that
recorded it (`challenge_target`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import deterministic_id
from lrs_platform.identity import Principal, PrincipalKind

ChallengeEvent = ChallengeRaised | ChallengeAcknowledged | ChallengeResolved


class ChallengeState(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class InvalidTransition(Exception):
    def __init__(self, state: ChallengeState, action: str) -> None:
        super().__init__(f"a {state.value} challenge cannot be {action}")
        self.state = state
        self.action = action


@dataclass(frozen=True)
class Challenge:
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str
    uln: str
    reason: str
    state: ChallengeState
    raised_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: ChallengeResolution | None = None
    note: str | None = None


@dataclass(frozen=True)
class AchievementOnRecord:
    """An achievement as the PLR log has it: the ULN it was recorded under and the AO that recorded it."""

    achievement_id: uuid.UUID
    uln: str
    ao_id: str
    withdrawn: bool


class AchievementNotFound(Exception):
    """Not on the log, or not on the caller's PLR: the two are indistinguishable on purpose."""


class AchievementWithdrawn(Exception):
    """The AO withdrew the achievement: it is no longer on the PLR to be challenged."""


class AwardingOrganisationMismatch(Exception):
    """The caller named another AO than the one that recorded the achievement."""


def challenge_target(
    achievement: AchievementOnRecord | None, learner_ulns: Collection[str], claimed_ao_id: str | None
) -> AchievementOnRecord:
    """The achievement a learner may challenge: on the PLR of one of their ULNs (a merged learner's PLR
    holds every ULN merged into it), not withdrawn, and recorded by the AO they name, if they name one."""
    if achievement is None or achievement.uln not in learner_ulns:
        raise AchievementNotFound(str(achievement.achievement_id) if achievement else "unknown")
    if achievement.withdrawn:
        raise AchievementWithdrawn(str(achievement.achievement_id))
    if claimed_ao_id is not None and claimed_ao_id != achievement.ao_id:
        raise AwardingOrganisationMismatch(claimed_ao_id)
    return achievement


def raise_challenge(
    challenge_id: uuid.UUID, achievement_id: uuid.UUID, ao_id: str, uln: str, reason: str
) -> ChallengeRaised:
    return ChallengeRaised(
        challenge_id=challenge_id, achievement_id=achievement_id, ao_id=ao_id, uln=uln, reason=reason
    )


def acknowledge(challenge: Challenge) -> ChallengeAcknowledged:
    if challenge.state is not ChallengeState.RAISED:
        raise InvalidTransition(challenge.state, "acknowledged")
    return ChallengeAcknowledged(
        challenge_id=challenge.challenge_id, achievement_id=challenge.achievement_id, ao_id=challenge.ao_id
    )


def resolve(challenge: Challenge, resolution: ChallengeResolution, note: str | None) -> ChallengeResolved:
    if challenge.state is ChallengeState.RESOLVED:
        raise InvalidTransition(challenge.state, "resolved")
    return ChallengeResolved(
        challenge_id=challenge.challenge_id,
        achievement_id=challenge.achievement_id,
        ao_id=challenge.ao_id,
        resolution=resolution,
        note=note,
    )


def evolve(challenge: Challenge | None, event: ChallengeEvent, at: datetime) -> Challenge:
    if isinstance(event, ChallengeRaised):
        return Challenge(
            challenge_id=event.challenge_id,
            achievement_id=event.achievement_id,
            ao_id=event.ao_id,
            uln=event.uln,
            reason=event.reason,
            state=ChallengeState.RAISED,
            raised_at=at,
        )
    assert challenge is not None, "only a raise starts a challenge"
    if isinstance(event, ChallengeAcknowledged):
        return replace(challenge, state=ChallengeState.ACKNOWLEDGED, acknowledged_at=at)
    return replace(
        challenge, state=ChallengeState.RESOLVED, resolved_at=at, resolution=event.resolution, note=event.note
    )


def event_id_of(event: ChallengeEvent) -> uuid.UUID:
    """Each challenge has at most one event of each type, so (challenge, type) names it for good."""
    return deterministic_id("lrs.challenge", event.challenge_id, event.event_type)


def visible_to(challenge: Challenge, principal: Principal) -> bool:
    if principal.kind is PrincipalKind.OPERATOR:
        return True
    if principal.kind is PrincipalKind.AO:
        return principal.id == challenge.ao_id
    if principal.kind is PrincipalKind.LEARNER:
        return principal.id == challenge.uln
    return False


def may_manage(challenge: Challenge, principal: Principal) -> bool:
    """Only the AO that owns the achievement (or an operator) acknowledges and resolves."""
    if principal.kind is PrincipalKind.OPERATOR:
        return True
    return principal.kind is PrincipalKind.AO and principal.id == challenge.ao_id
