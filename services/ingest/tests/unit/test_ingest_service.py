"""The submit use case with an in-memory repository and publisher: no database, no Kafka."""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import structlog.testing

import ingest.service
from ingest.publisher import PublishUnavailable
from ingest.repository import Refusal, StoredBatch
from ingest.sealing import sealed_encoded_records
from ingest.service import (
    BatchRefusedError,
    BatchSubmissions,
    ChunkLimits,
    DecisionSignal,
    NotAllowedToRead,
    PublishFailed,
    scope_for,
    wait_until_decided,
)
from ingest.submission import BatchStatus, IdempotencyKeyReused, NotAllowedToSubmit, PreparedBatch
from lrs_contracts.batch import (
    BatchFormat,
    BatchHeader,
    BatchRecordsSubmitted,
    BatchSubmitted,
    JobType,
    SubmittedRecord,
)
from lrs_contracts.codes import BatchCode
from lrs_contracts.registry import decode
from lrs_domain.formats import BatchRefused, ParsedBatch, write_batch, write_json
from lrs_platform.identity import Principal
from lrs_platform.keyring import ERASED, Erased, KeyLookup, KeyringUnavailable, LearnerKey, Purpose, batch_key_name

AO = Principal.parse("ao:RN5133")


@dataclass
class FakeClaim:
    repository: FakeRepository
    batch: StoredBatch

    async def mark_accepted(self) -> None:
        await self.repository.mark_accepted(self.batch.batch_id)


@dataclass
class FakeRepository:
    batches: dict[uuid.UUID, StoredBatch] = field(default_factory=dict)
    dedup: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    refusals: list[tuple[uuid.UUID, str | None, Refusal]] = field(default_factory=list)

    async def find_by_dedup(self, ao_id: str, dedup_key: str) -> StoredBatch | None:
        batch_id = self.dedup.get((ao_id, dedup_key))
        return self.batches[batch_id] if batch_id else None

    async def find_by_content(self, ao_id: str, sha256: str) -> StoredBatch | None:
        answering = (BatchStatus.RECEIVED, BatchStatus.ACCEPTED, BatchStatus.VALIDATING, BatchStatus.COMPLETED)
        found = [
            self.batches[batch_id]
            for (ao, _), batch_id in self.dedup.items()
            if ao == ao_id and self.batches[batch_id].content_sha256 == sha256
        ]
        found = [batch for batch in found if batch.status in answering]
        return max(found, key=lambda batch: batch.received_at) if found else None

    async def insert_received(self, prepared: PreparedBatch, *, idempotency_key: str | None, dedup_key: str) -> bool:
        identity = prepared.identity
        if (identity.ao_id, dedup_key) in self.dedup:
            return False
        self.dedup[(identity.ao_id, dedup_key)] = identity.batch_id
        self.batches[identity.batch_id] = StoredBatch(
            identity.batch_id,
            identity.ao_id,
            BatchStatus.RECEIVED,
            prepared.sha256,
            identity.submitted_by,
            identity.received_at,
        )
        return True

    async def insert_refused(self, batch_id: uuid.UUID, *, ao_id: str | None, refusal: Refusal, **_: Any) -> None:
        self.refusals.append((batch_id, ao_id, refusal))

    @asynccontextmanager
    async def claim(self, batch_id: uuid.UUID, *, lock_timeout_seconds: float) -> AsyncIterator[FakeClaim]:
        yield FakeClaim(self, self.batches[batch_id])

    async def mark_accepted(self, batch_id: uuid.UUID) -> None:
        batch = self.batches[batch_id]
        if batch.status is BatchStatus.RECEIVED:
            self.batches[batch_id] = replace(batch, status=BatchStatus.ACCEPTED)

    async def status_of(self, batch_id: uuid.UUID) -> BatchStatus | None:
        batch = self.batches.get(batch_id)
        return batch.status if batch else None


