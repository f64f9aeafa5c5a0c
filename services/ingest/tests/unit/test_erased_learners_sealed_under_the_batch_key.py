"""An erased learner's record leaves ingest marked `learner_erased`, its details sealed under the batch's own key
(decision 0157), so that validation judges them as any record's: the key is issued in a second keyring call, only
when the answer holds an erased learner whose record has details and the batch's key was not issued already."""

from __future__ import annotations

import pytest
from services.ingest.tests.unit.test_ingest_service import (
    FakeKeyring,
    FakePublisher,
    FakeRepository,
    learners_batch,
    make,
    published_records,
    submit,
)

from ingest.service import PublishFailed
from ingest.submission import BatchStatus
from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_domain.formats import ParsedBatch, write_batch
from lrs_platform.keyring import ERASED, LearnerKey, Purpose, SealBroken, batch_key_name

ADA, ALAN = "1000000043", "1000000051"


def _named_learners_only() -> bytes:
    """Two learners' records, none that names no learner: no batch key is asked for with the learners'."""
    header = BatchHeader(awarding_organisation="RN5133", job_type=JobType.FINAL, notification_email="a@example.org")
    rows = (
        SubmittedRecord(line=1, uln=ADA, given_name="Ada", family_name="Lovelace", date_of_birth="2006-13-10"),
        SubmittedRecord(line=2, uln=ALAN, given_name="Alan", family_name="Turing", gender="1"),
    )
    return write_batch(ParsedBatch(header=header, records=rows, format=BatchFormat.JSON), BatchFormat.JSON)


async def test_an_erased_learners_details_are_sealed_under_the_batchs_key_asked_for_then() -> None:
    publisher, keyring = FakePublisher(), FakeKeyring(keys={ADA: ERASED})
    result = await submit(make(FakeRepository(), publisher, keyring), _named_learners_only())
    name = batch_key_name(result.batch_id)
    assert keyring.calls == [{ADA, ALAN}, {name}]
    ada, alan = published_records(publisher)
    assert (ada.learner_erased, ada.given_name, ada.family_name, ada.date_of_birth, ada.gender) == (True,) + (None,) * 4
    batch_key = keyring.keys[name]
    assert isinstance(batch_key, LearnerKey) and ada.personal is not None
    # as the AO sent them, a bad date of birth too: validation judges them as a live learner's
    assert batch_key.open_json(Purpose.SUBMITTED_RECORD, ada.personal) == {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "date_of_birth": "2006-13-10",
        "gender": None,
    }
    alan_key = keyring.keys[ALAN]
    assert isinstance(alan_key, LearnerKey) and alan.personal is not None and not alan.learner_erased
    assert alan_key.open_json(Purpose.SUBMITTED_RECORD, alan.personal)["family_name"] == "Turing"


async def test_a_batch_naming_no_erased_learner_asks_the_keyring_once() -> None:
    keyring = FakeKeyring()
    await submit(make(FakeRepository(), FakePublisher(), keyring), _named_learners_only())
    assert keyring.calls == [{ADA, ALAN}]


async def test_the_batchs_key_issued_for_a_record_naming_no_learner_serves_an_erased_learner_too() -> None:
    publisher, keyring = FakePublisher(), FakeKeyring(keys={ADA: ERASED})
    result = await submit(make(FakeRepository(), publisher, keyring), learners_batch())
    name = batch_key_name(result.batch_id)
    assert keyring.calls == [{ADA, ALAN, name}]
    ada, _, ada_again, _ = published_records(publisher)
    batch_key = keyring.keys[name]
    assert isinstance(batch_key, LearnerKey)
    for record in (ada, ada_again):
        assert record.learner_erased and record.personal is not None
        assert batch_key.open_json(Purpose.SUBMITTED_RECORD, record.personal)["given_name"] == "Ada"


async def test_an_erased_learners_record_with_no_details_asks_for_no_batch_key() -> None:
    """Nothing of it is sealed, so validation never looks for the batch's key, nor destroys it: none is issued."""
    header = BatchHeader(awarding_organisation="RN5133", job_type=JobType.FINAL, notification_email="a@example.org")
    rows = (
        SubmittedRecord(line=1, uln=ADA, qualification_number="60303049"),
        SubmittedRecord(line=2, uln=ALAN, given_name="Alan"),
    )
    content = write_batch(ParsedBatch(header=header, records=rows, format=BatchFormat.JSON), BatchFormat.JSON)
    publisher, keyring = FakePublisher(), FakeKeyring(keys={ADA: ERASED})
    await submit(make(FakeRepository(), publisher, keyring), content)
    assert keyring.calls == [{ADA, ALAN}]
    assert not [name for name in keyring.keys if name.startswith("batch:")]
    ada, alan = published_records(publisher)
    assert ada.learner_erased and ada.personal is None
    assert not alan.learner_erased and alan.personal is not None


async def test_a_stored_batch_with_an_erased_learner_is_sealed_again_under_its_id_when_retried() -> None:
    """Its only records under its own key are an erased learner's: a retry of the batch Kafka never took goes out
    as the stored batch, sealed again under the key its id names, not under that of the id it was read as."""
    repository, publisher, keyring = FakeRepository(), FakePublisher(available=False), FakeKeyring(keys={ADA: ERASED})
    service = make(repository, publisher, keyring)
    with pytest.raises(PublishFailed) as failed:
        await submit(service, _named_learners_only())
    stored = failed.value.batch_id
    assert repository.batches[stored].status is BatchStatus.RECEIVED
    publisher.available = True
    retried = await submit(service, _named_learners_only())
    assert (retried.batch_id, retried.replay) == (stored, True)
    ada, _ = published_records(publisher)
    batch_key = keyring.keys[batch_key_name(stored)]
    assert isinstance(batch_key, LearnerKey) and ada.learner_erased and ada.personal is not None
    # what validation does with it (`open_personal`): opened with the stored batch's key, or not at all
    try:
        details = batch_key.open_json(Purpose.SUBMITTED_RECORD, ada.personal)
    except SealBroken:
        pytest.fail("the retry went out sealed under the key of an id no batch has")
    assert details["given_name"] == "Ada"
