"""A batch of which one learner's events are parked (their stream held behind a poison, or an event of the batch
refused) is applied for every other learner: an `after_batch` read then says how many of the batch's events the
projector holds (`consistency.batch_events_held`), so that the portal's batch page does not say all its records
are on learners' records. An AO (its own batch) and an operator learn the whole batch's count; a learner or a
provider only what is held under the ULNs of the PLR read, never another learner's (decision 0003)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.projector import (
    LEARNERS,
    PLR,
    App,
    Events,
    Record,
    envelope_bytes,
    linked,
    project,
    record,
    registered,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.plr import AchievementRecorded
from lrs_contracts.registry import encode, wrap
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, ReadModel

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
PROVIDER = "provider:10004242"


def _malformed(valid: bytes) -> bytes:
    """The event without its grade: its contract refuses it, its provenance still names its batch."""
    document = json.loads(valid)
    del document["data"]["data"]["grade"]
    return json.dumps(document).encode()


def _consistency(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    consistency: dict[str, Any] = answer.json()["consistency"]
    return consistency


async def test_an_after_batch_read_counts_the_batch_s_events_held_as_the_reader_may_see_them(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    suffix = uuid.uuid4().int % 1_000_000
    held, partly, applied, unrelated = (uln_for(suffix + n) for n in range(4))
    earlier, batch = Events(), Events()  # two batches of one AO
    # One partition: the held learner's stream must not hold up the others'.
    records = [
        *(record(registered(uln), uln, topic=LEARNERS, partition=0) for uln in (held, partly, applied)),
        record(linked(applied, PROVIDER), applied, topic=LEARNERS, sequence=1, partition=0),
        # an earlier batch's poison holds the learner's stream: the batch's event for them waits behind it
        Record(PLR, held, _malformed(envelope_bytes(earlier.updated(held, grade="8"), sequence=1)), 0),
        record(batch.recorded(held, grade="6"), held, sequence=2, partition=0),
        record(batch.recorded(partly, grade="5"), partly, sequence=3, partition=0),
        # the batch's own event refused by its contract: parked undecoded, its bytes name the batch
        Record(PLR, partly, _malformed(envelope_bytes(batch.updated(partly, grade="6"), sequence=4)), 0),
        record(batch.recorded(applied, grade="7"), applied, sequence=5, partition=0),
    ]
    await project(app, kafka_bootstrap, prefix, records)
    after = {"after_batch": str(batch.batch_id), "wait_ms": 20_000}

    # the AO owns the batch: the whole batch's count, whichever learner it reads (the portal's probe reads none)
    for uln in (applied, unrelated):
        ao = _consistency(await app.get(f"ao:{batch.ao_id}", "/v1/ao/achievements", uln=uln, **after))
        assert ao["batch_events_held"] == 2, ao
    on_plr = _consistency(await app.get(f"ao:{batch.ao_id}", f"/v1/learners/{applied}/plr", **after))
    assert (on_plr["batch_events_applied"], on_plr["batch_events_held"]) == (1, 2)
    operator = _consistency(await app.get(OPERATOR, f"/v1/learners/{applied}/plr", **after))
    assert operator["batch_events_held"] == 2
    named = _consistency(await app.get(OPERATOR, "/v1/ao/achievements", uln=unrelated, ao_id=batch.ao_id, **after))
    assert named["batch_events_held"] == 2

    # a learner learns only what is held on their own record, never another learner's
    own = _consistency(await app.get(f"learner:{partly}", f"/v1/learners/{partly}/plr", **after))
    assert (own["batch_events_applied"], own["batch_events_held"]) == (1, 1)
    other = _consistency(await app.get(f"learner:{applied}", f"/v1/learners/{applied}/plr", **after))
    assert (other["batch_events_applied"], other["batch_events_held"]) == (1, 0)
    provider = _consistency(await app.get(PROVIDER, f"/v1/learners/{applied}/plr", **after))
    assert provider["batch_events_held"] == 0
    # the held learner's PLR has nothing of the batch: as for an unknown batch (decision 0003), no count
    nothing = await app.get(f"learner:{held}", f"/v1/learners/{held}/plr", after_batch=str(batch.batch_id), wait_ms=300)
    assert (nothing.status_code, nothing.json()["code"]) == (503, "PROJECTION_PENDING"), nothing.text


async def test_events_parked_before_the_migration_name_no_batch_and_the_count_reads_an_index(
    fresh_database_url: str,
) -> None:
    async with migrated_connection(fresh_database_url, LIVE_SCHEMA, MIGRATIONS) as connection:
        model = ReadModel(LIVE_SCHEMA)
        batch = uuid.uuid4()
        await connection.execute(
            f'INSERT INTO "{LIVE_SCHEMA}".parked (topic, partition, "offset", park_key, reason, event_id,'
            " kafka_timestamp_ms, batch_id) VALUES ($1, 0, 1, 'u1', 'error', $2, 0, $3),"
            " ($1, 0, 2, 'u1', 'blocked', $2, 0, $3), ($1, 0, 3, 'u2', 'blocked', NULL, 0, $3),"
            " ($1, 0, 4, 'u3', 'blocked', NULL, 0, NULL)",
            PLR,
            uuid.uuid4(),
            batch,
        )
        # a copy of an event in the log counts once; a row parked before migration 0008 names no batch
        assert await model.batch_events_held(connection, batch) == 2
        assert await model.batch_events_held(connection, batch, ["u2", "u3"]) == 1
        assert await model.batch_events_held(connection, batch, ["u3"]) == 0
        assert await _plan(connection, model, batch) == []


async def _plan(connection: asyncpg.Connection, model: ReadModel, batch: uuid.UUID) -> list[str]:
    """The lines of the count's plan that scan the parked table whole."""
    planned: list[str] = []

    class Planner:
        async def fetchval(self, query: str, *args: Any) -> int:
            rows = await connection.fetch(f"EXPLAIN {query}", *args)
            planned.extend(row[0] for row in rows)
            return 0

    await connection.execute("SET enable_seqscan = off")
    await model.batch_events_held(Planner(), batch)
    await model.batch_events_held(Planner(), batch, ["u1"])
    assert planned
    return [line for line in planned if "Seq Scan on parked" in line]