@dataclass
class FakePublisher:
    available: bool = True
    transactions: list[tuple[str, bytes, tuple[bytes, ...]]] = field(default_factory=list)

    async def publish(self, topic: str, key: bytes, values: Any, headers: Any = (), within: float = 5) -> None:
        if not self.available:
            raise PublishUnavailable("KafkaConnectionError: no broker")
        self.transactions.append((topic, key, tuple(values)))


@dataclass
class FakeKeyring:
    """The keyring's `issue` over a dict: a key made for each new learner, ERASED for the erased ones."""

    keys: dict[str, LearnerKey | Erased] = field(default_factory=dict)
    available: bool = True
    calls: list[set[str]] = field(default_factory=list)

    async def issue(self, ulns: Iterable[str]) -> KeyLookup:
        if not self.available:
            raise KeyringUnavailable("the learner key store cannot be reached")
        wanted = set(ulns)
        self.calls.append(wanted)
        for uln in wanted:
            self.keys.setdefault(uln, LearnerKey(uln, secrets.token_bytes(32)))
        return {uln: self.keys[uln] for uln in wanted}


def batch_file(ao_id: str = "RN5133", records: int = 3, reference: str = "REF") -> bytes:
    header = BatchHeader(
        awarding_organisation=ao_id,
        job_type=JobType.FINAL,
        notification_email="a@example.org",
        batch_reference=reference,
    )
    rows = tuple(SubmittedRecord(line=i + 1, uln="1000000043", grade="Pass") for i in range(records))
    return write_json(ParsedBatch(header=header, records=rows, format=BatchFormat.JSON))


def make(repository: FakeRepository, publisher: FakePublisher, keyring: FakeKeyring | None = None) -> BatchSubmissions:
    return BatchSubmissions(
        repository,  # type: ignore[arg-type]
        publisher,  # type: ignore[arg-type]
        keyring or FakeKeyring(),
        chunk_limits=ChunkLimits(2, 1_000_000),
        row_lock_timeout=1,
        publish_timeout=5,
    )


async def submit(
    service: BatchSubmissions,
    content: bytes,
    key: str | None = None,
    principal: Principal = AO,
    content_type: str = "application/json",
) -> Any:
    return await service.submit(
        principal,
        content,
        requested_format=None,
        content_type=content_type,
        content_disposition=None,
        idempotency_key=key,
    )


async def test_a_new_batch_is_published_in_one_transaction_then_accepted() -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    result = await submit(make(repository, publisher), batch_file(records=5))
    assert (result.status, result.replay) == (BatchStatus.ACCEPTED, False)
    assert repository.batches[result.batch_id].status is BatchStatus.ACCEPTED
    ((topic, key, values),) = publisher.transactions
    assert (topic, key) == ("lrs.batch.submitted.v1", b"RN5133")
    assert len(values) == 1 + 3 + 1  # submitted, chunks of at most 2 records, end marker


@pytest.mark.parametrize("content_type", ["application/json", "application/octet-stream"])
async def test_a_file_name_that_cannot_be_read_does_not_fail_the_submission(content_type: str) -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    result = await make(repository, publisher).submit(
        AO,
        batch_file(),
        requested_format=None,
        content_type=content_type,  # the format, or nothing: then the first bytes, as with no name
        content_disposition="attachment; filename*=idna''batch.json",
        idempotency_key=None,
    )
    assert result.status is BatchStatus.ACCEPTED
    assert len(publisher.transactions) == 1 and repository.refusals == []


async def test_the_same_file_or_key_again_answers_the_original_batch() -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    service = make(repository, publisher)
    first = await submit(service, batch_file())
    decided(repository, first.batch_id)  # an undecided one is published again (test_undecided_batch_sent_again.py)
    again = await submit(service, batch_file())
    assert (again.batch_id, again.replay) == (first.batch_id, True)
    keyed = await submit(service, batch_file(), key="k-1")
    assert keyed.batch_id != first.batch_id
    decided(repository, keyed.batch_id)
    keyed_again = await submit(service, batch_file(), key="k-1")
    assert (keyed_again.batch_id, keyed_again.replay) == (keyed.batch_id, True)
    assert len(publisher.transactions) == 2
    with pytest.raises(IdempotencyKeyReused) as reused:
        await submit(service, batch_file(reference="OTHER"), key="k-1")
    assert reused.value.batch_id == keyed.batch_id


