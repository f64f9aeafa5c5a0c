"""The submit and view use cases: they orchestrate the pure rules, the repository and the publisher."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import asyncpg

from ingest import metrics
from ingest.publisher import PublishUnavailable, TransactionalPublisher
from ingest.repository import BatchRepository, ClaimTimeout, Refusal, StoredBatch, StoredRefusal
from ingest.sealing import LearnerKeys, erased_learners_details, names_to_issue, sealed_encoded_records
from ingest.submission import (
    DECIDED_STATUSES,
    BatchIdentity,
    BatchStatus,
    IdempotencyKeyReused,
    NotAllowedToSubmit,
    PreparedBatch,
    SubmissionInProgress,
    batch_ao_for,
    caller_ao,
    carried,
    content_sha256,
    dedup_key,
    is_key_reused_for_other_content,
    mislabelled,
    prepare_encoded,
    refusal_key,
    resolve_format,
)
from lrs_contracts.batch import BatchFormat, SubmittedRecord
from lrs_contracts.codes import BatchCode
from lrs_contracts.envelope import utc_now
from lrs_contracts.environments import LIVE_TOPICS, TopicNames
from lrs_contracts.identifiers import AO_ID_PATTERN
from lrs_contracts.topics import BATCH_SUBMITTED
from lrs_domain.formats import BatchRefused, ParsedBatch, parse_batch
from lrs_platform.clock import ENGLAND
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.keyring import ERASED, UNKEYED_RECORDS, KeyLookup, KeyringUnavailable, batch_key_name
from lrs_platform.logging import get_logger

_log = get_logger("ingest.batches")
_AO_ID = re.compile(AO_ID_PATTERN)
# records sealed per keyring call: small enough that the first part's keys come quickly, large enough
# that a batch of 10,000 takes five round trips, not hundreds
_SEALING_PART = 2_000

T = TypeVar("T")


@dataclass(frozen=True)
class SubmitResult:
    batch_id: uuid.UUID
    status: BatchStatus
    replay: bool


class BatchRefusedError(Exception):
    """The file was refused with an RS code; the refusal is stored as batch `batch_id`. `fmt`: the file's format,
    when it was known, in whose words the refusal is answered (`notificationEmail` in JSON). `replay`: the refusal
    was filed before, for the same file under the same Idempotency-Key, and is answered again (nothing new filed)."""

    def __init__(
        self, batch_id: uuid.UUID, refusal: BatchRefused, fmt: BatchFormat | None = None, *, replay: bool = False
    ) -> None:
        super().__init__(str(refusal))
        self.batch_id = batch_id
        self.refusal = refusal
        self.fmt = fmt
        self.replay = replay


class PublishFailed(Exception):
    """Kafka did not take the batch: nothing of it was accepted; a retry publishes it."""

    def __init__(self, batch_id: uuid.UUID, reason: str) -> None:
        super().__init__(reason)
        self.batch_id = batch_id


@dataclass(frozen=True)
class ChunkLimits:
    records: int = 1_000
    bytes: int = 1_048_576


class BatchSubmissions:
    def __init__(
        self,
        repository: BatchRepository,
        publisher: TransactionalPublisher,
        keyring: LearnerKeys,
        *,
        chunk_limits: ChunkLimits,
        row_lock_timeout: float,
        publish_timeout: float,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
        topics: TopicNames = LIVE_TOPICS,
    ) -> None:
        self._repository = repository
        self._topic = topics.of(BATCH_SUBMITTED)
        self._publisher = publisher
        self._keyring = keyring
        self._chunk_limits = chunk_limits
        self._row_lock_timeout = row_lock_timeout
        self._publish_timeout = publish_timeout
        self._clock = clock
        self._new_id = new_id
        # Claim, publish and mark one batch at a time per process, so waiting requests hold no connection.
        self._lock = asyncio.Lock()
        # Parsing and sealing are CPU under the GIL: reading uploads one at a time costs no time and holds
        # the parsed records of one upload only.
        self._reading = asyncio.Semaphore(1)

    async def refuse_unread(self, principal: Principal, refusal: BatchRefused, idempotency_key: str | None) -> NoReturn:
        """Files the refusal of a body that was never read whole (RS002); raises BatchRefusedError, or
        IdempotencyKeyReused under the key of a batch: that file was not over 6 MB."""
        metrics.BATCHES_RECEIVED.labels("unknown").inc()
        answer = await self._refused(principal, caller_ao(principal), refusal, None, None, None, idempotency_key)
        if not isinstance(answer, BatchRefusedError):  # an unread file is no batch's own: under its key, 409
            raise AssertionError("a file refused unread was answered as a stored batch")
        raise answer

    async def submit(
        self,
        principal: Principal,
        content: bytes,
        *,
        requested_format: BatchFormat | None,
        content_type: str | None,
        content_disposition: str | None,
        idempotency_key: str | None,
        held: Callable[[], Awaitable[object | None]] | None = None,
    ) -> SubmitResult:
        """`held` says whether a maintenance window or pause holds the batches now (its closure, else None): an
        undecided batch sent again is then answered as it stands, not published again (`_accept`)."""
        started = time.perf_counter()
        received_at = self._clock()
        sha256 = content_sha256(content)
        size = len(content)
        fmt: BatchFormat | None = None
        ao_id = caller_ao(principal)
        try:
            fmt = resolve_format(requested_format, content_type, content_disposition, content)
            metrics.BATCHES_RECEIVED.labels(fmt.value).inc()
            async with self._reading:
                prepared, batch_keyed = await self._read(content, fmt, principal, received_at, sha256, size)
        except BatchRefused as refusal:
            if fmt is None:
                metrics.BATCHES_RECEIVED.labels("unknown").inc()
            else:
                refusal = mislabelled(refusal, fmt, requested_format, content_type, content_disposition, content)
            answer = await self._refused(principal, ao_id, refusal, fmt, size, sha256, idempotency_key)
            if isinstance(answer, SubmitResult):
                return answer
            raise answer from None
        # The upload is encoded in `prepared`: nothing holds it while the batch waits to go out, unless
        # some of its records are sealed under this batch id's own key and it may go out under another.
        reread = functools.partial(self._reread, content, fmt, principal, sha256, size) if batch_keyed else None
        del content
        result = await self._accept(prepared, idempotency_key, reread, held)
        _log.info(
            "batch_submitted",
            batch_id=str(result.batch_id),
            ao_id=ao_id,
            submitted_by=str(principal),
            key_id=principal.key_id,
            format=fmt.value,
            records=prepared.record_count,
            chunks=prepared.chunk_count,
            size_bytes=prepared.size_bytes,
            status=result.status.value,
            replay=result.replay,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return result

    async def _read(
        self,
        content: bytes,
        fmt: BatchFormat,
        principal: Principal,
        received_at: datetime,
        sha256: str,
        size: int,
        identity: BatchIdentity | None = None,
    ) -> tuple[PreparedBatch, bool]:
        """The batch prepared to go out (as a new batch, or as `identity`), and whether some of its
        records are sealed under its own key. Raises BatchRefused or NotAllowedToSubmit."""
        parsed, new = await asyncio.to_thread(self._parse, content, fmt, principal, received_at)
        identity = identity or new
        encoded, batch_keyed = await self._sealed(parsed.records, identity)
        return await asyncio.to_thread(self._prepare, parsed, identity, encoded, sha256, size), batch_keyed

    async def _reread(
        self, content: bytes, fmt: BatchFormat, principal: Principal, sha256: str, size: int, identity: BatchIdentity
    ) -> PreparedBatch:
        """The batch sealed again as the stored batch `identity`: its own key is named by its id."""
        async with self._reading:
            prepared, _ = await self._read(content, fmt, principal, identity.received_at, sha256, size, identity)
        return prepared

    def _parse(
        self, content: bytes, fmt: BatchFormat, principal: Principal, received_at: datetime
    ) -> tuple[ParsedBatch, BatchIdentity]:
        """Raises BatchRefused or NotAllowedToSubmit. The day received is England's, as RV008 reads it."""
        parsed = parse_batch(content, fmt, received_on=received_at.astimezone(ENGLAND).date())
        identity = BatchIdentity(
            self._new_id(), self._authorised_ao(principal, parsed), str(principal), received_at, principal.key_id
        )
        return parsed, identity

    async def _sealed(self, records: Sequence[SubmittedRecord], identity: BatchIdentity) -> tuple[list[bytes], bool]:
        """The records with their personal fields sealed, encoded as they stand in their chunks, and
        whether the batch's own key sealed some of them (records that name no learner), part by
        part: one keyring call per part (every learner's key, created where the learner is new), the next
        part's made while this one is sealed, so the key store's round trips overlap sealing instead of
        coming before it. A part's sealed records are encoded at once, so they and its keys are let go
        young instead of being held, and scanned by the garbage collector, until the whole batch is
        sealed. A parsed batch has records (RS006 otherwise). Raises BatchRefused (a record too large)."""
        parts = [records[start : start + _SEALING_PART] for start in range(0, len(records), _SEALING_PART)]
        encoded: list[bytes] = []
        batch_keyed = False
        next_keys = asyncio.create_task(self._learner_keys(parts[0], identity))
        try:
            for index, part in enumerate(parts):
                keys = await next_keys
                if index + 1 < len(parts):
                    next_keys = asyncio.create_task(self._learner_keys(parts[index + 1], identity))
                batch_keyed = batch_keyed or UNKEYED_RECORDS in keys
                encoded += await asyncio.to_thread(_sealed_and_encoded, part, keys)
                del keys
        finally:
            next_keys.cancel()  # a part that failed leaves the next part's keys unwanted
        return encoded, batch_keyed

    async def _learner_keys(self, records: Sequence[SubmittedRecord], identity: BatchIdentity) -> KeyLookup:
        """The part's learners' keys, and under UNKEYED_RECORDS the batch's own key if it needs it: for a
        record that names no learner (issued in the same call), or one of an erased learner with details to
        seal (issued in a second call, only when the answer holds one: the keyring alone knows who is erased).
        Validation looks for the key, and destroys it, only when some record's details are sealed under it."""
        name = batch_key_name(identity.batch_id)
        try:
            keys = await self._keyring.issue(names_to_issue(records, identity.batch_id))
            # ERASED is the keyring's one answer for an erased learner: found by identity, in C (~2,000 keys), so
            # the records are read again only when the answer holds one
            if ERASED in keys.values() and name not in keys and erased_learners_details(records, keys):
                keys.update(await self._keyring.issue([name]))
        except KeyringUnavailable as error:
            _log.warning("batch_keys_unavailable", ao_id=identity.ao_id, error=str(error))
            raise
        batch_key = keys.pop(name, None)
        if batch_key is not None:
            keys[UNKEYED_RECORDS] = batch_key
        return keys

    def _prepare(
        self, parsed: ParsedBatch, identity: BatchIdentity, encoded: Sequence[bytes], sha256: str, size: int
    ) -> PreparedBatch:
        """Encodes the batch around its records, sealed and encoded already."""
        return prepare_encoded(
            identity,
            parsed.header,
            encoded,
            parsed.format,
            sha256=sha256,
            size_bytes=size,
            max_records=self._chunk_limits.records,
            max_bytes=self._chunk_limits.bytes,
        )

    def _authorised_ao(self, principal: Principal, parsed: ParsedBatch) -> str:
        try:
            return batch_ao_for(principal, parsed.header.awarding_organisation)
        except NotAllowedToSubmit:
            named = parsed.header.awarding_organisation
            # Whatever the header holds is logged only when it is an AO id: a mis-columned file may put a name there.
            header_ao = named if _AO_ID.fullmatch(named) else "(not an AO id)"
            _log.warning("batch_forbidden", submitted_by=str(principal), header_ao=header_ao)
            raise

    async def stored(self, ao_id: str, *, idempotency_key: str | None, sha256: str) -> StoredBatch | None:
        """The AO's stored batch a submission is answered from (a replay, or a retry that publishes it), or None
        for a new batch: the key's batch when a key is sent (whatever its file: `sha256` is not read), else the
        batch of the same file."""
        stored = await self._repository.find_by_dedup(ao_id, dedup_key(idempotency_key, sha256))
        if stored is None and idempotency_key is None:
            # The identical file is recognised whether or not its first batch came with a key (README, the API's
            # description): an operator's keyless resend of what the AO's client sent under a key is a replay, not
            # a second judgement. A key names a request, so a keyed file never answers as an earlier keyless one.
            stored = await self._repository.find_by_content(ao_id, sha256)
        return stored

    async def _accept(
        self,
        prepared: PreparedBatch,
        idempotency_key: str | None,
        reread: Callable[[BatchIdentity], Awaitable[PreparedBatch]] | None,
        held: Callable[[], Awaitable[object | None]] | None = None,
    ) -> SubmitResult:
        """`reread` seals the batch again as another batch id (None when no record is under its own key).

        The same file (or key) sent again is answered with its stored batch (a replay), and nothing is published,
        except: a batch Kafka never took (`received`) is published now, and so is one still `accepted`, not decided
        yet, while no maintenance window or pause holds the batches (`held`). That one's messages may be gone from
        the submitted topic, which keeps them 7 days: a decider stopped, or crash-looping, for longer never read them
        (the exhaust walk, finding 1), and sending the file again is the AO's way to have it decided. Published
        again under the same id, it is decided once: validation stores a batch's decision by its id, and a copy it
        reads of a batch decided already is passed over (`batch_decided_already`). A batch held by maintenance is
        waiting, not lost, and one being validated or decided is answered as it stands."""
        ao_id = prepared.identity.ao_id
        dedup = dedup_key(idempotency_key, prepared.sha256)
        stored = await self.stored(ao_id, idempotency_key=idempotency_key, sha256=prepared.sha256)
        if stored is None:
            if await self._repository.insert_received(prepared, idempotency_key=idempotency_key, dedup_key=dedup):
                return await _shielded(self._publish(prepared, replay=False))
            stored = await self._repository.find_by_dedup(ao_id, dedup)
            if stored is None:  # the row that won the race is gone again: nothing to replay
                raise SubmissionInProgress("A submission with the same key changed under this one; send it again.")
        if is_key_reused_for_other_content(idempotency_key, stored.content_sha256, prepared.sha256):
            raise IdempotencyKeyReused(
                f"Idempotency-Key {idempotency_key!r} was used for batch {stored.batch_id}, whose file differs"
                " from this one. Use a new key for a new file.",
                stored.batch_id,
            )
        if stored.status is BatchStatus.RECEIVED:
            # An earlier attempt stored the batch but Kafka never took it: publish it now, same id.
            again = BatchIdentity(stored.batch_id, ao_id, stored.submitted_by or "", stored.received_at)
            prepared = prepared.for_identity(again) if reread is None else await reread(again)
            return await _shielded(self._publish(prepared, replay=True))
        if stored.status is BatchStatus.ACCEPTED and (held is None or await held() is None):
            again = BatchIdentity(stored.batch_id, ao_id, stored.submitted_by or "", stored.received_at)
            prepared = prepared.for_identity(again) if reread is None else await reread(again)
            try:
                return await _shielded(self._publish(prepared, replay=True, undecided_again=True))
            except PublishFailed:
                # Kafka away: the batch is accepted still, answered as it stands (not "nothing was accepted")
                pass
        metrics.IDEMPOTENT_REPLAYS.inc()
        return SubmitResult(stored.batch_id, stored.status, replay=True)

    async def _publish(self, prepared: PreparedBatch, *, replay: bool, undecided_again: bool = False) -> SubmitResult:
        """Answered within the publish timeout, waiting behind other submissions of this process included.
        `undecided_again`: an `accepted` batch not decided yet is published again (`_accept`), as it still is when
        its row is claimed."""
        batch_id = prepared.identity.batch_id
        published = False
        deadline = asyncio.get_running_loop().time() + self._publish_timeout
        async with self._turn(batch_id, deadline):
            try:
                async with self._repository.claim(batch_id, lock_timeout_seconds=self._row_lock_timeout) as claim:
                    publishable = claim.batch.status is BatchStatus.RECEIVED or (
                        undecided_again and claim.batch.status is BatchStatus.ACCEPTED
                    )
                    if not publishable:
                        # A racing retry published it first (or validation took it up meanwhile); the request that
                        # stored the row is still the original, the others are replays.
                        if replay:
                            metrics.IDEMPOTENT_REPLAYS.inc()
                        return SubmitResult(batch_id, claim.batch.status, replay=replay)
                    started = time.perf_counter()
                    try:
                        await self._publisher.publish(
                            self._topic,
                            prepared.identity.ao_id.encode(),
                            prepared.values,
                            within=deadline - asyncio.get_running_loop().time(),
                        )
                    except PublishUnavailable:
                        metrics.PUBLISH_SECONDS.labels("failed").observe(time.perf_counter() - started)
                        raise
                    published = True
                    metrics.PUBLISH_SECONDS.labels("published").observe(time.perf_counter() - started)
                    if claim.batch.status is not BatchStatus.RECEIVED:  # an accepted batch, published again
                        metrics.IDEMPOTENT_REPLAYS.inc()
                        _log.warning(
                            "batch_published_again",
                            batch_id=str(batch_id),
                            ao_id=prepared.identity.ao_id,
                            received_at=claim.batch.received_at.isoformat(),
                            records=prepared.record_count,
                        )
                        return SubmitResult(batch_id, BatchStatus.ACCEPTED, replay=True)
                    await claim.mark_accepted()
            except ClaimTimeout:
                raise SubmissionInProgress(
                    f"Batch {batch_id} is being published by another request; ask again in a moment.", batch_id
                ) from None
            except PublishUnavailable as error:
                metrics.PUBLISH_FAILURES.inc()
                _log.warning("batch_publish_failed", batch_id=str(batch_id), error=str(error))
                raise PublishFailed(batch_id, str(error)) from error
            except (asyncpg.PostgresError, OSError) as error:
                if not published:
                    raise
                # Kafka has the batch; only our note of it failed. The batch is accepted all the same.
                _log.error("batch_accepted_not_recorded", batch_id=str(batch_id), error=type(error).__name__)
                await _try(self._repository.mark_accepted(batch_id))
        metrics.BATCHES_ACCEPTED.labels(prepared.format.value).inc()
        metrics.RECORDS_PUBLISHED.inc(prepared.record_count)
        return SubmitResult(batch_id, BatchStatus.ACCEPTED, replay=replay)

    @contextlib.asynccontextmanager
    async def _turn(self, batch_id: uuid.UUID, deadline: float) -> AsyncIterator[None]:
        """This process's publishing slot; PublishFailed when earlier batches hold it past the deadline."""
        try:
            async with asyncio.timeout_at(deadline):
                await self._lock.acquire()
        except TimeoutError:
            metrics.PUBLISH_FAILURES.inc()
            _log.warning("batch_publish_failed", batch_id=str(batch_id), error="earlier batches held the publisher")
            raise PublishFailed(batch_id, "earlier batches held the publisher for the whole time limit") from None
        try:
            yield
        finally:
            self._lock.release()

    async def _refused(
        self,
        principal: Principal,
        ao_id: str | None,
        refusal: BatchRefused,
        fmt: BatchFormat | None,
        size: int | None,
        sha256: str | None,
        idempotency_key: str | None,
    ) -> BatchRefusedError | SubmitResult:
        """The refusal filed as a new batch; or, under an Idempotency-Key of the AO's, the key's answer. A key that
        names a batch (not a refusal: a refused file does not hold its key) answers once: IdempotencyKeyReused for
        another file, refused or not, and nothing is filed; that batch again (a replay) for its own file, refused
        now. A key whose same file was refused before answers that refusal again (`replay`), filing nothing.
        Otherwise (a new refusal, or another file under a key only refusals used) it is filed as before. An
        operator's refusal is filed under no AO (`caller_ao`), whose keys these are, so it is filed each time."""
        keyed = refusal_key(idempotency_key, sha256) if idempotency_key is not None and ao_id is not None else None
        if keyed is not None and ao_id is not None:
            # a batch stored under the key between this look-up and the refusal's insert came after this refusal,
            # as if sent after it: a corrected file under a key only a refusal used is a new batch
            held = await self._repository.find_by_dedup(ao_id, dedup_key(idempotency_key, ""))
            if held is not None:
                if sha256 is not None and not is_key_reused_for_other_content(
                    idempotency_key, held.content_sha256, sha256
                ):
                    metrics.IDEMPOTENT_REPLAYS.inc()
                    return SubmitResult(held.batch_id, held.status, replay=True)
                raise IdempotencyKeyReused(
                    f"Idempotency-Key {idempotency_key!r} was used for batch {held.batch_id}, whose file differs"
                    " from this one. Use a new key for a new file.",
                    held.batch_id,
                )
        batch_id = self._new_id()
        earlier = await self._repository.insert_refused(
            batch_id,
            ao_id=ao_id,
            submitted_by=str(principal),
            submitted_with_key=principal.key_id,
            refusal=Refusal(refusal.code.value, refusal.detail, refusal.line, refusal.column),
            batch_reference=refusal.batch_reference,
            fmt=fmt,
            size_bytes=size,
            sha256=sha256,
            idempotency_key=idempotency_key,
            refusal_key=keyed,
        )
        if earlier is not None:
            return self._refused_before(principal, ao_id, earlier)
        metrics.BATCHES_REFUSED.labels(refusal.code.value).inc()
        _log.info(
            "batch_refused",
            batch_id=str(batch_id),
            ao_id=ao_id,
            submitted_by=str(principal),
            code=refusal.code.value,
            line=refusal.line,
            column=refusal.column,
            format=fmt.value if fmt else None,
            size_bytes=size,
        )
        return BatchRefusedError(batch_id, refusal, fmt)

    @staticmethod
    def _refused_before(principal: Principal, ao_id: str | None, earlier: StoredRefusal) -> BatchRefusedError:
        """The refusal filed for the same file under the same key, answered again as it was."""
        stored = earlier.refusal
        refusal = BatchRefused(BatchCode(stored.code), stored.detail, stored.line, stored.column)
        fmt = BatchFormat(earlier.format) if earlier.format else None
        metrics.IDEMPOTENT_REPLAYS.inc()
        _log.info(
            "batch_refusal_replayed",
            batch_id=str(earlier.batch_id),
            ao_id=ao_id,
            submitted_by=str(principal),
            code=stored.code,
        )
        return BatchRefusedError(earlier.batch_id, refusal, fmt, replay=True)


