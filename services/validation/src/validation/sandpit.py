"""Validation's part of the Sandpit (docs/decisions/0060-sandpit.md): an AO's reset, and the Sandpit's
read-only copy of the live learner registry.

A reset arrives in the AO's queue on `sandpit.lrs.batch.submitted.v1`, after every batch the AO sent
before it. The decider forgets the AO's achievement states and decisions, stores the erasures it will
publish (one PostgreSQL transaction), then publishes them, `SandpitResetApplied` and the consumed
offset in one Kafka transaction: met again after a crash, the same reset publishes the same erasures.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from lrs_contracts.dead_letters import DEAD_LETTER_SUFFIX, Headers
from lrs_contracts.envelope import deterministic_id
from lrs_contracts.environments import TopicNames
from lrs_contracts.learner import (
    LearnerErased,
    LearnerProviderUnlinked,
    LearnerRegistered,
    LearnerRegisteredV1,
    LearnerSharingChanged,
    LearnersMerged,
)
from lrs_contracts.registry import UnknownEventType, decode, decode_envelope, encode, wrap
from lrs_contracts.sandpit import PartitionOffset, SandpitAchievementsErased, SandpitReset, SandpitResetApplied
from lrs_contracts.topics import BATCH_OUTCOMES, LEARNER_EVENTS, PLR_EVENTS
from lrs_domain.identifiers import mask_uln
from lrs_platform.consumer import ConsumerLoop, PoisonGuard, RetryPolicy
from lrs_platform.credential_store import revoke_principal_in
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.kafka import make_consumer, topic_partitions
from lrs_platform.keyring import Erased, KeyLookup, Keyring, KeyringUnavailable, LearnerKey, Purpose, SealBroken
from lrs_platform.logging import get_logger
from lrs_platform.parking import DeadLetterOffice, DeadLetterPublisher
from validation.decision_store import OutgoingMessage, ao_decision_lock_key, decode_messages, encode_messages

SOURCE = "validation"

_log = get_logger("validation.sandpit")


class SandpitResets:
    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, topics: TopicNames) -> None:
        self._pool = pool
        self._producer = producer
        self._topics = topics

    async def apply(
        self, reset: SandpitReset, causation_id: str, offsets: dict[TopicPartition, int], group_id: str
    ) -> SandpitResetApplied:
        erasures, forgotten_batches = await self._forget(reset, causation_id)
        async with self._producer.transaction():
            sent = [
                await self._producer.send(message.topic, key=message.key.encode(), value=message.value)
                for message in erasures
            ]
            ends: dict[int, int] = {}
            for delivery in sent:
                metadata = await delivery
                ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
            applied = SandpitResetApplied(
                reset_id=reset.reset_id,
                ao_id=reset.ao_id,
                learners=len(erasures),
                plr_offsets=tuple(PartitionOffset(partition=p, next_offset=o) for p, o in sorted(ends.items())),
                forgotten_batches=forgotten_batches,
            )
            envelope = wrap(
                applied,
                source=SOURCE,
                correlation_id=str(reset.reset_id),
                causation_id=causation_id,
                event_id=deterministic_id(reset.reset_id, "applied"),
            )
            await self._producer.send(
                self._topics.of(BATCH_OUTCOMES), key=str(reset.reset_id).encode(), value=encode(envelope)
            )
            await self._producer.send_offsets_to_transaction(offsets, group_id)
        _log.info("sandpit_reset_applied", reset_id=str(reset.reset_id), ao_id=reset.ao_id, learners=len(erasures))
        return applied

    async def _forget(
        self, reset: SandpitReset, causation_id: str
    ) -> tuple[tuple[OutgoingMessage, ...], tuple[uuid.UUID, ...] | None]:
        """The reset's erasures and the batches whose decisions it forgot: stored with the AO's states and
        decisions deleted, or as stored before (no batches named by a reset stored before decision 0120)."""
        async with self._pool.acquire() as connection, connection.transaction():
            # the lock DecisionStore.record takes: no decision of the AO is stored meanwhile
            await connection.execute("SELECT pg_advisory_xact_lock($1)", ao_decision_lock_key(reset.ao_id))
            stored = await connection.fetchrow(
                "SELECT messages, forgotten_batches FROM validation.sandpit_resets WHERE reset_id = $1", reset.reset_id
            )
            if stored is not None:
                batches = stored["forgotten_batches"]
                return decode_messages(stored["messages"]), None if batches is None else tuple(batches)
            ulns = await connection.fetch(
                "SELECT DISTINCT uln FROM validation.achievements WHERE ao_id = $1 ORDER BY uln", reset.ao_id
            )
            erasures = tuple(self._erasure(reset, row["uln"], causation_id) for row in ulns)
            await connection.execute("DELETE FROM validation.achievements WHERE ao_id = $1", reset.ao_id)
            forgotten = tuple(
                row["batch_id"]
                for row in await connection.fetch(
                    "DELETE FROM validation.decisions WHERE ao_id = $1 RETURNING batch_id", reset.ao_id
                )
            )
            await connection.execute(
                "INSERT INTO validation.forgotten_batches (batch_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING",
                list(forgotten),
            )
            await connection.execute(
                "INSERT INTO validation.sandpit_resets (reset_id, ao_id, messages, forgotten_batches)"
                " VALUES ($1, $2, $3, $4)",
                reset.reset_id,
                reset.ao_id,
                encode_messages(erasures),
                sorted(forgotten),
            )
        return erasures, tuple(sorted(forgotten))

    def _erasure(self, reset: SandpitReset, uln: str, causation_id: str) -> OutgoingMessage:
        erased = SandpitAchievementsErased(reset_id=reset.reset_id, ao_id=reset.ao_id, uln=uln)
        envelope = wrap(
            erased,
            source=SOURCE,
            correlation_id=str(reset.reset_id),
            causation_id=causation_id,
            event_id=deterministic_id(reset.reset_id, uln, "erased"),
        )
        return OutgoingMessage(self._topics.of(PLR_EVENTS), uln, encode(envelope))


LearnerEvent = (
    LearnerRegisteredV1
    | LearnerRegistered
    | LearnerSharingChanged
    | LearnersMerged
    | LearnerErased
    | LearnerProviderUnlinked
)
_LEARNER_EVENTS = (
    LearnerRegisteredV1,
    LearnerRegistered,
    LearnerSharingChanged,
    LearnersMerged,
    LearnerErased,
    LearnerProviderUnlinked,
)
_KEYS_AWAY_SECONDS = 2.0

_UPSERT_LEARNER = (
    "INSERT INTO validation.learners (uln, given_name, family_name, date_of_birth, gender, ability_to_share)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (uln) DO UPDATE SET given_name = $2, family_name = $3, date_of_birth = $4,"
    " gender = $5, ability_to_share = $6, updated_at = now() WHERE validation.learners.erased_at IS NULL"
)
_ERASE_LEARNER = (
    "INSERT INTO validation.learners (uln, given_name, family_name, date_of_birth, gender, erased_at)"
    " VALUES ($1, NULL, NULL, NULL, NULL, now())"
    " ON CONFLICT (uln) DO UPDATE SET given_name = NULL, family_name = NULL, date_of_birth = NULL,"
    " gender = NULL, erased_at = coalesce(validation.learners.erased_at, now()), updated_at = now()"
)


REGISTRY_FOLLOWER = "validation.sandpit-registry"
ConsumerFactory = Callable[..., AIOKafkaConsumer]


class LearnerLogRecord(Protocol):
    """A message of the learner log, as the loop delivers it (`Message`) or as aiokafka reads it."""

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...


class RegistryFollower:
    """Keeps the Sandpit's learner registry a copy of the live one by reading `lrs.learner.events.v1`.

    Where it has read to is stored with the registry changes, in one transaction, so a restart goes on
    from there. A merge can arrive before one of its learners' registrations (the log is keyed by ULN,
    so the two may sit in different partitions): it waits in `sandpit_pending_merges` until both exist.

    Live registrations carry the learner's details sealed under live's key: `live_keys` finds them in
    live's key store (read only). A live erasure redacts the copy, erases the Sandpit's own key of the
    learner (`own_keys`), so nothing the Sandpit sealed about them opens any more either, and revokes the
    learner's Sandpit API keys (`learner:<uln>`), in the transaction that stores it.

    It reads through `lrs_platform.consumer` (`consumer_loop`, decision 0030): an event the copy cannot read or
    store (a value its columns refuse) is parked, with the learner's later events held behind it, on the Sandpit's
    own `sandpit.lrs.learner.events.v1.dlq`, and the offsets past it are stored; the rest of the registry, and the
    Sandpit's decider with it, go on.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        bootstrap_servers: str,
        topics: TopicNames,
        live_keys: Keyring,
        own_keys: Keyring,
        policy: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._pool = pool
        self._bootstrap = bootstrap_servers
        self._topic = topics.of(LEARNER_EVENTS)
        self._live_keys = live_keys
        self._own_keys = own_keys
        self._policy = policy

    def consumer_loop(
        self, office: DeadLetterOffice, consumer_factory: ConsumerFactory = make_consumer
    ) -> ConsumerLoop:
        """The loop that follows the live log: no consumer group, every partition from where the copy stored it."""
        return ConsumerLoop(
            PoisonGuard(REGISTRY_FOLLOWER, self.apply, office, self._policy),
            [self._topic],
            lambda: consumer_factory(self._bootstrap, group_id=None),
            place=self._start_where_stored,
            progress=PassedStoredWithTheCopy(self._pool),
            max_records=2_000,
            poll_timeout_ms=500,
        )

    async def _start_where_stored(self, consumer: AIOKafkaConsumer) -> None:
        partitions = await self._partitions()
        consumer.assign(partitions)
        stored = dict(await self._pool.fetch("SELECT partition, next_offset FROM validation.sandpit_registry_offsets"))
        for partition in partitions:
            if partition.partition in stored:
                consumer.seek(partition, stored[partition.partition])
            else:
                await consumer.seek_to_beginning(partition)

    async def _partitions(self) -> list[TopicPartition]:
        """The topic's partitions, once it exists (live services create it)."""
        while True:
            if partitions := await topic_partitions(self._bootstrap, self._topic):
                return partitions
            await asyncio.sleep(1.0)

    async def apply(self, records: Sequence[LearnerLogRecord]) -> None:
        """Copies a poll's registry changes and stores the offsets past them, in one transaction; idempotent.
        Raises ValueError for an event it cannot read (parked by the loop)."""
        events = [(record, _learner_event(record)) for record in records]
        keys = await self._live_keys_of({event.uln for _, event in events if isinstance(event, LearnerRegistered)})
        erased = [event.uln for _, event in events if isinstance(event, LearnerErased)]
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                await self._apply(connection, events, keys)
        finally:
            for uln in erased:  # whether or not it committed: no key of theirs is used from a cache again
                self._live_keys.forget(uln)
                self._own_keys.forget(uln)

    async def _live_keys_of(self, ulns: set[str]) -> KeyLookup:
        """The live keys of the registrations' learners, waiting while live's key store is away."""
        while True:
            try:
                return await self._live_keys.find(ulns) if ulns else {}
            except KeyringUnavailable as error:
                _log.warning("sandpit_live_keys_unavailable", error=str(error))
                await asyncio.sleep(_KEYS_AWAY_SECONDS)

    async def _apply(
        self,
        connection: asyncpg.Connection,
        events: Sequence[tuple[LearnerLogRecord, LearnerEvent | None]],
        keys: KeyLookup,
    ) -> None:
        for record, event in events:
            if isinstance(event, LearnerRegisteredV1):
                await connection.execute(
                    _UPSERT_LEARNER,
                    event.uln,
                    event.given_name,
                    event.family_name,
                    event.date_of_birth,
                    event.gender,
                    int(event.ability_to_share),
                )
            elif isinstance(event, LearnerRegistered):
                await self._register_sealed(connection, record, event, keys.get(event.uln))
            elif isinstance(event, LearnerErased):
                await connection.execute(_ERASE_LEARNER, event.uln)
                await self._own_keys.erase(connection, event.uln)
                # as live's erasure revokes live's (each merged ULN has its own erasure); none is left on redelivery
                revoked = await revoke_principal_in(
                    connection, Principal(PrincipalKind.LEARNER, event.uln), by=_ERASED_LIVE_REVOKER, erased=True
                )
                if revoked:
                    _log.info("sandpit_erased_learners_keys_revoked", keys=revoked, uln=mask_uln(event.uln))
            elif isinstance(event, LearnerProviderUnlinked):
                # the register now says the ULN is another learner than the one a provider registered: as live's
                # ending of the link revokes live's learner keys of the ULN (decision 0121), the Sandpit's go too;
                # only those made by the time live ended it: one applied late (an operator's retry of a parked event)
                # leaves a key made since, for the register's learner
                ended_at = decode_envelope(record.value or b"").occurred_at
                revoked = await revoke_principal_in(
                    connection,
                    Principal(PrincipalKind.LEARNER, event.uln),
                    by=_link_ended_revoker(event.provider_ukprn),
                    created_before=ended_at,
                )
                if revoked:
                    _log.info("sandpit_unlinked_learners_keys_revoked", keys=revoked, uln=mask_uln(event.uln))
            elif isinstance(event, LearnerSharingChanged):
                await connection.execute(
                    "UPDATE validation.learners SET ability_to_share = $2, updated_at = now() WHERE uln = $1",
                    event.uln,
                    int(event.ability_to_share),
                )
            elif isinstance(event, LearnersMerged):
                await connection.execute(
                    "INSERT INTO validation.sandpit_pending_merges (master_uln, merged_uln) VALUES ($1, $2)"
                    " ON CONFLICT DO NOTHING",
                    event.master_uln,
                    event.merged_uln,
                )
        await connection.execute(
            "WITH ready AS ("
            " DELETE FROM validation.sandpit_pending_merges m"
            " WHERE EXISTS (SELECT 1 FROM validation.learners WHERE uln = m.master_uln)"
            " AND EXISTS (SELECT 1 FROM validation.learners WHERE uln = m.merged_uln)"
            " RETURNING master_uln, merged_uln)"
            " UPDATE validation.learners l SET master_uln = ready.master_uln, updated_at = now()"
            " FROM ready WHERE l.uln = ready.merged_uln"
        )
        ends: dict[int, int] = {}
        for record, _ in events:
            ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
        await connection.execute(
            "INSERT INTO validation.sandpit_registry_offsets (partition, next_offset)"
            " SELECT * FROM unnest($1::integer[], $2::bigint[])"
            # greatest: an operator's retry of a parked event, long after, must not move the copy's place back
            " ON CONFLICT (partition) DO UPDATE SET next_offset = greatest(sandpit_registry_offsets.next_offset,"
            " EXCLUDED.next_offset)",
            list(ends),
            list(ends.values()),
        )

    async def _register_sealed(
        self,
        connection: asyncpg.Connection,
        record: LearnerLogRecord,
        event: LearnerRegistered,
        key: LearnerKey | Erased | None,
    ) -> None:
        """A live registration, its details opened with live's key; an erased learner's is copied erased."""
        if isinstance(key, Erased):
            await connection.execute(_ERASE_LEARNER, event.uln)
            return
        details = _details(key, event)
        if details is None:
            _log.warning(
                "sandpit_registration_unreadable",
                partition=record.partition,
                offset=record.offset,
                uln=mask_uln(event.uln),
            )
            return
        await connection.execute(
            _UPSERT_LEARNER,
            event.uln,
            details["given_name"],
            details["family_name"],
            date.fromisoformat(details["date_of_birth"]) if details["date_of_birth"] else None,
            details["gender"],
            int(event.ability_to_share),
        )