def decided(repository: FakeRepository, batch_id: uuid.UUID) -> None:
    repository.batches[batch_id] = replace(repository.batches[batch_id], status=BatchStatus.COMPLETED)


@dataclass
class RacingRepository(FakeRepository):
    """Holds the request that stored the row until a racing retry has published the batch."""

    stored: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def insert_received(self, prepared: PreparedBatch, *, idempotency_key: str | None, dedup_key: str) -> bool:
        inserted = await super().insert_received(prepared, idempotency_key=idempotency_key, dedup_key=dedup_key)
        if inserted:
            self.stored.set()
            await self.gate.wait()
        return inserted


async def test_the_request_that_stored_the_batch_is_the_original_even_if_a_retry_published_it() -> None:
    repository, publisher = RacingRepository(), FakePublisher()
    service = make(repository, publisher)
    original = asyncio.create_task(submit(service, batch_file(), key="k"))
    await repository.stored.wait()
    retry = await submit(service, batch_file(), key="k")
    repository.gate.set()
    first = await original
    assert (first.batch_id, first.replay) == (retry.batch_id, False)
    assert retry.replay is True
    assert len(publisher.transactions) == 1


async def test_kafka_away_accepts_nothing_and_a_retry_publishes_the_same_batch() -> None:
    repository, publisher = FakeRepository(), FakePublisher(available=False)
    service = make(repository, publisher)
    with pytest.raises(PublishFailed) as failed:
        await submit(service, batch_file())
    batch_id = failed.value.batch_id
    assert repository.batches[batch_id].status is BatchStatus.RECEIVED
    assert publisher.transactions == []

    publisher.available = True
    retried = await submit(service, batch_file())
    assert (retried.batch_id, retried.status, retried.replay) == (batch_id, BatchStatus.ACCEPTED, True)
    ((_, _, values),) = publisher.transactions
    envelope, _ = decode(values[0])
    assert envelope.occurred_at == repository.batches[batch_id].received_at


async def test_a_retry_seals_the_records_that_name_no_learner_under_the_stored_batchs_own_key() -> None:
    repository, publisher, keyring = FakeRepository(), FakePublisher(available=False), FakeKeyring()
    service = make(repository, publisher, keyring)
    with pytest.raises(PublishFailed) as failed:
        await submit(service, learners_batch())
    batch_id = failed.value.batch_id

    publisher.available = True
    retried = await submit(service, learners_batch())
    assert (retried.batch_id, retried.replay) == (batch_id, True)
    *_, unkeyed = published_records(publisher)
    batch_key = keyring.keys[batch_key_name(batch_id)]  # the id validation finds the key by, not the retry's own
    assert isinstance(batch_key, LearnerKey) and unkeyed.personal is not None
    assert batch_key.open_json(Purpose.SUBMITTED_RECORD, unkeyed.personal)["given_name"] == "Grace"


async def test_a_refused_file_is_recorded_with_its_code_under_the_caller() -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    with pytest.raises(BatchRefusedError) as refused:
        await submit(make(repository, publisher), b'{"header": {"awardingOrganisation": "RN5133"}, "records": []}')
    assert refused.value.refusal.code is BatchCode.BAD_NOTIFICATION_EMAIL
    ((batch_id, ao_id, refusal),) = repository.refusals
    assert (batch_id, ao_id, refusal.code) == (refused.value.batch_id, "RN5133", "RS007")
    assert publisher.transactions == []