class _LogLines:
    """Stands in for the consumer's logger (`capture_logs` cannot see a logger the projector's set-up cached on
    first use): the lines it was given."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def __getattr__(self, level: str) -> Any:
        def log(event: str, **fields: Any) -> None:
            self.lines.append({"event": event, "log_level": level, **fields})

        return log

    def of(self, event: str, batch: uuid.UUID | None = None) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines
            if line["event"] == event and (batch is None or str(batch) in line.get("batches", [line.get("batch_id")]))
        ]


async def test_a_batch_followed_through_the_logs_and_the_dead_letters_shows_its_held_event(
    projector: tuple[App, str], kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Incident walk, finding 2: the held event of a batch is logged `message_held` with its batch (not counted as
    projected), the dead letters list its batch, and the skip of another batch's poison that releases it counts
    neither the poison into the batch's `batch_events_projected` nor the batch's event as anything but applied."""
    from plr_projector import consumer

    lines = _LogLines()
    monkeypatch.setattr(consumer, "_log", lines)
    app, prefix = projector
    suffix = uuid.uuid4().int % 1_000_000
    held, applied = uln_for(suffix), uln_for(suffix + 1)
    sample, morning = Events(), Events()
    records = [
        *(record(registered(uln), uln, topic=LEARNERS, partition=0) for uln in (held, applied)),
        # the drill's poison: SAMPLE's event without its grade, on the held learner's stream
        Record(PLR, held, _malformed(_decided(sample.recorded(held, grade="8"), 1)), 0),
        Record(PLR, held, _decided(morning.recorded(held, grade="6"), 2), 0),
        Record(PLR, applied, _decided(morning.recorded(applied, grade="7"), 3), 0),
    ]
    await project(app, kafka_bootstrap, prefix, records)

    # a step's line is logged once its transaction is committed, a moment after the offsets `project` waits for
    projected = await eventually(_counted(lines, morning.batch_id, 2), within=10, what="the batch's step logged")
    assert sum(line["events"] for line in projected) == 1
    assert sum(line["held"] for line in projected) == 1
    (held_line,) = lines.of("message_held")
    assert held_line["batch_id"] == str(morning.batch_id)
    assert held_line["uln"] == f"******{held[-4:]}" and held not in json.dumps(held_line)
    assert held_line["event_id"] and held_line["topic"] == PLR

    listed = await app.get(OPERATOR, "/v1/admin/dlq", learner=held)
    assert listed.status_code == 200, listed.text
    assert [(row["reason"], row["batch_id"]) for row in listed.json()["parked"]] == [
        ("error", str(sample.batch_id)),
        ("blocked", str(morning.batch_id)),
    ]

    lines.lines.clear()
    skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{held}/skip", {"reason": "the drill's poison"})
    assert skipped.status_code == 200, skipped.text
    (released,) = await eventually(_counted(lines, morning.batch_id, 1), within=10, what="the skip's step logged")
    assert (released["events"], released["held"], released["parked"], released["skipped"]) == (1, 0, 0, 0)
    assert not lines.of("batch_events_projected", sample.batch_id)  # the skipped poison's batch applied nothing


def _counted(lines: _LogLines, batch: uuid.UUID, events: int) -> Callable[[], Awaitable[list[dict[str, Any]] | None]]:
    """The batch's `batch_events_projected` lines once they account for `events` of its events, else None."""

    async def probe() -> list[dict[str, Any]] | None:
        said = lines.of("batch_events_projected", batch)
        counted = sum(line["events"] + line["held"] + line["parked"] + line["skipped"] for line in said)
        return said if counted >= events else None

    return probe


def _decided(payload: AchievementRecorded, sequence: int) -> bytes:
    """The event as validation writes a batch's decision (its source marks the batch's events, whose steps the
    projector logs as `batch_events_projected`)."""
    return encode(
        wrap(
            payload,
            source="validation",
            correlation_id=str(payload.provenance.batch_id),
            event_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{payload.model_dump_json()}|{sequence}"),
            occurred_at=datetime(2024, 6, 1, 9, 0, tzinfo=UTC) + timedelta(seconds=sequence),
        )
    )
