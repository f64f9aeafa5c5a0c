"""The projector's `batch_events_projected` line names a step's one batch as `batch_id`, the field the other services'
lines name a batch by, so a log query on `batch_id` finds it; a step of several batches names them in `batches`
only (sre walk, finding 4)."""

from __future__ import annotations

import uuid

from structlog.testing import capture_logs

from lrs_contracts.topics import PLR_EVENTS
from plr_projector.projection import BatchChanges

from .runners import live_runner


def _decided(*batches: uuid.UUID) -> BatchChanges:
    changes = BatchChanges()
    for number, batch in enumerate(batches):
        changes.marks[(batch, 0)] = (4_000 + number, 812)
        changes.batch_outcomes[(batch, "applied")] = 12 // len(batches)
    changes.outcomes[(PLR_EVENTS.name, "applied")] = 12
    return changes


def test_a_step_of_one_batch_names_it_as_batch_id_and_in_batches() -> None:
    batch = uuid.uuid4()

    with capture_logs() as logs:
        live_runner().account(_decided(batch), 0.05)

    (said,) = [log for log in logs if log["event"] == "batch_events_projected"]
    assert said["batch_id"] == str(batch)
    assert said["batches"] == [str(batch)]
    assert (said["consumer"], said["events"], said["log_level"]) == ("plr-projector.plr", 12, "info")


def test_a_step_of_several_batches_names_them_in_batches_only() -> None:
    first, second = sorted((uuid.uuid4(), uuid.uuid4()), key=str)

    with capture_logs() as logs:
        live_runner().account(_decided(second, first), 0.05)

    (said,) = [log for log in logs if log["event"] == "batch_events_projected"]
    assert "batch_id" not in said
    assert said["batches"] == [str(first), str(second)]