async def test_an_unread_body_is_recorded_as_rs002() -> None:
    repository = FakeRepository()
    with pytest.raises(BatchRefusedError):
        await make(repository, FakePublisher()).refuse_unread(AO, BatchRefused(BatchCode.TOO_LARGE, "big"), None)
    assert [refusal.code for _, _, refusal in repository.refusals] == ["RS002"]


@pytest.mark.parametrize(
    ("named", "logged"),
    [("RN9001", "RN9001"), ("Lily McCarthy 1999-11-27", "(not an AO id)")],
)
async def test_a_forbidden_batch_logs_its_header_ao_only_when_it_is_an_ao_id(named: str, logged: str) -> None:
    with structlog.testing.capture_logs() as logs, pytest.raises(NotAllowedToSubmit):
        await submit(make(FakeRepository(), FakePublisher()), batch_file(ao_id=named))
    assert [entry["header_ao"] for entry in logs if entry["event"] == "batch_forbidden"] == [logged]


async def test_a_batch_for_another_ao_is_forbidden_and_not_recorded() -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    with pytest.raises(NotAllowedToSubmit):
        await submit(make(repository, publisher), batch_file(ao_id="RN9001"))
    assert repository.batches == {} and repository.refusals == []
    operator = await submit(
        make(repository, publisher), batch_file(ao_id="RN9001"), principal=Principal.parse("operator:ops")
    )
    assert repository.batches[operator.batch_id].ao_id == "RN9001"


@pytest.mark.parametrize("fmt", list(BatchFormat))
async def test_a_header_naming_the_callers_ao_in_lower_case_is_the_callers_batch(fmt: BatchFormat) -> None:
    """`rn5133` is the AO RN5133 (as the portal and `lrs batch check` read it), not another AO's batch."""
    header = BatchHeader(awarding_organisation=" rn5133 ", notification_email="a@example.org", batch_reference="LC-1")
    rows = (SubmittedRecord(line=4, uln="1000000043", grade="Pass"),)
    content = write_batch(ParsedBatch(header=header, records=rows, format=fmt), fmt)
    repository, publisher = FakeRepository(), FakePublisher()
    result = await submit(make(repository, publisher), content, content_type="application/octet-stream")
    assert result.status is BatchStatus.ACCEPTED
    assert repository.batches[result.batch_id].ao_id == "RN5133"
    ((topic, key, values),) = publisher.transactions
    assert (topic, key) == ("lrs.batch.submitted.v1", b"RN5133")
    submitted = decode(values[0])[1]
    assert isinstance(submitted, BatchSubmitted)
    assert (submitted.ao_id, submitted.header.awarding_organisation) == ("RN5133", "RN5133")
    # an operator's batch for `rn9001` is RN9001's, not filed under an AO no key names
    for_another = header.model_copy(update={"awarding_organisation": "rn9001"})
    operator = await submit(
        make(repository, publisher),
        write_batch(ParsedBatch(header=for_another, records=rows, format=fmt), fmt),
        principal=Principal.parse("operator:ops"),
        content_type="application/octet-stream",
    )
    assert repository.batches[operator.batch_id].ao_id == "RN9001"


def test_who_sees_which_batches() -> None:
    assert scope_for(AO) == "RN5133"
    assert scope_for(AO, "RN5133") == "RN5133"
    assert scope_for(Principal.parse("operator:ops")) is None
    assert scope_for(Principal.parse("operator:ops"), "RN9001") == "RN9001"
    for principal, requested in ((AO, "RN9001"), (Principal.parse("learner:1000000043"), None)):
        with pytest.raises(NotAllowedToRead):
            scope_for(principal, requested)


async def test_waiting_for_a_decision_wakes_when_the_outcome_arrives() -> None:
    repository = FakeRepository()
    result = await submit(make(repository, FakePublisher()), batch_file())
    signal = DecisionSignal()
    waiter = asyncio.create_task(wait_until_decided(repository, signal, result.batch_id, timeout=30))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert not waiter.done()
    repository.batches[result.batch_id] = replace(repository.batches[result.batch_id], status=BatchStatus.COMPLETED)
    signal.notify()
    await asyncio.wait_for(waiter, timeout=5)


