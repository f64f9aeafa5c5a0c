"""The challenges service reads its own events back (`lrs.challenge.events.v1`, kept forever), from where it
stored it had got to: a database restored to an earlier point gets back the challenges raised, acknowledged and
resolved since then, which the PLR (projected from the same events) shows all along. In normal running every
event it reads is one it wrote: nothing changes.

A restored challenge is as its events left it, its texts opened with the learner's key (none once the learner is
erased). A raise of a learner this LRS holds no key of at all is not its own (test systems sharing one broker)
and is passed over. Who acknowledged, resolved or withdrew it is on the log: each event's envelope names the
principal that acted in its `causation_id` (`ChallengeService._append`), which the restored challenge keeps as
`acknowledged_by` / `resolved_by`. The key that principal used (`acknowledged_with_key`, `resolved_with_key`) is on
no event, so a restored change has none. One raised again meanwhile on the same achievement (its learner found the
first gone) keeps the achievement's one open challenge: the older one, still open, is not put back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from challenges.domain import Challenge, ChallengeEvent, ChallengeState, evolve
from challenges.store import ChallengeStore
from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeRaisedV1, ChallengeResolved
from lrs_contracts.envelope import Envelope
from lrs_contracts.registry import decode
from lrs_platform.consumer import Message
from lrs_platform.identity import Principal
from lrs_platform.keyring import Erased, Keyring, LearnerKey
from lrs_platform.logging import get_logger

_log = get_logger("challenges.recovery")

CONSUMER = "challenges.own-events"


class OwnEvents:
    """The handler of the follower of the service's own events: idempotent, so a poll applied again changes
    nothing."""

    def __init__(self, store: ChallengeStore, keyring: Keyring) -> None:
        self._store = store
        self._keyring = keyring

    async def apply(self, messages: Sequence[Message]) -> None:
        for message in messages:
            if message.value is None:
                raise ValueError(f"a message without a value on {message.topic}")
            # a type the contracts do not know (a newer release's) raises UnknownEventType: the guard parks it at its
            # first attempt, as `unknown event type '…'`; other events of the topic it has no use for are passed over
            envelope, payload = decode(message.value)
            if isinstance(payload, ChallengeRaisedV1 | ChallengeRaised | ChallengeAcknowledged | ChallengeResolved):
                await self._apply(envelope, payload)

    async def _apply(
        self, envelope: Envelope, event: ChallengeRaisedV1 | ChallengeRaised | ChallengeAcknowledged | ChallengeResolved
    ) -> None:
        """What it reads besides the challenge (the learner's key) it reads before its unit of work, which holds a
        connection of the pool and the challenge's row locked: the keyring reads on a second connection of that
        pool, and the AO's acknowledgements of the challenge meanwhile each hold one waiting for the lock. Read in
        it, as many of them as the pool has connections but one left the follower waiting for ever, and every
        other user of the pool with it. So the challenge is read first without a lock (in normal running every
        event is one the service wrote, and this is all it does), and again locked in the unit of work."""
        seen = await self._store.get(event.challenge_id)
        if isinstance(event, ChallengeRaisedV1 | ChallengeRaised):
            if seen is not None:
                return
            await self._restore(envelope, event, (await self._keyring.find([event.uln])).get(event.uln))
            return
        if seen is None or not _moves_on(seen, event):
            return
        # a challenge's learner never changes; only a resolution's note is sealed with their key
        needs_key = isinstance(event, ChallengeResolved) and event.note_sealed is not None
        found = (await self._keyring.find([seen.uln])).get(seen.uln) if needs_key else None
        async with self._store.unit_of_work() as work:
            current = await work.get_for_update(event.challenge_id)
            if current is None or not _moves_on(current, event):
                return
            key = None if current.personal_data_erased else found
            await work.update(_by(evolve(current, event, envelope.occurred_at, key), event, envelope))
        _log.warning("challenge_state_restored_from_the_log", challenge_id=str(event.challenge_id))

    async def _restore(
        self, envelope: Envelope, event: ChallengeRaisedV1 | ChallengeRaised, key: LearnerKey | Erased | None
    ) -> None:
        async with self._store.unit_of_work() as work:
            if await work.get_for_update(event.challenge_id) is not None:
                return
            raised = _raised(event, envelope, key, erased=await work.is_erased(event.uln))
            if raised is None:
                return
            restored = await work.restore(raised)
        if restored:
            _log.warning("challenge_restored_from_the_log", challenge_id=str(event.challenge_id))
        else:
            _log.warning("challenge_not_restored", challenge_id=str(event.challenge_id), why="another open")


def _raised(
    event: ChallengeRaisedV1 | ChallengeRaised, envelope: Envelope, key: LearnerKey | Erased | None, *, erased: bool
) -> Challenge | None:
    """The challenge as its raise left it, `key` the learner's as the keyring found it; None when this LRS holds
    no key of its learner at all (not even an erased one's tombstone): a raise it never made, as when test systems
    share one broker."""
    if key is None:
        return None
    if isinstance(event, ChallengeRaised) and isinstance(key, LearnerKey) and not erased:
        return evolve(None, event, envelope.occurred_at, key)
    erased = erased or not isinstance(key, LearnerKey)
    return Challenge(
        challenge_id=event.challenge_id,
        achievement_id=event.achievement_id,
        ao_id=event.ao_id,
        uln=event.uln,
        # written before reasons were sealed, a first version's reason travels in clear
        reason=event.reason if isinstance(event, ChallengeRaisedV1) and not erased else None,
        state=ChallengeState.RAISED,
        raised_at=envelope.occurred_at,
        personal_data_erased=erased,
        achievement=event.achievement if isinstance(event, ChallengeRaised) else None,
    )


def _by(challenge: Challenge, event: ChallengeAcknowledged | ChallengeResolved, envelope: Envelope) -> Challenge:
    """The challenge as the event left it, with who acted: the principal its envelope's `causation_id` names (the
    service writes `str(principal)` there), kept as the service keeps it when it acts; nothing when the envelope names
    none, or something that is not a principal."""
    actor = _principal_named(envelope.causation_id)
    if actor is None:
        return challenge
    if isinstance(event, ChallengeAcknowledged):
        return replace(challenge, acknowledged_by=actor)
    return replace(challenge, resolved_by=actor)


def _principal_named(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return str(Principal.parse(text))
    except ValueError:
        return None


def _moves_on(challenge: Challenge, event: ChallengeEvent) -> bool:
    if isinstance(event, ChallengeAcknowledged):
        return challenge.state is ChallengeState.RAISED
    return challenge.state is not ChallengeState.RESOLVED