def _sealed_and_encoded(records: Sequence[SubmittedRecord], keys: KeyLookup) -> list[bytes]:
    return carried(records, sealed_encoded_records(records, keys))


async def _shielded(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs `coroutine` to its end even if the request is cancelled (the client went away), so a batch
    is never left half-published by a disconnect."""
    task = asyncio.ensure_future(coroutine)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return await asyncio.shield(task)


async def _try(coroutine: Coroutine[Any, Any, Any]) -> None:
    try:
        await coroutine
    except (asyncpg.PostgresError, OSError) as error:
        _log.error("batch_accepted_not_recorded_again", error=type(error).__name__)


class NotAllowedToRead(Exception):
    """The caller may not read the batches it asked for. The HTTP edge (`ingest.api`) answers 403."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def scope_for(principal: Principal, requested_ao: str | None = None) -> str | None:
    """The AO whose batches the caller may see: None means every AO (operators only)."""
    if principal.is_operator:
        return requested_ao
    if principal.kind is not PrincipalKind.AO:
        raise NotAllowedToRead(f"Batches are not open to {principal.kind.value} callers.")
    if requested_ao is not None and requested_ao != principal.id:
        raise NotAllowedToRead("An awarding organisation sees only its own batches.")
    return principal.id


class DecisionSignal:
    """Wakes long-polling readers when the outcome consumer stored something (in this process)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def next_change(self) -> asyncio.Event:
        """Take it before reading the state, then wait on it: no notification falls in between."""
        return self._event


async def wait_until_decided(
    repository: BatchRepository, signal: DecisionSignal, batch_id: uuid.UUID, timeout: float
) -> None:
    """Returns once the batch is completed, failed, abandoned or refused, or after `timeout` seconds.

    Polls the database at least every half second too: the consumer that stores the outcome may run
    in another replica.
    """
    deadline = time.monotonic() + timeout
    while True:
        change = signal.next_change()
        status = await repository.status_of(batch_id)
        remaining = deadline - time.monotonic()
        if status is None or status in DECIDED_STATUSES or remaining <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(change.wait(), min(remaining, 0.5))