async def test_waiting_for_a_decision_gives_up_at_its_deadline() -> None:
    repository = FakeRepository()
    result = await submit(make(repository, FakePublisher()), batch_file())
    await asyncio.wait_for(wait_until_decided(repository, DecisionSignal(), result.batch_id, timeout=0.05), timeout=5)  # type: ignore[arg-type]
    assert repository.batches[result.batch_id].status is BatchStatus.ACCEPTED


def learners_batch(fmt: BatchFormat = BatchFormat.JSON) -> bytes:
    """Two learners with names and dates of birth, and one record whose ULN names no learner."""
    header = BatchHeader(awarding_organisation="RN5133", job_type=JobType.FINAL, notification_email="a@example.org")
    rows = (
        SubmittedRecord(line=1, uln="1000000043", given_name="Ada", family_name="Lovelace", date_of_birth="2006-12-10"),
        SubmittedRecord(line=2, uln="1000000051", given_name="Alan", family_name="Turing", gender="1"),
        SubmittedRecord(line=3, uln="1000000043", given_name="Ada", family_name="Lovelace", date_of_birth="2006-12-10"),
        SubmittedRecord(line=4, uln="12345", given_name="Grace", family_name="Hopper", date_of_birth="2006-12-09"),
    )
    return write_batch(ParsedBatch(header=header, records=rows, format=fmt), fmt)


CONTENT_TYPES = {BatchFormat.JSON: "application/json", BatchFormat.XML: "application/xml", BatchFormat.CSV: "text/csv"}
# a comment is outside the plain reading's grammar: expat reads this one (lrs_domain.formats.xml_batch)
NOT_PLAIN_XML = (BatchFormat.XML, b"<AchievementBatch>", b"<AchievementBatch><!-- read by expat -->")


def published_records(publisher: FakePublisher) -> list[SubmittedRecord]:
    ((_, _, values),) = publisher.transactions
    return [
        record
        for value in values
        if isinstance(chunk := decode(value)[1], BatchRecordsSubmitted)
        for record in chunk.records
    ]


@pytest.mark.parametrize(
    ("fmt", "written", "instead"),
    [*((fmt, b"", b"") for fmt in BatchFormat), NOT_PLAIN_XML],
    ids=[*(fmt.value for fmt in BatchFormat), "xml-read-by-expat"],
)
async def test_personal_fields_leave_sealed_under_each_learners_key_fetched_once_per_batch(
    fmt: BatchFormat, written: bytes, instead: bytes
) -> None:
    publisher, keyring = FakePublisher(), FakeKeyring()
    content = learners_batch(fmt).replace(written, instead, 1)
    result = await submit(make(FakeRepository(), publisher, keyring), content, content_type=CONTENT_TYPES[fmt])
    assert keyring.calls == [{"1000000043", "1000000051", batch_key_name(result.batch_id)}]
    ada, alan, ada_again, unkeyed = published_records(publisher)
    for record in (ada, alan, ada_again):
        assert (record.given_name, record.family_name, record.date_of_birth, record.gender) == (None,) * 4
        assert record.learner_erased is False
    key = keyring.keys["1000000043"]
    assert isinstance(key, LearnerKey) and ada.personal is not None
    assert key.open_json(Purpose.SUBMITTED_RECORD, ada.personal) == {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "date_of_birth": "2006-12-10",
        "gender": None,
    }
    assert alan.personal is not None and "Turing" not in alan.personal
    # a ULN that is not ten digits names no learner: sealed under the batch's own key (validation rejects it, RV001)
    batch_key = keyring.keys[batch_key_name(result.batch_id)]
    assert isinstance(batch_key, LearnerKey) and unkeyed.personal is not None and unkeyed.given_name is None
    assert batch_key.open_json(Purpose.SUBMITTED_RECORD, unkeyed.personal)["family_name"] == "Hopper"


