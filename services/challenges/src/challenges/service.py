"""Use cases: authorise from the principal, decide in the domain, persist row + outbox atomically."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from challenges.domain import (
    OPEN_STATES,
    AchievementIsWithdrawn,
    AchievementNotFound,
    AchievementOnRecord,
    BatchOnRecord,
    Challenge,
    ChallengeEvent,
    ChallengePage,
    ChallengeQuery,
    ChallengeState,
    acknowledge,
    challenge_target,
    correction,
    event_id_of,
    evolve,
    may_manage,
    may_withdraw,
    raise_challenge,
    resolve,
    visible_to,
    withdraw,
    within_reach,
)
from challenges.record_store import PlrRecord
from challenges.store import ChallengeStore, ChallengeUnitOfWork, OpenChallengeExists
from lrs_contracts.challenge import ChallengeResolution
from lrs_contracts.envelope import utc_now
from lrs_contracts.registry import wrap
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.keyring import Erased, Keyring, LearnerKey
from lrs_platform.logging import get_logger

SOURCE = "challenges"

_log = get_logger("challenges.service")


class ChallengeNotFound(Exception):
    """Unknown, or not the caller's to see: the two are indistinguishable on purpose."""


class NotAllowed(Exception):
    """The caller's kind of principal may not do this at all."""


class RecordBehind(Exception):
    """The service's copy of the PLR log has not caught up with it: the answer could still change."""


class EventsHeld(Exception):
    """Some of the learner's events (under any of their ULNs) are parked in the service's copy of the PLR log, so
    what it says of their achievements may not be what their PLR says: nothing is raised on it."""


_ONLY_THE_AO_ANSWERS = "Only the awarding organisation acknowledges and resolves challenges."
ONLY_THE_LEARNER_WITHDRAWS = "Only the learner who raised a challenge withdraws it (or an LRS operator for them)."


def only_the_learner_withdraws(principal: Principal) -> str:
    """The refusal of a withdrawal to a caller who is neither a learner nor an operator: an AO is told what it does
    instead (it resolves), a provider only who withdraws (it resolves nothing either)."""
    if principal.kind is PrincipalKind.AO:
        return (
            f"{ONLY_THE_LEARNER_WITHDRAWS.removesuffix('.')}: the awarding organisation resolves it instead"
            " (POST /v1/challenges/{challenge_id}/resolve)."
        )
    return ONLY_THE_LEARNER_WITHDRAWS


PROVIDERS_READ_NONE = "Challenges are open to learners, awarding organisations and operators: a provider reads none."


@dataclass(frozen=True)
class ChallengeChanged:
    """A challenge as an AO's acknowledgement or resolution, or its learner's withdrawal, left it, and whether its
    achievement is withdrawn now: read before the change is made, so a failed read answers an error for a change that
    was not made."""

    challenge: Challenge
    achievement_withdrawn: bool