def _details(key: LearnerKey | None, event: LearnerRegistered) -> dict[str, Any] | None:
    """The sealed details of a registration, or None when they cannot be opened (no key, or a broken seal)."""
    if key is None:
        return None
    try:
        details = key.open_json(Purpose.LEARNER_REGISTRATION, event.personal)
        if not isinstance(details.get("given_name"), str) or not isinstance(details.get("family_name"), str):
            return None
        date_of_birth = details.get("date_of_birth")
        if date_of_birth is not None:
            date.fromisoformat(date_of_birth)
        return {
            "given_name": details["given_name"],
            "family_name": details["family_name"],
            "date_of_birth": date_of_birth,
            "gender": int(details.get("gender") or 0),
        }
    except (SealBroken, ValueError, TypeError):
        return None


# Who revoked an erased learner's Sandpit keys, as `lrs --sandpit credentials list` shows it (`revoked_by`)
_ERASED_LIVE_REVOKER = "validation (Sandpit's registry copy): the learner was erased live"


def _link_ended_revoker(provider_ukprn: str) -> str:
    """Who revoked a learner's Sandpit keys as the copy applied live's end of a provider's registration link, as `lrs
    --sandpit credentials list` shows it (`revoked_by`)."""
    return f"validation (Sandpit's registry copy): provider {provider_ukprn}'s registration link ended live (decision 0121)"


