"""`lrs dlq history` names the batch of each projector event retried or skipped (reconcile walk, finding 1): after a
skip nothing else ties the dropped record back to its batch, which still counts it accepted."""

from __future__ import annotations

from lrs_cli.dlq_commands import actions_table

BATCH = "7f3f49f8-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
SKIP = {
    "action": "skip",
    "operator": "operator:ops",
    "reason": "restored from a backup",
    "replaced": False,
    "consumer": "plr-projector",
    "topic": "lrs.plr.events.v1",
    "partition": 2,
    "offset": 41,
    "event_id": "e-1",
    "event_type": "lrs.plr.achievement.updated.v1",
    "applied": 0,
    "skipped": 1,
    "still_parked": 0,
    "duplicates": 0,
    "acted_at": "2026-12-07T18:20:05+00:00",
    "batch_id": BATCH,
}


def test_a_projector_skip_names_its_batch_in_full_and_says_the_batch_still_counts_it() -> None:
    retried = {**SKIP, "action": "retry", "batch_id": None, "applied": 1, "skipped": 0}

    header, skipped, retry, note = actions_table([SKIP, retried]).splitlines()

    assert "batch" in header and header.index("batch") == skipped.index(BATCH)
    assert f" 2:41  {BATCH}  0 applied, 0 duplicates, 1 skipped" in skipped
    assert f" 2:41  {'-':<36}  1 applied" in retry  # an event of no batch
    assert note == (
        "A skipped event of a batch was accepted there but is not on the learner's record: the batch still counts"
        " it accepted. Tell the batch's AO."
    )


def test_another_services_history_has_no_batch_column() -> None:
    notifier = {key: value for key, value in SKIP.items() if key not in ("batch_id", "duplicates")}

    header, row = actions_table([{**notifier, "consumer": "notifier"}]).splitlines()

    assert "batch" not in header and row.endswith(" 2:41  0 applied, 1 skipped, 0 still parked; restored from a backup")