async def test_an_erased_learners_record_goes_without_personal_fields_in_clear() -> None:
    publisher = FakePublisher()
    keyring = FakeKeyring(keys={"1000000043": ERASED})
    await submit(make(FakeRepository(), publisher, keyring), learners_batch())
    ada, alan, _, _ = published_records(publisher)
    assert (ada.learner_erased, ada.given_name, ada.date_of_birth) == (True, None, None)
    assert ada.personal is not None and "Ada" not in ada.personal  # under the batch's own key (decision 0157)
    assert (alan.learner_erased, alan.given_name) == (False, None)
    assert alan.personal is not None


async def test_the_key_store_away_accepts_nothing() -> None:
    repository, publisher = FakeRepository(), FakePublisher()
    with pytest.raises(KeyringUnavailable):
        await submit(make(repository, publisher, FakeKeyring(available=False)), learners_batch())
    assert (repository.batches, repository.refusals, publisher.transactions) == ({}, [], [])


@dataclass
class CountedKeyring(FakeKeyring):
    """Says (to another thread) when its second `issue` call came."""

    second_call: threading.Event = field(default_factory=threading.Event)

    async def issue(self, ulns: Iterable[str]) -> KeyLookup:
        lookup = await super().issue(ulns)
        if len(self.calls) == 2:
            self.second_call.set()
        return lookup


async def test_a_large_batchs_keys_are_issued_part_by_part_the_next_while_one_is_sealed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keyring, publisher = CountedKeyring(), FakePublisher()
    sealed_after_calls: list[int] = []

    def seal_once_the_next_keys_are_asked_for(records: Any, keys: KeyLookup) -> list[bytes]:
        if not sealed_after_calls:
            assert keyring.second_call.wait(timeout=20), "the second part's keys were not asked for meanwhile"
        sealed_after_calls.append(len(keyring.calls))
        return sealed_encoded_records(records, keys)

    monkeypatch.setattr(ingest.service, "sealed_encoded_records", seal_once_the_next_keys_are_asked_for)
    await submit(make(FakeRepository(), publisher, keyring), batch_file(records=4_500))
    assert sealed_after_calls[0] == 2 and len(keyring.calls) == len(sealed_after_calls) == 3
    assert len(published_records(publisher)) == 4_500


@pytest.mark.parametrize(
    ("written", "content_type", "said"),
    [
        (
            BatchFormat.CSV,
            "application/json",
            "the body is labelled application/json but looks like CSV: send it with Content-Type: text/csv",
        ),
        (
            BatchFormat.XML,
            "application/json; charset=utf-8",
            "the body is labelled application/json but looks like XML: send it with Content-Type: application/xml",
        ),
        (
            BatchFormat.JSON,
            "text/csv",
            "the body is labelled text/csv but looks like JSON: send it with Content-Type: application/json",
        ),
    ],
    ids=["csv-as-json", "xml-as-json", "json-as-csv"],
)
async def test_a_file_labelled_as_another_format_than_it_plainly_is_is_rs001_saying_how_to_send_it(
    written: BatchFormat, content_type: str, said: str
) -> None:
    """Not "malformed JSON: Expecting value" for a CSV file sent as application/json."""
    repository = FakeRepository()
    with pytest.raises(BatchRefusedError) as refused:
        await submit(make(repository, FakePublisher()), learners_batch(written), content_type=content_type)
    assert (refused.value.refusal.code, refused.value.refusal.detail) == (BatchCode.MALFORMED, said)
    assert [refusal.code for _, _, refusal in repository.refusals] == ["RS001"]


async def test_a_file_of_its_labelled_format_that_is_malformed_keeps_its_parsers_words() -> None:
    with pytest.raises(BatchRefusedError) as refused:
        await submit(make(FakeRepository(), FakePublisher()), b'{"header": ', content_type="application/json")
    assert refused.value.refusal.code is BatchCode.MALFORMED
    assert refused.value.refusal.detail.startswith("malformed JSON")