def _learner_event(record: LearnerLogRecord) -> LearnerEvent | None:
    """The registry change, or None for an event of the log the copy has no use for (or a newer kind than this
    release knows). Raises ValueError for a message that cannot be read: the loop parks it."""
    try:
        _, payload = decode(record.value or b"")
    except UnknownEventType:
        return None
    return payload if isinstance(payload, _LEARNER_EVENTS) else None


class PassedStoredWithTheCopy:
    """`Progress`: the offsets past a poll, stored as the copy stores them (`greatest`: the poll's applied events
    stored theirs in their own transaction). What this adds are the offsets past the events parked."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def passed(self, consumer: AIOKafkaConsumer, offsets: Mapping[TopicPartition, int]) -> None:
        await self._pool.execute(
            "INSERT INTO validation.sandpit_registry_offsets (partition, next_offset)"
            " SELECT * FROM unnest($1::integer[], $2::bigint[])"
            " ON CONFLICT (partition) DO UPDATE SET next_offset = greatest(sandpit_registry_offsets.next_offset,"
            " EXCLUDED.next_offset)",
            [partition.partition for partition in offsets],
            list(offsets.values()),
        )


def own_dead_letter_topics(publish: DeadLetterPublisher, topics: TopicNames) -> DeadLetterPublisher:
    """Sends each dead letter to its environment's own DLQ (`TopicNames.dead_letters`): a Sandpit consumer of a
    shared live topic (the learner log) parks on `sandpit.<topic>.dlq`, never on live's (decision 0060). Every
    other topic's DLQ is the one `<topic>.dlq` names already."""

    async def publish_own(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        original = topic.removesuffix(DEAD_LETTER_SUFFIX)
        await publish(topics.dead_letters(topics.logical(original)), key, value, headers)

    return publish_own