class ChallengeService:
    def __init__(
        self,
        store: ChallengeStore,
        record: PlrRecord,
        keyring: Keyring,
        catch_up: Callable[[], Awaitable[bool]],
        outbox_wake: asyncio.Event | None = None,
        *,
        held: Callable[[Collection[str]], Awaitable[bool]],
        ao_names: Mapping[str, str] | None = None,
    ) -> None:
        """`held`: whether the record holds any event of these ULNs parked (`log_follower.HeldLearners`).
        `ao_names`: the AOs' names by id, from the reference files (the record keeps none), to name the AO a learner
        turns to about an achievement it withdrew."""
        self._store = store
        self._record = record
        self._keyring = keyring
        self._catch_up = catch_up
        self._wake = outbox_wake
        self._held = held
        self._ao_names = dict(ao_names or {})

    async def raise_(
        self, principal: Principal, achievement_id: uuid.UUID, ao_id: str | None, reason: str
    ) -> Challenge:
        """The achievement and its AO come from the PLR log; `ao_id`, when sent, must name that AO.
        An erased learner is refused (LearnerDataErased), and so is a learner whose events the record holds
        parked (EventsHeld): the grade and status the challenge keeps would be the record's, not the PLR's."""
        if principal.kind is not PrincipalKind.LEARNER:
            raise NotAllowed("Only a learner raises a challenge, against their own PLR.")
        achievement = await self._target(principal.id, achievement_id, ao_id)
        key = await self._key_of(principal.id)
        event = raise_challenge(
            uuid.uuid4(),
            achievement.achievement_id,
            achievement.ao_id,
            principal.id,
            reason,
            key,
            achievement.described(),
        )
        challenge = evolve(None, event, utc_now(), key)
        async with self._store.unit_of_work() as uow:
            await uow.insert(challenge)
            await self._append(uow, event, principal, challenge.raised_at)
        self._notify()
        return challenge

    async def _target(self, uln: str, achievement_id: uuid.UUID, ao_id: str | None) -> AchievementOnRecord:
        """A found achievement is answered at once; "not found" only once the record has caught up with
        the log as it was when asked (a batch completed a moment ago, or a merge, may not be applied yet).
        Neither while the record holds any of the learner's events parked (EventsHeld): what it has of them is
        short of those events, and of every later one, until an operator retries or skips the poison."""
        try:
            return await self._checked_target(uln, achievement_id, ao_id)
        except AchievementNotFound:
            if not await self._catch_up():
                raise RecordBehind(str(achievement_id)) from None
        return await self._checked_target(uln, achievement_id, ao_id)

    async def _checked_target(self, uln: str, achievement_id: uuid.UUID, ao_id: str | None) -> AchievementOnRecord:
        ulns = await self._record.learner_ulns(uln)
        # asked before the achievement is read: a skip or retry clears its rows once it has applied what they held
        if await self._held(ulns):
            raise EventsHeld(uln)
        achievement = await self._record.achievement(achievement_id)
        try:
            return challenge_target(achievement, ulns, ao_id)
        except AchievementIsWithdrawn as withdrawn:
            # the learner's own achievement: a raise retried after its answer was lost, the AO having withdrawn
            # the achievement meanwhile, is told of the challenge that is open, as any repeated raise is
            open_challenge = await self._store.open_on(achievement_id)
            if open_challenge is not None:
                raise OpenChallengeExists(open_challenge) from None
            named = AchievementIsWithdrawn(
                withdrawn.achievement_id, withdrawn.ao_id, self._ao_names.get(withdrawn.ao_id)
            )
            raise named from None

    async def acknowledge(self, principal: Principal, challenge_id: uuid.UUID) -> ChallengeChanged:
        withdrawn = await self._withdrawn_now(principal, challenge_id)
        async with self._store.unit_of_work() as uow:
            challenge = await self._managed(uow, principal, challenge_id)
            event = acknowledge(challenge)
            at = utc_now()
            changed = replace(
                evolve(challenge, event, at), acknowledged_by=str(principal), acknowledged_with_key=principal.key_id
            )
            await uow.update(changed)
            await self._append(uow, event, principal, at)
        self._notify()
        return ChallengeChanged(changed, withdrawn)

    async def _withdrawn_now(self, principal: Principal, challenge_id: uuid.UUID) -> bool:
        """Whether the challenge's achievement is withdrawn now, read before the unit of work: read in it, on a
        second connection of the pool the unit of work holds one of, as many changes at once as the pool has
        connections each waited for a second, for ever (an AO's script acknowledging a page of challenges)."""
        seen = await self._seen(principal, challenge_id, _ONLY_THE_AO_ANSWERS)
        return seen.achievement_id in await self._record.withdrawn_among([seen.achievement_id])

    async def resolve(
        self,
        principal: Principal,
        challenge_id: uuid.UUID,
        resolution: ChallengeResolution,
        note: str | None,
        correcting_batch_id: uuid.UUID | None = None,
    ) -> ChallengeChanged:
        """A corrected resolution names the batch that corrected the data (`correction`). What it reads besides the
        challenge (the batch, whether the achievement is withdrawn, the learner's key that seals the note) is read
        before the unit of work (`_withdrawn_now`): each on a second connection of the pool it holds one of."""
        seen = await self._seen(principal, challenge_id, _ONLY_THE_AO_ANSWERS)
        touching = None
        if resolution is ChallengeResolution.CORRECTED and correcting_batch_id is not None:
            touching = await self._touching(seen, correcting_batch_id)
        withdrawn = seen.achievement_id in await self._record.withdrawn_among([seen.achievement_id])
        key = await self._key_of(seen.uln) if note is not None else None  # a challenge's learner never changes
        async with self._store.unit_of_work() as uow:
            challenge = await self._managed(uow, principal, challenge_id)
            correcting = correction(challenge, resolution, correcting_batch_id, touching)
            event = resolve(challenge, resolution, note, key, correcting)
            at = utc_now()
            changed = replace(
                evolve(challenge, event, at, key), resolved_by=str(principal), resolved_with_key=principal.key_id
            )
            await uow.update(changed)
            await self._append(uow, event, principal, at)
        self._notify()
        return ChallengeChanged(changed, withdrawn)

    async def withdraw(self, principal: Principal, challenge_id: uuid.UUID) -> ChallengeChanged:
        """The learner who raised it (under any of their ULNs), or an operator for them, withdraws an open challenge
        (decision 0194): resolved `withdrawn`, by that principal. Another learner's is not found, as a read is."""
        if principal.kind not in (PrincipalKind.LEARNER, PrincipalKind.OPERATOR):
            raise NotAllowed(only_the_learner_withdraws(principal))
        ulns = await self._ulns_of(principal)
        seen = await self._store.get(challenge_id)
        if seen is None or not may_withdraw(seen, principal, ulns):
            raise ChallengeNotFound(str(challenge_id))
        achievement_withdrawn = seen.achievement_id in await self._record.withdrawn_among([seen.achievement_id])
        async with self._store.unit_of_work() as uow:
            challenge = await uow.get_for_update(challenge_id)
            if challenge is None or not may_withdraw(challenge, principal, ulns):
                raise ChallengeNotFound(str(challenge_id))
            event = withdraw(challenge)
            at = utc_now()
            changed = replace(
                evolve(challenge, event, at), resolved_by=str(principal), resolved_with_key=principal.key_id
            )
            await uow.update(changed)
            await self._append(uow, event, principal, at)
        self._notify()
        return ChallengeChanged(changed, achievement_withdrawn)

    async def correcting_batches(self, principal: Principal, challenge_id: uuid.UUID) -> list[BatchOnRecord]:
        """The batches that may be named resolving the challenge as corrected (`correction`), newest first."""
        seen = await self._seen(
            principal,
            challenge_id,
            "The batches that may have corrected a challenged achievement are listed only to the awarding"
            " organisation that owns it and to operators: a learner reads their challenge, and how it was resolved,"
            " with GET /v1/challenges/{challenge_id}.",
        )
        return await self._batches_touching(seen, None)

    async def _seen(self, principal: Principal, challenge_id: uuid.UUID, refusal: str) -> Challenge:
        """The challenge as it is now, if the principal manages it (read without a lock: for a look-up); NotAllowed
        with `refusal` for a kind of principal that manages none."""
        if principal.kind not in (PrincipalKind.AO, PrincipalKind.OPERATOR):
            raise NotAllowed(refusal)
        challenge = await self._store.get(challenge_id)
        if challenge is None or not may_manage(challenge, principal):
            raise ChallengeNotFound(str(challenge_id))
        return challenge

    async def _touching(self, challenge: Challenge, batch_id: uuid.UUID) -> BatchOnRecord | None:
        """The named batch as having touched the challenged achievement, at any time; None if it did not.
        "Did not" is answered once the record has caught up with the log (a batch decided a moment ago)."""
        found = await self._batches_touching(challenge, batch_id)
        if not found:
            if not await self._catch_up():
                raise RecordBehind(str(batch_id))
            found = await self._batches_touching(challenge, batch_id)
        return found[0] if found else None

    async def _batches_touching(self, challenge: Challenge, batch_id: uuid.UUID | None) -> list[BatchOnRecord]:
        qualification_number = challenge.achievement.qualification_number if challenge.achievement else None
        if qualification_number is None:  # raised before challenges kept it: the record knows it
            on_record = await self._record.achievement(challenge.achievement_id)
            qualification_number = on_record.qualification_number if on_record else None
        if qualification_number is None:
            return []
        return await self._record.batches_touching(
            challenge.ao_id,
            qualification_number,
            await self._record.learner_ulns(challenge.uln),
            since=None if batch_id is not None else challenge.raised_at,
            batch_id=batch_id,
        )

    async def forget_learners(self, connection: asyncpg.Connection, ulns: Collection[str]) -> None:
        """Erased learners (`LearnerErased` on the learner topic): their texts go, and so do their cached keys. Handed
        them by the log follower (`PlrRecord.apply_messages`) with its poll's connection, the texts go in the poll's
        transaction."""
        if not ulns:
            return
        redacted = await self._store.forget_learners(connection, ulns)
        for uln in ulns:
            self._keyring.forget(uln)
        _log.info("learners_erased", learners=len(ulns), challenges_redacted=redacted)

    async def _key_of(self, uln: str) -> LearnerKey | Erased:
        return (await self._keyring.issue([uln]))[uln]

    async def get(self, principal: Principal, challenge_id: uuid.UUID) -> Challenge:
        _refuse_providers(principal)  # as the list does: a provider reads no challenge, so no id is one of its
        challenge = await self._store.get(challenge_id)
        if challenge is None or not visible_to(challenge, principal, await self._ulns_of(principal)):
            raise ChallengeNotFound(str(challenge_id))
        return challenge

    async def list(self, principal: Principal, query: ChallengeQuery) -> ChallengePage:
        """A page of the challenges the principal may see that match the query (`within_reach`)."""
        reachable = reachable_query(query, principal, await self._ulns_of(principal, query.ulns))
        found = await self._store.list(
            ao_id=reachable.ao_id,
            ulns=reachable.ulns,
            ulns_as_recorded=reachable.ulns_as_recorded,
            states=reachable.states,
            after=reachable.after,
            limit=reachable.limit + 1,
        )
        return ChallengePage.of(found, reachable.limit)

    async def withdrawn_achievements(self, challenges: Collection[Challenge]) -> frozenset[uuid.UUID]:
        """Which of the challenges' achievements the AO has withdrawn since (the record as it is now): a challenge a
        caller may see says whether its achievement is still on the learner's PLR."""
        return await self._record.withdrawn_among([challenge.achievement_id for challenge in challenges])

    async def open_counts(self, principal: Principal, query: ChallengeQuery) -> dict[ChallengeState, int]:
        """How many open challenges in each open state the principal may see that match the query's AO and
        ULNs (its states, position and limit play no part)."""
        reachable = reachable_query(query, principal, await self._ulns_of(principal, query.ulns))
        counts = dict.fromkeys(sorted(OPEN_STATES), 0)
        counts.update(
            await self._store.open_counts(
                ao_id=reachable.ao_id, ulns=reachable.ulns, ulns_as_recorded=reachable.ulns_as_recorded
            )
        )
        return counts

    async def _ulns_of(self, principal: Principal, asked: Collection[str] | None = None) -> frozenset[str]:
        """A learner's every ULN (a merged learner is one person); for an AO, every ULN of the learners its ULN
        filter (`asked`) names (decision 0162); nothing for other principals."""
        if principal.kind is PrincipalKind.LEARNER:
            return await self._record.learner_ulns(principal.id)
        if principal.kind is PrincipalKind.AO and asked:
            return await self._record.ulns_of_learners(asked)
        return frozenset()

    async def _managed(self, uow: ChallengeUnitOfWork, principal: Principal, challenge_id: uuid.UUID) -> Challenge:
        if principal.kind not in (PrincipalKind.AO, PrincipalKind.OPERATOR):
            raise NotAllowed(_ONLY_THE_AO_ANSWERS)
        challenge = await uow.get_for_update(challenge_id)
        if challenge is None or not may_manage(challenge, principal):
            raise ChallengeNotFound(str(challenge_id))
        return challenge

    @staticmethod
    async def _append(uow: ChallengeUnitOfWork, event: ChallengeEvent, principal: Principal, at: datetime) -> None:
        """`at`: the instant the row stores (raised_at, acknowledged_at, resolved_at), the event's `occurred_at` too:
        reporting dates a challenge's month and working days by it, the inbox by the row, and a second reading of
        the clock could put the two either side of a UK midnight or month end."""
        envelope = wrap(
            event,
            source=SOURCE,
            correlation_id=str(event.challenge_id),
            event_id=event_id_of(event),
            causation_id=str(principal),
            occurred_at=at,
        )
        await uow.add_to_outbox(envelope, str(event.achievement_id))

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()


def _refuse_providers(principal: Principal) -> None:
    if principal.kind not in (PrincipalKind.AO, PrincipalKind.LEARNER, PrincipalKind.OPERATOR):
        raise NotAllowed(PROVIDERS_READ_NONE)


def reachable_query(query: ChallengeQuery, principal: Principal, learner_ulns: frozenset[str]) -> ChallengeQuery:
    """The query narrowed to the principal's reach; NotAllowed for a filter naming what is not theirs, as the other
    services refuse another AO's batches, achievements and reports (not an empty list, which would say it has none)."""
    _refuse_providers(principal)
    reachable = within_reach(query, principal, learner_ulns)
    if reachable is None:
        if principal.kind is PrincipalKind.AO:
            raise NotAllowed(
                f"An awarding organisation sees only the challenges to its own achievements: leave out ao_id, or"
                f" give your own ({principal.id})."
            )
        raise NotAllowed("A learner sees only the challenges they raised: leave out uln, or give one of your own.")
    return reachable
