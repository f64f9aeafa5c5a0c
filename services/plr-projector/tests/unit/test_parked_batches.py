"""A parked event of a PLR batch names its batch (migration 0008): an `after_batch` read counts the batch's events
held (`batch_events_held`), whether the event was decoded (its provenance), refused by its contract or parked
undecoded (what its bytes name), or held behind another batch's poison. Nothing else names a batch."""

from __future__ import annotations

import json
import uuid

from lrs_contracts.learner import LearnerSharingChanged
from lrs_contracts.registry import encode, wrap
from plr_projector.projection import LEARNER_TOPIC, PLR_TOPIC, Snapshot, batch_of, peek_batch_id
from plr_projector.store import BULK_COLUMNS, parked_row

from .log_messages import ULN, event_value, log_message, project, recorded

BATCH = uuid.UUID(int=7)


def test_a_parked_batch_event_names_its_batch_as_its_provenance_gives_it() -> None:
    poison = log_message(PLR_TOPIC, ULN, b"garbage", 0)
    held = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7), 1), 1)

    changes = project([poison, held])

    assert [(parked.reason, parked.batch_id) for parked in changes.parked] == [("error", None), ("blocked", BATCH)]


def test_an_event_its_contract_refuses_still_names_the_batch_its_bytes_give() -> None:
    document = json.loads(event_value(recorded(batch=7), 0))
    del document["data"]["data"]["grade"]
    refused = log_message(PLR_TOPIC, ULN, json.dumps(document).encode(), 0)

    (parked,) = project([refused]).parked

    assert (parked.reason, parked.batch_id) == ("error", BATCH)
    assert batch_of(refused, None) == BATCH  # as the consumer parks an event whose write failed, undecoded


def test_an_event_held_behind_an_earlier_batch_s_poison_names_its_own_batch() -> None:
    later = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7), 3), 3)

    (parked,) = project([later], Snapshot(parked_streams={(PLR_TOPIC, ULN): (0, 1)})).parked

    assert (parked.reason, parked.batch_id) == ("blocked", BATCH)


def test_no_other_event_names_a_batch() -> None:
    sharing = encode(wrap(LearnerSharingChanged(uln=ULN, ability_to_share=1), source="t", correlation_id="c"))
    on_learners = log_message(LEARNER_TOPIC, ULN, event_value(recorded(batch=7), 0), 0)

    assert batch_of(log_message(LEARNER_TOPIC, ULN, sharing, 0), None) is None
    assert batch_of(on_learners, None) is None  # bytes that name a batch, on a topic that carries none
    for value in (None, b"", b"garbage", b"[1]", b'{"data": {"provenance": {"batch_id": "7"}}}', b'{"data": 1}'):
        assert peek_batch_id(value) is None


def test_the_live_and_the_bulk_writes_store_the_batch_in_its_column() -> None:
    (parked,) = project([log_message(PLR_TOPIC, ULN, b"garbage", 0)], Snapshot()).parked
    held = project(
        [log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7), 1), 1)],
        Snapshot(parked_streams={(PLR_TOPIC, ULN): (0, 0)}),
    ).parked[0]

    columns = BULK_COLUMNS["parked"]
    for row, batch in ((parked_row(parked), None), (parked_row(held), BATCH)):
        assert len(row) == len(columns)
        assert dict(zip(columns, row, strict=True))["batch_id"] == batch
